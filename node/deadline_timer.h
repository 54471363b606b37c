// A timer that runs `fire` at the time it asked for, and earlier when any
// thread asks it to (run_by). The gossip engine's lazy flush and graft
// timeouts are deadlines of tens of milliseconds that appear on dispatcher
// threads; a fixed tick period would round them up to the period.
#pragma once
#include <functional>
#include <memory>

#include "node/metrics.h"

namespace boost::asio {
class io_context;
}

namespace x0x::node {

class DeadlineTimer {
 public:
  // fire(now) does the due work and returns when it wants to run next.
  using Fire = std::function<Clock::time_point(Clock::time_point now)>;

  DeadlineTimer(boost::asio::io_context& io, Fire fire);
  ~DeadlineTimer();  // stops
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Thread-safe: fire runs no later than `due` (at once when it has passed).
  void run_by(Clock::time_point due);
  // Thread-safe, idempotent: fire is not called again.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace x0x::node
