// Phase B's generator (spec mesh-protocol.md §4.3–4.5): the steps of the three
// scenarios (contacts lifecycle per node, the public_open group lifecycle, the
// private_secure state-commit audit), the params the reference sends, and the
// readers of the daemon's replies (group id, invite link, roster, message
// bodies, commit chain). Pure: no session, no sockets.
//
// A run is recorded as a list of calls (PhaseBRecord); the checker
// (harness/phase_b_check.h) turns a record into the reference's checks.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/runner_session.h"

namespace x0x::harness {

// The synthetic contact every node adds, updates and removes: "ee"×32, an id no real agent has.
inline const std::string kSyntheticContact(64, 'e');
inline constexpr std::string_view kKickoffBody = "phase-b: please reply";
std::string reply_body(const std::string& member);  // "phase-b: ack from <member>"

// Every call a Phase B run makes, in scenario order.
enum class PhaseBStep {
  // scenario 1, per node (the anchor included)
  contact_add, contact_trusted, contact_blocked, contact_remove,
  // scenario 2: public_open group
  group_create, invite, join, members_self, roster_poll, kickoff, reply, own_cache, replies_poll, commits_authored,
  // scenario 3: private_secure state-commit audit
  tk_create, tk_invite, tk_join, tk_commits_poll, tk_applied_poll,
};
std::string_view step_name(PhaseBStep s);  // "contact_add", "tk_applied_poll", ...

// One call to make: `node` runs `action` (the anchor's own calls go to its REST API directly).
struct StepCall {
  PhaseBStep step;
  std::string node;
  std::string subject;  // the member an anchor-side call is about (an invite), else ""
  std::string action;
  nlohmann::json params = nlohmann::json::object();
};

// One call as it went: what the anchor said to the command DM and the runner's
// result (or, for the anchor's own calls, the result of the direct call).
struct PhaseBCall {
  PhaseBStep step;
  std::string node, subject, action;
  nlohmann::json params = nlohmann::json::object();
  bool local = false;                     // run on the anchor's API, no DM
  Dispatch dispatch{};                    // remote calls only
  std::optional<runners::Result> result{};  // none: no result arrived in time
  double latency_ms = -1;                 // dispatch → result; a poll: first call → last
  int polls = 1;                          // calls made (polls keep only the last answer)
};

// Everything a Phase B run did: the checker's whole input.
struct PhaseBRecord {
  std::string anchor, anchor_aid;
  std::vector<std::string> nodes;             // the inventory, anchor included, in order
  std::map<std::string, std::string> agents;  // discovered member runners -> agent id
  bool allow_skips = false;
  std::vector<PhaseBCall> calls;
  std::vector<std::string> crashes;           // "scenario crash: ..." (should stay empty)

  std::vector<std::string> members() const;   // nodes without the anchor, in order
  bool discovered(const std::string& node) const { return node == anchor || agents.count(node) > 0; }
  std::string agent_of(const std::string& node) const;  // "" when unknown
  // The last recorded call of `step` by `node` (about `subject`), or null.
  const PhaseBCall* find(PhaseBStep step, const std::string& node, const std::string& subject = {}) const;
};

// --- the scenarios' calls ---

// The 4 steps of scenario 1 for one node, in order.
std::vector<StepCall> contact_lifecycle(const std::string& node);
std::string_view contact_label_suffix(PhaseBStep step);  // "adds synthetic contact", ...

// group_create params: the reference's name, description and preset.
nlohmann::json group_create_params(bool treekem);

// --- readers of the daemons' replies (details of an ok result) ---

// details.group_id, else details.group.id; "" when neither is a non-empty string.
std::string group_id_of(const nlohmann::json& details);
// details.invite_link when it starts with "x0x://invite/", else "".
std::string invite_link_of(const nlohmann::json& details);
// The first list among members, member_list, participants; each entry a dict with
// agent_id/agentId, or a plain string.
std::vector<std::string> member_ids_of(const nlohmann::json& details);
// details.messages[].body (strings only).
std::vector<std::string> message_bodies_of(const nlohmann::json& details);

struct CommitEntry {
  std::optional<long long> revision;  // none: missing or not an integer
  bool roster_root_verified = false;  // true only for a JSON true
};
// details.commits[]: entry.commit.revision, entry.roster_root_verified.
std::vector<CommitEntry> commits_of(const nlohmann::json& details);

}  // namespace x0x::harness
