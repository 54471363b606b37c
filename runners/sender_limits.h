// Bounds on what the mesh can make a runner do and write (issue 12): a token
// bucket per sender for inbound test frames (commands and hops), and a throttle
// for the log lines that hostile traffic would otherwise multiply.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace x0x::runners {

using LimitClock = std::chrono::steady_clock;

struct RateLimit {
  double per_second = 0;  // refill rate
  double burst = 0;       // bucket size (what a sender may send at once)
};

// One token bucket per sender, at most max_senders of them: the least recently
// seen sender's bucket is forgotten first, so many identities cannot grow memory.
class SenderRateLimiter {
 public:
  explicit SenderRateLimiter(std::size_t max_senders) : max_senders_(max_senders) {}
  // Takes one token from the sender's bucket; false when it is empty.
  bool allow(const std::string& sender, const RateLimit& limit, LimitClock::time_point now = LimitClock::now());
  std::size_t tracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    LimitClock::time_point last{};
    std::list<std::string>::iterator lru;
  };
  const std::size_t max_senders_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> lru_;  // front: most recently seen
};

// At most `lines` log lines per `window`; the rest are counted, and the count is
// reported by a summary line (take_suppressed) instead of one line each.
class LogThrottle {
 public:
  LogThrottle(std::size_t lines, std::chrono::milliseconds window) : lines_(lines), window_(window) {}
  bool allow(LimitClock::time_point now = LimitClock::now());
  // Lines suppressed since the last call.
  std::uint64_t take_suppressed();

 private:
  const std::size_t lines_;
  const std::chrono::milliseconds window_;
  std::mutex mu_;
  LimitClock::time_point window_start_{};
  std::size_t used_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace x0x::runners
