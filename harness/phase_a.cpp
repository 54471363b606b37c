#include "harness/phase_a.h"

#include <array>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/enum_names.h"
#include "harness/command_dispatcher.h"
#include "harness/phase_a_check.h"
#include "harness/phase_a_plan.h"
#include "harness/runner_session.h"

namespace x0x::harness {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr std::array<std::pair<PairStage, std::string_view>, 6> kPairStageNames = {{
    {PairStage::delivered, ""},
    {PairStage::not_discovered, "runner not discovered"},
    {PairStage::not_delivered, "command not delivered"},
    {PairStage::send_failed, "send failed"},
    {PairStage::not_received, "not received"},
    {PairStage::result_lost, "result lost"},
}};
}  // namespace

std::string_view stage_text(PairStage s) { return name_in(kPairStageNames, s); }

std::optional<PairStage> parse_stage(std::string_view text) { return value_in(kPairStageNames, text); }

std::string PhaseAReport::verdict() const {
  return fmt::format("Phase A: {}/{} delivered", delivered_pairs, expected_pairs);
}

json PhaseAReport::to_json() const {
  json pairs_json = json::array();
  for (auto& p : pairs)
    pairs_json.push_back({{"src", p.src}, {"dst", p.dst}, {"marker", p.marker},
                          {"outcome", p.delivered() ? "delivered" : "failed"},
                          {"stage", p.delivered() ? json(nullptr) : json(stage_text(p.stage))},
                          {"detail", p.detail.empty() ? json(nullptr) : json(p.detail)},
                          {"latency_ms", p.latency_ms < 0 ? json(nullptr) : json(p.latency_ms)},
                          {"path", p.path.empty() ? json(nullptr) : json(p.path)}, {"runner_attempts", p.attempts}});
  return {{"phase_a",
           {{"expected_pairs", expected_pairs}, {"delivered_pairs", delivered_pairs}, {"verdict", verdict()},
            {"passed", passed()}, {"send_ok", send_ok}, {"received", received}, {"nodes", nodes},
            {"discovered", discovered}, {"missing", missing}, {"allow_missing", allow_missing},
            {"discover_secs", discover_secs}, {"matrix_secs", matrix_secs}, {"pairs", pairs_json}}}};
}

PhaseAReport run_phase_a(const PhaseAOptions& o, const std::function<void(const std::string&)>& progress) {
  SessionOptions so;
  so.anchor_base_url = o.anchor_base_url;
  so.anchor_token = o.anchor_token;
  so.nodes = o.nodes;
  so.discover = o.discover;
  so.republish_every = o.republish_every;
  so.no_pubsub_after_discover = o.no_pubsub_after_discover;
  RunnerSession session(so, progress);
  session.discover();

  auto t_matrix = SessionClock::now();
  // Milliseconds, not the reference's seconds: two runs in one second (verify
  // then gate, back-to-back scenarios) would reuse command ids, which runners
  // ignore as duplicates, and the second run would see no results at all.
  const auto run = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  auto plan = plan_phase_a(o.nodes, session.discovered(), session.agents(), session.anchor_aid(), run, o.allow_missing);
  auto dispatches = dispatch_commands(session, plan.commands, {o.parallel});
  std::size_t accepted = std::count_if(dispatches.begin(), dispatches.end(), [](auto& d) { return d.accepted(); });
  session.say(fmt::format("matrix: dispatched {}/{}", accepted, plan.commands.size()));

  // Settle: until every dispatched pair has its answer, or the window closes.
  std::vector<const PlannedPair*> commanded;
  for (auto& p : plan.pairs)
    if (p.command) commanded.push_back(&p);
  auto settled_count = [&](const SessionResults& r) {
    std::size_t n = 0;
    for (auto* p : commanded) n += phase_a_pair_settled(*p, dispatches[*p->command], r);
    return n;
  };
  auto deadline = SessionClock::now() + o.settle;
  while (!session.bus().wait_until(std::min(deadline, SessionClock::now() + 250ms),
                                   [&](const SessionResults& r) { return settled_count(r) == commanded.size(); })) {
    if (SessionClock::now() >= deadline) break;
    session.bus().read([&](const SessionResults& r) {
      session.say(fmt::format("matrix: {}/{} pairs complete", settled_count(r), commanded.size()));
    });
  }

  auto rep = check_phase_a(plan, dispatches, session.bus().snapshot());
  rep.discover_secs = session.discover_secs();
  rep.matrix_secs = std::chrono::duration<double>(SessionClock::now() - t_matrix).count();
  return rep;
}

}  // namespace x0x::harness
