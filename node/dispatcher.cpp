#include "node/dispatcher.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

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
  // Outcomes first: each is counted after its frame's `received`.
  auto done_ok = completed.load(), done_late = timed_out.load();
  auto got = received.load();
  return {{"received", got},                     {"completed", done_ok},
          {"timed_out", done_late},              {"max_elapsed_ms", max_elapsed_ms.load()},
          {"total_elapsed_ns", total_elapsed_ns.load()}, {"over_1s_count", over_1s.load()},
          {"over_5s_count", over_5s.load()},     {"over_30s_count", over_30s.load()}};
}

struct Dispatcher::Slot {
  explicit Slot(Stream s) : stream(s) {}
  const Stream stream;
  std::mutex mu;
  bool busy = false;     // holds a frame
  bool settled = false;  // that frame's outcome is counted (by the worker or the watchdog)
  Clock::time_point deadline{};
};

Dispatcher::Dispatcher(RecvPump& pump, Handler handler,
                       std::array<StreamSetup, wire::kStreamCount> setup, StallGate& stall)
    : pump_(pump), handler_(std::move(handler)), setup_(setup), stall_(stall) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  for (std::size_t s = 0; s < wire::kStreamCount; ++s)
    for (std::size_t i = 0; i < setup_[s].workers; ++i) slots_.push_back(std::make_unique<Slot>(static_cast<Stream>(s)));
  for (auto& slot : slots_) threads_.emplace_back([this, sl = slot.get()] { run(*sl); });
  watchdog_ = std::thread([this] { watchdog(); });
}

void Dispatcher::stop() {
  {
    std::lock_guard lk(watchdog_mu_);
    stopping_ = true;
  }
  watchdog_cv_.notify_all();
  stall_.release_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  if (watchdog_.joinable()) watchdog_.join();
}

// Counts a frame as timed_out as soon as its watchdog runs out, whatever its
// handler is doing, so a stuck handler cannot hold received above
// completed + timed_out for longer than the watchdog.
void Dispatcher::watchdog() {
  auto shortest = setup_[0].timeout;
  for (auto& st : setup_) shortest = std::min(shortest, st.timeout);
  auto period = std::clamp<std::chrono::milliseconds>(shortest / 4, std::chrono::milliseconds(1),
                                                      std::chrono::milliseconds(1000));
  std::unique_lock lk(watchdog_mu_);
  while (!stopping_) {
    watchdog_cv_.wait_for(lk, period, [&] { return stopping_.load(); });
    auto now = Clock::now();
    for (auto& slot : slots_) {
      std::lock_guard sl(slot->mu);
      if (!slot->busy || slot->settled || now < slot->deadline) continue;
      slot->settled = true;
      counters_[static_cast<std::size_t>(slot->stream)].timed_out.fetch_add(1);
    }
  }
}

void Dispatcher::run(Slot& slot) {
  const auto s = slot.stream;
  auto& q = pump_.queue(s);
  auto& c = counters_[static_cast<std::size_t>(s)];
  const auto timeout = setup_[static_cast<std::size_t>(s)].timeout;
  while (!stopping_) {
    // close() wakes it on shutdown; `received` is counted with the dequeue.
    auto frame = q.pop(std::chrono::milliseconds(5000), &c.received);
    if (!frame) continue;
    auto start = Clock::now();
    {
      std::lock_guard lk(slot.mu);
      slot.busy = true;
      slot.settled = false;
      slot.deadline = start + timeout;
    }
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
    bool counted;
    {
      std::lock_guard lk(slot.mu);
      slot.busy = false;
      counted = slot.settled;  // the watchdog got there first
      slot.settled = true;
    }
    auto ns = static_cast<std::uint64_t>(std::chrono::nanoseconds(elapsed).count());
    c.total_elapsed_ns.fetch_add(ns, std::memory_order_relaxed);
    atomic_max(c.max_elapsed_ms, ns / 1'000'000);
    if (ns >= 1'000'000'000ull) c.over_1s.fetch_add(1);
    if (ns >= 5'000'000'000ull) c.over_5s.fetch_add(1);
    if (ns >= 30'000'000'000ull) c.over_30s.fetch_add(1);
    if (counted) continue;
    if (abandoned || elapsed > timeout)
      c.timed_out.fetch_add(1);
    else
      c.completed.fetch_add(1);
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
