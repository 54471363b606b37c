// `x0xctl proof rescore` on a soak bundle: every window's verdict recomputed
// from its raw snapshots (as `proof rescore` does for a gate bundle), the
// windows re-read from those verdicts, and the soak re-evaluated — the
// classification, accounting, policies and verdict — then compared with the
// recorded soak.json. The schedule (slots, states, epochs, gaps) is the
// recorded one: it is what happened, not a measurement.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/profile.h"

namespace x0x::harness {

struct SoakRescore {
  nlohmann::json recorded, rescored;  // soak.json as recorded, and as recomputed
  std::vector<std::string> differences;  // one line each; empty = reproduced
  int windows_rescored = 0;
};

// gate: every window scored with it instead of the window's own gate.toml.
// Throws std::runtime_error naming the file when the bundle is not a soak or a window cannot be read.
SoakRescore rescore_soak(const std::filesystem::path& dir, const std::optional<gates::GateProfile>& gate);

bool is_soak_bundle(const std::filesystem::path& dir);

}  // namespace x0x::harness
