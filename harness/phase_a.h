// Phase A: the all-pairs direct-message matrix, driven through the anchor's
// REST API with the reference's control protocol. Fixes the reference's
// weaknesses (spec mesh-protocol.md §8): strict by default (a missing runner
// fails its pairs), concurrent fan-out, receipts checked for sender and
// marker, and a stage for every failed pair.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace x0x::harness {

struct PhaseAOptions {
  std::string anchor_base_url;  // the anchor daemon's REST API
  std::string anchor_token;
  std::vector<std::string> nodes;  // expected runner labels (the inventory)
  std::chrono::milliseconds discover{30'000};
  std::chrono::milliseconds republish_every{2'000};
  std::chrono::milliseconds settle{45'000};  // after the last command went out
  std::size_t parallel = 32;                 // command DMs in flight
  bool allow_missing = false;                // run over the discovered runners only
};

// Stages a pair can fail at, in pipeline order.
inline constexpr const char* kStageNotDiscovered = "runner not discovered";
inline constexpr const char* kStageNotDelivered = "command not delivered";
inline constexpr const char* kStageSendFailed = "send failed";
inline constexpr const char* kStageNotReceived = "not received";
inline constexpr const char* kStageResultLost = "result lost";

struct PairResult {
  std::string src, dst;
  bool delivered = false;
  std::string stage;   // empty when delivered
  std::string detail;  // daemon error code, HTTP status, ...
  double latency_ms = -1;  // command dispatch → receipt seen by the orchestrator
  std::string path;        // the daemon's DM path for the hop
  int attempts = 0;        // runner attempts for the hop
};

struct PhaseAReport {
  std::vector<std::string> nodes, discovered, missing;
  std::vector<PairResult> pairs;  // src-major in inventory order
  std::size_t expected_pairs = 0, delivered_pairs = 0, send_ok = 0, received = 0;
  double discover_secs = 0, matrix_secs = 0;
  bool allow_missing = false;
  std::string verdict() const;  // "Phase A: 30/30 delivered"
  bool passed() const { return expected_pairs > 0 && delivered_pairs == expected_pairs; }
  nlohmann::json to_json() const;
};

class PhaseAError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Progress callback: a short line ("discover 5/6", "matrix 12/30 …").
PhaseAReport run_phase_a(const PhaseAOptions& opts, const std::function<void(const std::string&)>& progress = {});

}  // namespace x0x::harness
