// Background PubSub traffic for a soak on a fleet the soak started itself (the
// embedded default): one message at a time from each node in turn, at a steady
// rate, on a topic every node subscribes to, so the dispatchers complete work
// between windows and the continuous accounting has a denominator. Paused
// while a window runs: a window measures its scenario alone, as `x0xctl gate` does.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness/node_api.h"

namespace x0x::harness {

class SoakTraffic {
 public:
  static constexpr const char* kTopic = "x0x.soak.background.v1";

  // Subscribes every node (throws naming the node that refused) and starts publishing.
  SoakTraffic(std::vector<NodeApi> nodes, double messages_per_sec, std::chrono::milliseconds request_timeout);
  ~SoakTraffic();  // stops, then unsubscribes (best effort)
  SoakTraffic(const SoakTraffic&) = delete;
  SoakTraffic& operator=(const SoakTraffic&) = delete;

  // While a Pause lives nothing is published; it returns once no publish is in flight.
  class Pause {
   public:
    Pause() = default;
    explicit Pause(SoakTraffic* t);
    Pause(Pause&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }
    Pause& operator=(Pause&&) = delete;
    ~Pause();

   private:
    SoakTraffic* t_ = nullptr;
  };
  Pause pause() { return Pause(this); }

  long published() const { return published_.load(); }
  long errors() const { return errors_.load(); }

 private:
  void run();
  std::vector<NodeApi> nodes_;
  std::vector<std::string> subscriptions_;  // per node, "" when none
  std::chrono::nanoseconds gap_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;  // held while a publish is in flight
  std::condition_variable cv_;
  int paused_ = 0;
  bool stop_ = false;
  std::atomic<long> published_{0}, errors_{0};
  std::thread thread_;
};

}  // namespace x0x::harness
