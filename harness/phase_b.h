// Phase B: contacts and named groups over the fleet (spec mesh-protocol.md §4),
// driven through the anchor with the reference's control protocol, counted
// with the reference's labels (10N+10 checks strict, 70 for 6 nodes).
//
// Faster than the reference (one command at a time, 1 s polls): the three
// scenarios run at once, the per-node contact lifecycles and the joins run
// concurrently, and convergence is polled every 200 ms under the reference's
// deadlines. The anchor's own node is driven through its REST API directly
// (node "anchor_local"), never by a DM to itself. Every failed check names
// its stage.
//
// Generator: harness/phase_b_plan.h; pure checker: harness/phase_b_check.h;
// the session and dispatcher are Phase A's (harness/runner_session.h).
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace x0x::harness {

struct PhaseBOptions {
  std::string anchor_base_url;  // the anchor daemon's REST API
  std::string anchor_token;     // never logged
  std::string anchor;           // the anchor's node name
  std::vector<std::string> nodes;  // the inventory, anchor included
  std::chrono::milliseconds discover{45'000};
  std::chrono::milliseconds republish_every{2'000};
  std::chrono::milliseconds cmd_timeout{30'000};       // per command: DM → result
  std::chrono::milliseconds resend_after{4'000};       // no result yet: the same command again (same id)
  std::chrono::milliseconds roster_deadline{30'000};   // owner roster convergence
  std::chrono::milliseconds replies_deadline{30'000};  // every reply in the anchor's cache
  std::chrono::milliseconds commits_deadline{30'000};  // private_secure: a commit per joiner
  std::chrono::milliseconds applied_deadline{90'000};  // private_secure: a joiner applied a commit
  std::chrono::milliseconds poll_every{200};
  std::size_t parallel = 32;  // command DMs in flight
  // Joins waiting on one group's authority at once: each costs the authority a
  // signed commit and an answer with the group's whole chain, so a fleet's
  // worth at once queues past the node's join timeout.
  std::size_t joins_in_flight = 12;
  // Joiners asked at once, in inventory order, whether they retained a commit.
  std::size_t applied_poll_batch = 4;
  bool allow_skips = false;   // unreachable runners are skipped, not failed (the reference's --allow-skips)
};

// Where a check failed; `passed` when it did not.
enum class CheckStage { passed, not_discovered, not_delivered, action_error, not_converged, chain_invalid };
// "runner not discovered", "command not delivered", "action error", "not converged",
// "chain invalid"; "" for passed (the JSON and report wording).
std::string_view check_stage_text(CheckStage s);
std::optional<CheckStage> parse_check_stage(std::string_view text);

enum class CheckOutcome { pass, fail, skip };

// What part of the flow a check is about: the columns of the report's grid.
enum class CheckArea { contacts, join, roster, reply, commits };
std::string_view check_area_text(CheckArea a);  // "contacts", "join", "roster", "reply", "commits"
std::optional<CheckArea> parse_check_area(std::string_view text);
std::string_view check_outcome_text(CheckOutcome o);  // "pass", "fail", "skip"

struct PhaseBCheck {
  std::string label;  // the reference's label, e.g. "sfo joins via invite"
  std::string node;   // the node the check is about
  CheckArea area = CheckArea::join;
  CheckOutcome outcome = CheckOutcome::fail;
  CheckStage stage = CheckStage::passed;
  std::string detail;      // the node's error body, what was missing, the bad revision, ...
  double latency_ms = -1;  // the call(s) behind the check
};

struct PhaseBReport {
  std::string anchor;
  std::vector<std::string> nodes, missing;    // inventory; member runners not discovered
  std::map<std::string, std::string> runners;  // discovered member runners -> agent id
  bool allow_skips = false;
  std::vector<PhaseBCheck> checks;
  std::size_t expected_checks = 0, passed_checks = 0, failed_checks = 0, skipped_checks = 0;
  double discover_secs = 0, run_secs = 0;

  // Runners taking part: the anchor (driven directly) and the discovered member runners.
  std::size_t runner_count() const { return runners.size() + 1; }
  // The reference's exit 4: strict with a member runner missing, or fewer than 2 runners.
  bool runners_short() const;
  bool passed() const { return failed_checks == 0 && passed_checks == expected_checks && expected_checks > 0; }
  int exit_code() const;        // 0 pass, 4 runners_short, else 1
  std::string verdict() const;  // "Phase B: 70/70 checks passed"
  nlohmann::json to_json() const;  // {"phase_b": {...}}
};

// Throws (SessionError and others) when the anchor cannot be used at all.
PhaseBReport run_phase_b(const PhaseBOptions& opts, const std::function<void(const std::string&)>& progress = {});

}  // namespace x0x::harness
