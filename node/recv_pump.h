// The recv pump: one bounded queue per logical stream between the mesh
// connections and the dispatcher workers (ADR 0009 of the reference). PubSub
// uses try-push and counts `dropped_full`; membership and bulk never drop, the
// producer waits for space instead (its connection stops reading).
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "node/metrics.h"
#include "node/wire.h"

namespace x0x::node {

struct InboundFrame {
  wire::FrameType type{};
  std::string body;
  std::uint64_t conn_id = 0;        // the mesh connection it came in on
  std::string peer_machine_id;      // 64 hex
  Clock::time_point enqueued_at{};
};

class RecvQueue {
 public:
  enum class Push { enqueued, dropped_full, shed_priority, must_wait, closed };

  RecvQueue(wire::Stream stream, std::size_t capacity);

  // Never blocks. For the PubSub stream a full queue drops the frame (and,
  // above 90 % full, sheds recoverable IHAVE/IWANT/digest frames). For the
  // other streams a full queue answers must_wait and calls on_space once a
  // slot frees; the caller keeps the frame and pushes it again then.
  // The frame is moved from only when it is enqueued: after must_wait the
  // caller still holds it (no copy on the hot path).
  Push push(InboundFrame& f, std::function<void()> on_space = {});
  Push push(InboundFrame&& f, std::function<void()> on_space = {}) { return push(f, std::move(on_space)); }
  // Blocks up to `wait`; nullopt on timeout or when closed and drained.
  // `dequeued`, when given, is incremented under the queue's lock together
  // with the removal, so a reader that sees the depth drop also sees the
  // frame counted (the dispatcher's `received`).
  std::optional<InboundFrame> pop(std::chrono::milliseconds wait, std::atomic<std::uint64_t>* dequeued = nullptr);
  void close();

  wire::Stream stream() const { return stream_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t depth() const;  // frames in the queue now
  nlohmann::json to_json(double uptime_secs) const;
  // {latest, max, capacity} for dispatcher.recv_depth; latest is the current
  // depth, as recv_pump.<stream>.latest_depth, not a value kept from the last
  // dequeue (that would miss frames queued behind a stalled worker).
  nlohmann::json depth_json() const;

  struct Counters {
    std::uint64_t produced = 0, enqueued = 0, dequeued = 0, dropped_full = 0, shed_priority = 0,
                  dropped_closed = 0, max_depth = 0, max_dwell_ms = 0, total_dwell_ms = 0;
  };
  Counters counters() const;

 private:
  const wire::Stream stream_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<InboundFrame> q_;
  std::vector<std::function<void()>> waiters_;
  bool closed_ = false;
  Counters c_;
};

// The three queues plus per-peer production counts.
class RecvPump {
 public:
  RecvPump(std::size_t pubsub_cap, std::size_t membership_cap, std::size_t bulk_cap);
  RecvQueue& queue(wire::Stream s) { return *queues_[static_cast<std::size_t>(s)]; }
  RecvQueue::Push push(InboundFrame& f, std::function<void()> on_space = {});
  RecvQueue::Push push(InboundFrame&& f, std::function<void()> on_space = {}) { return push(f, std::move(on_space)); }
  void close();
  nlohmann::json to_json() const;

 private:
  std::array<std::unique_ptr<RecvQueue>, wire::kStreamCount> queues_;
  Clock::time_point started_ = Clock::now();
  mutable std::mutex per_peer_mu_;
  struct PeerCounts { std::array<std::uint64_t, 3> produced{}, dropped_full{}; };
  std::map<std::string, PeerCounts> per_peer_;
};

}  // namespace x0x::node
