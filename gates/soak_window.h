// One soak window's measurements, read from the gate bundle the window wrote
// (windows/NNN/): its verdict.json (typed violations, per-node deltas, Phase A
// pairs), its raw pre/post snapshots (the continuous accounting's samples) and
// its harvest facts (RSS and CPU of each node). The reference parsed
// summary.md prose instead (spec gates-and-proofs.md §9.1 item 12).
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/scorer.h"
#include "gates/soak_model.h"

namespace x0x::gates::soak {

struct WindowBundle {
  nlohmann::json verdict;                       // verdict.json; null when the window wrote none (MISSING)
  std::vector<ScenarioRun> runs;                // scenarios/*/scenario.json with their raw snapshots
  std::map<std::string, nlohmann::json> facts;  // harvest/<node>/facts.json by node
  std::string problem;                          // why something could not be read ("" = all read)
};

// Reads a window's bundle as hostile input (contained, bounded reads); never
// throws: what cannot be read is absent and named in `problem`.
WindowBundle read_window_bundle(const std::filesystem::path& dir, const std::vector<std::string>& nodes);

// The four accounting counters and the uptime of one raw snapshot, or nullopt
// when its gossip fetch failed or answered an error (unknown, never 0).
std::optional<AccountingSample> accounting_sample(const RawSnapshot& s);

// Fills w's measured fields (verdict, Phase A, violations, per-node facts and
// samples) from the bundle; the schedule fields (index, slot, state, warm-up,
// epoch, exit code) stay the caller's. A window without a verdict keeps
// verdict nullopt (the caller records it as missing).
void fill_window(SoakWindow& w, const WindowBundle& bundle);

}  // namespace x0x::gates::soak
