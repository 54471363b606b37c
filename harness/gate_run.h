// One gate run over a fleet: for each requested scenario, in order, check its
// preconditions (a missing opt-in makes it NOT RUN, which the scorer turns
// into NO-GO), take the pre snapshot of every node, run it, take the post
// snapshot, and hand the observations to the sink (the proof bundle) at once,
// so a crash later keeps what was observed.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "gates/observations_io.h"
#include "gates/scorer.h"
#include "harness/scenario.h"

namespace x0x::harness {

struct GateRunOptions {
  std::vector<std::string> scenarios;  // in the order given
  ScenarioOptions scenario;
  std::string anchor;                  // default: the fleet's anchor, else its first host
  std::string run_id;
};

// Appends one ScenarioRun per requested scenario to `runs` as each one ends
// (so the caller keeps the completed ones if a later step throws).
void run_gate_scenarios(const orchestrator::Fleet& fleet, const std::vector<NodeApi>& apis,
                        const gates::GateProfile& profile, orchestrator::FaultInjector& faults,
                        const GateRunOptions& opts, const gates::JsonSink& sink,
                        const std::function<void(const std::string&)>& progress, const std::atomic<bool>* interrupted,
                        std::vector<gates::ScenarioRun>& runs);

}  // namespace x0x::harness
