// Stores what the scorer reads in a proof bundle and reads it back, so a
// bundle can be re-scored from its raw snapshots alone. Layout (spec §8.2
// plus ours):
//   diagnostics/<scenario>/<node>-{pre,post}.json               raw /diagnostics/gossip body
//   diagnostics_connectivity/<scenario>/<node>-{pre,post}.json  raw /diagnostics/connectivity body
//   scenarios/<scenario>/scenario.json   status, reason, nodes, roles, metrics, phase_a, faults,
//                                        times, and per fetch {http_status, error, unix_time, file}
//   scenarios/<scenario>/phase-a.json    the Phase A report when the scenario ran it
//   scenarios/<scenario>/phase-b.json    the Phase B report (scenario phase_b)
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/scorer.h"

namespace x0x::gates {

// rel path (relative to the bundle) -> JSON to write; the bundle writer redacts and hashes.
using JsonSink = std::function<void(const std::string& rel, const nlohmann::json&)>;

void write_scenario_run(const ScenarioRun& run, const JsonSink& sink);
// Every scenarios/*/scenario.json, in the order of verdict.json's scenarios when
// present, else by name. Throws std::runtime_error naming the file on a bad one.
std::vector<ScenarioRun> read_scenario_runs(const std::filesystem::path& bundle_dir);

}  // namespace x0x::gates
