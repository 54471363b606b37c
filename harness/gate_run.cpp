#include "harness/gate_run.h"

#include <fmt/core.h>

#include "harness/snapshots.h"

namespace x0x::harness {

void run_gate_scenarios(const orchestrator::Fleet& fleet, const std::vector<NodeApi>& apis,
                        const gates::GateProfile& profile, orchestrator::FaultInjector& faults,
                        const GateRunOptions& opts, const gates::JsonSink& sink,
                        const std::function<void(const std::string&)>& progress, const std::atomic<bool>* interrupted,
                        std::vector<gates::ScenarioRun>& runs) {
  auto anchor = !opts.anchor.empty() ? opts.anchor : !fleet.anchor.empty() ? fleet.anchor : fleet.hosts.front().name;
  for (std::size_t i = 0; i < opts.scenarios.size(); ++i) {
    const auto& name = opts.scenarios[i];
    gates::ScenarioRun run;
    run.name = name;
    run.index = static_cast<int>(i);
    run.nodes = fleet.names();
    run.roles["anchor"] = {anchor};
    ScenarioContext ctx{fleet, apis, anchor, faults, profile, opts.scenario, opts.run_id,
                        [&](const std::string& line) { progress(name + ": " + line); }, interrupted, sink};
    run.started_unix = unix_now();
    auto why_not = interrupted && interrupted->load() ? std::string("interrupted before it started")
                                                      : scenario_precondition(name, ctx);
    if (!why_not.empty()) {
      run.status = "not_run";
      run.reason = why_not;
      run.ended_unix = run.started_unix;
      progress(name + ": NOT RUN (" + why_not + ")");
    } else {
      progress(name + ": pre snapshot");
      run.pre = take_snapshots(apis, opts.scenario.request_timeout);
      run_scenario(name, ctx, run);
      progress(name + ": post snapshot");
      run.post = take_snapshots(apis, opts.scenario.request_timeout);
      run.ended_unix = unix_now();
      progress(fmt::format("{}: done in {:.1f} s{}", name, run.ended_unix - run.started_unix,
                           run.status == "ran" ? "" : " (" + run.status + ": " + run.reason + ")"));
    }
    gates::write_scenario_run(run, sink);
    runs.push_back(std::move(run));
  }
}

}  // namespace x0x::harness
