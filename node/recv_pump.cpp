#include "node/recv_pump.h"

#include <nlohmann/json.hpp>

namespace x0x::node {

using wire::FrameType;
using wire::Stream;

RecvQueue::RecvQueue(Stream stream, std::size_t capacity) : stream_(stream), capacity_(capacity) {}

static bool recoverable(FrameType t) {
  return t == FrameType::ihave || t == FrameType::iwant || t == FrameType::digest;
}

RecvQueue::Push RecvQueue::push(InboundFrame& f, std::function<void()> on_space) {
  std::unique_lock lk(mu_);
  ++c_.produced;
  if (closed_) {
    ++c_.dropped_closed;
    return Push::closed;
  }
  if (stream_ == Stream::pubsub) {
    if (q_.size() >= capacity_) {
      ++c_.dropped_full;
      return Push::dropped_full;
    }
    if (recoverable(f.type) && q_.size() * 10 >= capacity_ * 9) {
      ++c_.shed_priority;
      return Push::shed_priority;
    }
  } else if (q_.size() >= capacity_) {
    --c_.produced;  // counted when the retried push lands
    if (on_space) waiters_.push_back(std::move(on_space));
    return Push::must_wait;
  }
  f.enqueued_at = Clock::now();
  q_.push_back(std::move(f));
  ++c_.enqueued;
  c_.max_depth = std::max<std::uint64_t>(c_.max_depth, q_.size());
  lk.unlock();
  cv_.notify_one();
  return Push::enqueued;
}

std::optional<InboundFrame> RecvQueue::pop(std::chrono::milliseconds wait, std::atomic<std::uint64_t>* dequeued) {
  std::vector<std::function<void()>> wake;
  std::optional<InboundFrame> out;
  {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, wait, [&] { return !q_.empty() || closed_; })) return std::nullopt;
    if (q_.empty()) return std::nullopt;
    out = std::move(q_.front());
    q_.pop_front();
    ++c_.dequeued;
    if (dequeued) dequeued->fetch_add(1);
    auto dwell = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - out->enqueued_at)
            .count());
    c_.total_dwell_ms += dwell;
    c_.max_dwell_ms = std::max(c_.max_dwell_ms, dwell);
    wake.swap(waiters_);
  }
  for (auto& w : wake) w();
  return out;
}

void RecvQueue::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::size_t RecvQueue::depth() const {
  std::lock_guard lk(mu_);
  return q_.size();
}

RecvQueue::Counters RecvQueue::counters() const {
  std::lock_guard lk(mu_);
  return c_;
}

nlohmann::json RecvQueue::to_json(double uptime) const {
  std::lock_guard lk(mu_);
  double up = uptime > 0 ? uptime : 1.0;
  return {{"produced_total", c_.produced},
          {"enqueued_total", c_.enqueued},
          {"dequeued_total", c_.dequeued},
          {"dropped_full", c_.dropped_full},
          {"shed_priority", c_.shed_priority},
          {"dropped_closed", c_.dropped_closed},
          {"latest_depth", q_.size()},  // now, not at the last dequeue
          {"max_depth", c_.max_depth},
          {"capacity", capacity_},
          {"max_dwell_ms", c_.max_dwell_ms},
          {"avg_dwell_ms", c_.dequeued ? c_.total_dwell_ms / c_.dequeued : 0},
          {"producer_per_sec", static_cast<double>(c_.produced) / up},
          {"consumer_per_sec", static_cast<double>(c_.dequeued) / up}};
}

nlohmann::json RecvQueue::depth_json() const {
  std::lock_guard lk(mu_);
  return {{"latest", q_.size()}, {"max", c_.max_depth}, {"capacity", capacity_}};
}

RecvPump::RecvPump(std::size_t p, std::size_t m, std::size_t b) {
  queues_[0] = std::make_unique<RecvQueue>(Stream::pubsub, p);
  queues_[1] = std::make_unique<RecvQueue>(Stream::membership, m);
  queues_[2] = std::make_unique<RecvQueue>(Stream::bulk, b);
}

RecvQueue::Push RecvPump::push(InboundFrame& f, std::function<void()> on_space) {
  auto s = static_cast<std::size_t>(wire::stream_of(f.type));
  std::string peer = f.peer_machine_id;
  auto r = queues_[s]->push(f, std::move(on_space));
  if (r != RecvQueue::Push::must_wait) {
    std::lock_guard lk(per_peer_mu_);
    auto& pc = per_peer_[peer];
    ++pc.produced[s];
    if (r == RecvQueue::Push::dropped_full) ++pc.dropped_full[s];
  }
  return r;
}

void RecvPump::close() {
  for (auto& q : queues_) q->close();
}

nlohmann::json RecvPump::to_json() const {
  double up = std::chrono::duration<double>(Clock::now() - started_).count();
  nlohmann::json j = {{"uptime_secs", static_cast<std::uint64_t>(up)},
                      {"pubsub", queues_[0]->to_json(up)},
                      {"membership", queues_[1]->to_json(up)},
                      {"bulk", queues_[2]->to_json(up)}};
  auto per_peer = nlohmann::json::object();
  std::lock_guard lk(per_peer_mu_);
  for (auto& [peer, pc] : per_peer_)
    per_peer[peer] = {{"pubsub_produced", pc.produced[0]},
                      {"membership_produced", pc.produced[1]},
                      {"bulk_produced", pc.produced[2]},
                      {"pubsub_dropped_full", pc.dropped_full[0]},
                      {"membership_dropped_full", pc.dropped_full[1]},
                      {"bulk_dropped_full", pc.dropped_full[2]}};
  j["per_peer"] = std::move(per_peer);
  return j;
}

}  // namespace x0x::node
