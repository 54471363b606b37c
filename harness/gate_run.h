// One gate run over a fleet, end to end: open every node's API, run the
// requested scenarios in order (pre snapshot, roles, body, settled window,
// post snapshot — each handed to the bundle at once, so a crash later keeps
// what was observed), mark what an interrupt or a crash never reached as NOT
// RUN, harvest the run's window, score, and write the proof bundle with its
// renderings. `x0xctl gate` calls it, and the soak will; cli/ only parses
// arguments and prints.
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/observations_io.h"
#include "gates/profile.h"
#include "gates/scorer.h"
#include "harness/scenario.h"
#include "harness/scenario_registry.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/faults/fault_injector.h"

namespace x0x::orchestrator {
class LocalMesh;
}

namespace x0x::harness {

struct GateRequest {
  orchestrator::Fleet fleet;  // its anchor is the run's anchor (the first host when unset)
  gates::GateProfile profile;
  std::vector<std::string> scenarios;  // in the order given; checked by gate_usage_problems
  ScenarioOptions scenario;
  std::filesystem::path proof_dir;  // empty or absent; created
  std::string network;
  std::vector<std::string> argv;  // recorded in the bundle
  bool accept_new_host_keys = false;
  orchestrator::LocalMesh* local_mesh = nullptr;  // the embedded default, started for this run
  const std::atomic<bool>* interrupted = nullptr;  // SIGINT/SIGTERM: finish the step, revert, write the bundle
  std::chrono::milliseconds settle_poll{500};
};

struct GateOutcome {
  int exit_code = 0;          // core/exit_codes.h: GO, NO-GO, usage (a node's API could not be opened), crash
  nlohmann::json verdict;     // verdict.json (null when nothing was scored)
  std::string junit;          // junit.xml
  std::string crash;          // what ended the run early
  std::filesystem::path bundle_dir;
};

// Everything wrong with a request before any work starts: unknown scenarios,
// missing opt-ins, bad parameters on this fleet, an anchor that is not a host,
// a proof directory that is not empty. One line each; empty = runnable.
std::vector<std::string> gate_usage_problems(const std::vector<std::string>& scenarios, const ScenarioOptions& opts,
                                             const FleetShape& fleet, const std::filesystem::path& proof_dir);

// progress: one line per step, already stamped; also written to gate.log (redacted).
GateOutcome run_gate(const GateRequest& request, const std::function<void(const std::string&)>& progress);

// The scenario loop alone (for the soak's windows): appends one ScenarioRun
// per requested scenario to `runs` as each one ends.
struct ScenarioLoop {
  const orchestrator::Fleet& fleet;
  const std::vector<NodeApi>& apis;
  const gates::GateProfile& profile;
  orchestrator::FaultInjector& faults;
  const ScenarioOptions& opts;
  std::string anchor, run_id;
  gates::JsonSink sink;
  std::function<void(const std::string&)> progress;
  const std::atomic<bool>* interrupted = nullptr;
  std::chrono::milliseconds settle_poll{500};
};
void run_gate_scenarios(const ScenarioLoop& loop, const std::vector<std::string>& scenarios, std::vector<gates::ScenarioRun>& runs);

}  // namespace x0x::harness
