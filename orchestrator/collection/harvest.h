// `x0xctl harvest`: diagnostics, log pattern counts and host facts from every
// node in parallel, written as an incident bundle (manifest with sha256 of
// every file, tokens redacted) with a summary.md that ranks what stands out.
// A node that cannot be reached is recorded as such, never skipped.
#pragma once
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "orchestrator/control/inventory.h"

namespace x0x::orchestrator {

struct HarvestOptions {
  std::filesystem::path out;          // default proofs/harvest-<UTC>
  std::string since = "30m";          // log window: 90s, 30m, 2h, 1d
  std::vector<std::string> hosts;     // empty: all
  std::size_t parallel = 16;
  bool accept_new_host_keys = false;
  std::chrono::milliseconds request_timeout{12'000};
};

struct HarvestResult {
  std::filesystem::path bundle;
  std::size_t reached = 0, unreachable = 0;
  std::vector<std::string> unreachable_hosts;
};

HarvestResult harvest(const Fleet& fleet, const HarvestOptions& opts);

// "30m" -> seconds; throws std::invalid_argument naming the value.
std::chrono::seconds parse_since(const std::string& s);

}  // namespace x0x::orchestrator
