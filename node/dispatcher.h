// Dispatcher: worker threads per stream that drain the recv pump and run the
// frame handler under a per-message watchdog. A handler that exceeds the
// watchdog counts as `timed_out` instead of `completed` (counted when the
// watchdog runs out, by a watchdog thread, as the reference's watchdog gives
// up on a stuck handler; its later return counts nothing more); a stalled
// dispatcher (fault) abandons a message once its watchdog has run out.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "node/recv_pump.h"

namespace x0x::node {

// Holds PubSub workers while the stall fault is on.
class StallGate {
 public:
  void set(bool stalled);
  bool stalled() const { return stalled_.load(); }
  // Waits while stalled; false if still stalled when `until` passed.
  bool wait_until_clear(Clock::time_point until);
  void release_all();  // shutdown

 private:
  std::atomic<bool> stalled_{false};
  std::atomic<bool> shutting_down_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

// Every frame moves received -> completed | timed_out exactly once:
//   received   counted when a worker dequeues it, under the queue's lock;
//   completed  its handler returned within the watchdog;
//   timed_out  the watchdog ran out first (or a stalled worker gave it up).
// So received == completed + timed_out exactly when no worker holds a frame
// it has not given up on; with recv_pump.<stream>.latest_depth == 0 the
// stream has nothing pending. to_json reads completed and timed_out before
// received, so a snapshot never shows received < completed + timed_out.
struct DispatchCounters {
  std::atomic<std::uint64_t> received{0}, completed{0}, timed_out{0}, max_elapsed_ms{0},
      total_elapsed_ns{0}, over_1s{0}, over_5s{0}, over_30s{0};
  nlohmann::json to_json() const;
};

class Dispatcher {
 public:
  using Handler = std::function<void(InboundFrame&)>;
  struct StreamSetup {
    std::size_t workers = 1;
    std::chrono::milliseconds timeout{30000};
  };

  Dispatcher(RecvPump& pump, Handler handler, std::array<StreamSetup, wire::kStreamCount> setup,
             StallGate& stall);
  ~Dispatcher();
  void start();
  void stop();  // closes nothing; call after pump.close()
  nlohmann::json to_json() const;
  const DispatchCounters& counters(wire::Stream s) const {
    return counters_[static_cast<std::size_t>(s)];
  }

 private:
  struct Slot;  // one per worker: the frame it holds and whether its outcome is counted
  void run(Slot& slot);
  void watchdog();

  RecvPump& pump_;
  Handler handler_;
  std::array<StreamSetup, wire::kStreamCount> setup_;
  StallGate& stall_;
  std::array<DispatchCounters, wire::kStreamCount> counters_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::thread> threads_;
  std::thread watchdog_;
  std::mutex watchdog_mu_;
  std::condition_variable watchdog_cv_;
  std::atomic<bool> stopping_{false};
};

}  // namespace x0x::node
