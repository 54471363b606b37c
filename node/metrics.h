// Monotonic counters and stage timers behind /diagnostics/gossip. They are
// atomics so dispatcher workers and the I/O thread update them without locks.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

namespace x0x::node {

using Clock = std::chrono::steady_clock;

inline std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// {count, total_ns, max_ns, over_1s_count, over_5s_count, over_30s_count}
struct StageTimer {
  std::atomic<std::uint64_t> count{0}, total_ns{0}, max_ns{0}, over_1s{0}, over_5s{0}, over_30s{0};
  void record(std::chrono::nanoseconds d);
  nlohmann::json to_json() const;
};

// Times a scope into a StageTimer.
class StageScope {
 public:
  explicit StageScope(StageTimer& t) : timer_(t), start_(Clock::now()) {}
  ~StageScope() { timer_.record(Clock::now() - start_); }
  StageScope(const StageScope&) = delete;
  StageScope& operator=(const StageScope&) = delete;

 private:
  StageTimer& timer_;
  Clock::time_point start_;
};

inline void atomic_max(std::atomic<std::uint64_t>& a, std::uint64_t v) {
  auto cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// x0x pub/sub drop accounting (`stats` block).
struct PubSubStats {
  std::atomic<std::uint64_t> publish_total{0}, publish_failed{0}, incoming_total{0},
      incoming_decoded{0}, incoming_decode_failed{0}, delivered_to_subscriber{0},
      slow_subscriber_dropped{0}, subscriber_channel_closed{0};
};

// Inbound wire classes and local tree changes (`message_kinds`).
struct MessageKinds {
  std::atomic<std::uint64_t> eager{0}, ihave{0}, iwant{0}, anti_entropy{0}, other{0},
      decode_failed{0}, prune{0}, graft{0};
};

struct GossipStages {
  StageTimer decode, verify, dedupe_lock_acquire, dedupe_check, eager_fanout, republish,
      peer_scoring_lock_wait, suppressed_peers_lock_wait;
  std::atomic<std::uint64_t> republish_per_peer_timeout{0}, outbound_budget_exhausted{0},
      zero_fanout_publishes{0}, zero_succeeded_publishes{0};
};

struct DirectStats {
  std::atomic<std::uint64_t> outgoing_send_total{0}, outgoing_send_succeeded{0},
      outgoing_send_failed{0}, outgoing_path_loopback{0}, outgoing_path_raw_quic{0},
      outgoing_path_gossip_inbox{0}, incoming_envelopes_total{0}, incoming_signature_failed{0},
      incoming_duplicates{0}, incoming_delivered{0}, subscriber_events_evicted{0},
      incoming_trust_rejected{0}, incoming_stale_rejected{0};
};

}  // namespace x0x::node
