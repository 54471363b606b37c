// Phase A: the all-pairs direct-message matrix, driven through the anchor's
// REST API with the reference's control protocol. Fixes the reference's
// weaknesses (spec mesh-protocol.md §8): strict by default (a missing runner
// fails its pairs), concurrent fan-out, receipts checked for sender and a
// marker unique to the pair and the run, and a stage for every failed pair.
//
// The matrix is a generator (harness/phase_a_plan.h) and a pure checker
// (harness/phase_a_check.h) on the shared runner session and dispatcher.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
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
  bool no_pubsub_after_discover = false;     // commands tell runners to leave the control topics after discovery
};

// Where a pair failed, in pipeline order; `delivered` when it did not.
enum class PairStage { delivered, not_discovered, not_delivered, send_failed, not_received, result_lost };

// "runner not discovered", "command not delivered", "send failed", "not received",
// "result lost" (the JSON and report wording); "" for delivered.
std::string_view stage_text(PairStage s);
std::optional<PairStage> parse_stage(std::string_view text);

struct PairResult {
  std::string src, dst;
  std::string marker;  // the digest marker the receipt must carry
  PairStage stage = PairStage::not_delivered;
  std::string detail;      // daemon error code, HTTP status, ...
  double latency_ms = -1;  // command dispatch → receipt seen by the orchestrator
  std::string path;        // the daemon's DM path for the hop
  int attempts = 0;        // runner attempts for the hop
  bool delivered() const { return stage == PairStage::delivered; }
  bool involves(const std::string& node) const { return src == node || dst == node; }
};

struct PhaseAReport {
  std::vector<std::string> nodes, discovered, missing;
  std::vector<PairResult> pairs;  // src-major in inventory order
  std::size_t expected_pairs = 0, delivered_pairs = 0, send_ok = 0, received = 0;
  double discover_secs = 0, matrix_secs = 0;
  bool allow_missing = false;
  std::string verdict() const;  // "Phase A: 30/30 delivered"
  bool passed() const { return expected_pairs > 0 && delivered_pairs == expected_pairs; }
  nlohmann::json to_json() const;  // {"phase_a": {...}}
};

// Progress callback: a short line ("discover 5/6", "matrix 12/30 …").
// Throws (SessionError and others) when the anchor cannot be used at all.
PhaseAReport run_phase_a(const PhaseAOptions& opts, const std::function<void(const std::string&)>& progress = {});

}  // namespace x0x::harness
