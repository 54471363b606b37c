#include "node/dispatcher.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace x0x::node {

using wire::Stream;

void StallGate::set(bool stalled) {
  {
    std::lock_guard lk(mu_);
    stalled_ = stalled;
  }
  cv_.notify_all();
}

bool StallGate::wait_until_clear(Clock::time_point until) {
  if (!stalled_.load()) return true;
  std::unique_lock lk(mu_);
  return cv_.wait_until(lk, until, [&] { return !stalled_.load() || shutting_down_.load(); });
}

void StallGate::release_all() {
  shutting_down_ = true;
  cv_.notify_all();
}

nlohmann::json DispatchCounters::to_json() const {
  return {{"received", received.load()},         {"completed", completed.load()},
          {"timed_out", timed_out.load()},       {"max_elapsed_ms", max_elapsed_ms.load()},
          {"total_elapsed_ns", total_elapsed_ns.load()}, {"over_1s_count", over_1s.load()},
          {"over_5s_count", over_5s.load()},     {"over_30s_count", over_30s.load()}};
}

Dispatcher::Dispatcher(RecvPump& pump, Handler handler,
                       std::array<StreamSetup, wire::kStreamCount> setup, StallGate& stall)
    : pump_(pump), handler_(std::move(handler)), setup_(setup), stall_(stall) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  for (std::size_t s = 0; s < wire::kStreamCount; ++s)
    for (std::size_t i = 0; i < setup_[s].workers; ++i)
      threads_.emplace_back([this, s] { run(static_cast<Stream>(s)); });
}

void Dispatcher::stop() {
  stopping_ = true;
  stall_.release_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void Dispatcher::run(Stream s) {
  auto& q = pump_.queue(s);
  auto& c = counters_[static_cast<std::size_t>(s)];
  const auto timeout = setup_[static_cast<std::size_t>(s)].timeout;
  while (!stopping_) {
    auto frame = q.pop(std::chrono::milliseconds(5000));  // close() wakes it on shutdown
    if (!frame) continue;
    c.received.fetch_add(1, std::memory_order_relaxed);
    auto start = Clock::now();
    bool abandoned = false;
    if (s == Stream::pubsub && stall_.stalled()) abandoned = !stall_.wait_until_clear(start + timeout);
    if (!abandoned && !stopping_) {
      try {
        handler_(*frame);
      } catch (const std::exception& e) {
        spdlog::warn("dispatcher: {} frame from {} failed: {}", wire::stream_name(s),
                     frame->peer_machine_id.substr(0, 16), e.what());
      }
    }
    auto elapsed = Clock::now() - start;
    auto ns = static_cast<std::uint64_t>(std::chrono::nanoseconds(elapsed).count());
    c.total_elapsed_ns.fetch_add(ns, std::memory_order_relaxed);
    atomic_max(c.max_elapsed_ms, ns / 1'000'000);
    if (ns >= 1'000'000'000ull) c.over_1s.fetch_add(1);
    if (ns >= 5'000'000'000ull) c.over_5s.fetch_add(1);
    if (ns >= 30'000'000'000ull) c.over_30s.fetch_add(1);
    if (abandoned || elapsed > timeout)
      c.timed_out.fetch_add(1, std::memory_order_relaxed);
    else
      c.completed.fetch_add(1, std::memory_order_relaxed);
  }
}

nlohmann::json Dispatcher::to_json() const {
  return {{"pubsub", counters_[0].to_json()},
          {"membership", counters_[1].to_json()},
          {"bulk", counters_[2].to_json()},
          {"recv_depth",
           {{"pubsub", pump_.queue(Stream::pubsub).depth_json()},
            {"membership", pump_.queue(Stream::membership).depth_json()},
            {"bulk", pump_.queue(Stream::bulk).depth_json()}}},
          {"pubsub_workers", setup_[0].workers},
          {"membership_workers", setup_[1].workers}};
}

}  // namespace x0x::node
