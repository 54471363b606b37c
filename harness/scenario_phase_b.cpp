// phase_b: contacts and named groups over the fleet (harness/phase_b.h),
// driven through the anchor, scored by the min_phase_b_checks rule on the
// checks it records (scenarios/phase_b/phase-b.json in the bundle).
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "harness/phase_b.h"
#include "harness/scenario_impl.h"
#include "harness/snapshots.h"

namespace x0x::harness::detail {

void phase_b(ScenarioContext& ctx, gates::ScenarioRun& run) {
  const auto& anchor = api_of(ctx.apis, ctx.anchor);
  PhaseBOptions po;
  po.anchor_base_url = anchor.base_url;
  po.anchor_token = anchor.token;
  po.anchor = ctx.anchor;
  po.nodes = run.nodes;
  po.discover = ctx.opts.discover;
  po.parallel = ctx.opts.phase_a_parallel;
  ctx.say(fmt::format("Phase B on {} nodes (anchor {})", po.nodes.size(), po.anchor));
  auto rep = run_phase_b(po, [&](const std::string& line) { ctx.say(line); });  // its lines say "phase B: ..."
  run.phase_b = rep.to_json()["phase_b"];
  run.metrics["phase_b_expected_checks"] = rep.expected_checks;
  run.metrics["phase_b_passed_checks"] = rep.passed_checks;
  run.metrics["phase_b_secs"] = rep.discover_secs + rep.run_secs;
  ctx.say(rep.verdict());
}

}  // namespace x0x::harness::detail
