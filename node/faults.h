// Faults on command (POST/GET/DELETE /lean/faults). Each kind carries its own
// lease and lapses by itself, so a killed orchestrator cannot leave a node
// broken. The mesh asks these questions on its hot path; when nothing is
// active they cost one atomic load.
#pragma once
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "node/metrics.h"

namespace x0x::node {

class FaultError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Faults {
 public:
  static constexpr std::uint64_t kDefaultLeaseSecs = 300;

  // Validates and merges a request body; kinds named in it are (re)armed with
  // its lease. Throws FaultError naming the bad field. Returns the new state.
  // The renewal form {"renew": [kind, ...], "lease_secs": N} (kinds as named
  // under "active") only moves the expiry of those kinds that are still
  // active to now + N: it never arms a kind nor touches a parameter, so an
  // orchestrator's heartbeat cannot bring back a fault that was cleared.
  nlohmann::json apply(const nlohmann::json& body);
  void clear();
  nlohmann::json to_json() const;
  // Drops expired kinds; true when something changed.
  bool expire(Clock::time_point now = Clock::now());

  bool any() const { return any_.load(std::memory_order_relaxed); }
  bool partitioned(const std::string& agent_id, const std::string& machine_id) const;
  bool stale() const;
  bool stall_dispatcher() const;
  // Egress effects towards one peer (by machine or agent id): whether to drop
  // the frame, and how long to hold it.
  bool drop(const std::string& agent_id, const std::string& machine_id);
  std::chrono::milliseconds delay(const std::string& agent_id, const std::string& machine_id);
  // A delay fault is armed towards this peer.
  bool delaying(const std::string& agent_id, const std::string& machine_id) const;
  // Frames a delayed link carries per round trip (0 = no limit). A link with a
  // high round-trip time is only as fast as its congestion window: at most
  // `window_frames` frames leave per `delay_ms`, so sustained traffic queues
  // and sends time out, as they do behind tc netem on a QUIC link.
  std::uint64_t window_frames(const std::string& agent_id, const std::string& machine_id) const;

 private:
  struct Armed {
    Clock::time_point expires{};
    std::uint64_t expires_unix_ms = 0;
    std::uint64_t lease_secs = 0;
  };
  bool targets(const std::set<std::string>& peers, const std::string& a, const std::string& m) const;
  bool live(const std::optional<Armed>& a) const { return a && Clock::now() < a->expires; }
  nlohmann::json renew(const nlohmann::json& body);
  void refresh_any();
  void reset_lapsed();  // with mu_ held

  mutable std::mutex mu_;
  std::atomic<bool> any_{false};
  std::mt19937_64 rng_{std::random_device{}()};
  std::optional<Armed> delay_armed_, loss_armed_, partition_armed_, stall_armed_, stale_armed_;
  std::uint64_t delay_ms_ = 0, jitter_ms_ = 0, window_frames_ = 0;
  double loss_ = 0;
  std::set<std::string> delay_peers_, loss_peers_, partition_;
};

}  // namespace x0x::node
