// Slow-peer cooling, as saorsa-gossip does it: a (peer, topic) pair that hits
// the per-peer send timeout `threshold` times inside `window` is suppressed
// (no eager pushes) for `cooldown`, then becomes recovery_ready; the next
// eager send to it is a recovery probe, and a timely send ends the episode.
// The suppression set is bounded: past max_suppressed the oldest entry goes.
// Not thread-safe; times are passed in so tests can drive them.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>

#include <nlohmann/json_fwd.hpp>

#include "node/metrics.h"

namespace x0x::node {

class Cooling {
 public:
  struct Policy {
    std::size_t threshold = 5;
    std::chrono::milliseconds window{30'000};
    std::chrono::milliseconds cooldown{120'000};
    std::size_t max_suppressed = 1024;
  };
  enum class State { normal, cooldown, recovery_ready, recovery_probe };

  Cooling() : Cooling(Policy{}) {}
  explicit Cooling(Policy p) : policy_(p) {}

  void record_success(const std::string& peer, const std::string& topic, Clock::time_point now);
  // True when this timeout put the pair into cooldown.
  bool record_timeout(const std::string& peer, const std::string& topic, Clock::time_point now);
  void record_iwant(const std::string& peer) { iwant_[peer].first++; }
  void record_iwant_answer(const std::string& peer) { iwant_[peer].second++; }

  // May we push eagerly to this pair now? A recovery_ready pair says yes once
  // and turns into recovery_probe.
  bool take_eager_slot(const std::string& peer, const std::string& topic);
  State state(const std::string& peer, const std::string& topic) const;
  void tick(Clock::time_point now);
  void forget_peer(const std::string& peer);
  std::size_t suppressed_count() const;

  // role_of(peer, topic) gives the PlumTree role ("eager"/"lazy") for rows
  // that are not cooled.
  nlohmann::json to_json_with_roles(const std::map<std::pair<std::string, std::string>, std::string>& roles,
                                    Clock::time_point now) const;

 private:
  struct Entry {
    State state = State::normal;
    std::uint64_t successes = 0, timeouts = 0, cooling_events = 0, recovery_probes = 0,
                  recovery_successes = 0;
    std::deque<Clock::time_point> recent;
    Clock::time_point suppressed_until{}, last_suppressed{}, last_success{};
    std::uint64_t last_suppressed_unix_ms = 0;
  };
  using Key = std::pair<std::string, std::string>;  // (peer machine id, topic)
  Policy policy_;
  std::map<Key, Entry> entries_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> iwant_;  // requested, answered
};

}  // namespace x0x::node
