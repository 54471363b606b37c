#include "runners/sender_limits.h"

#include <algorithm>
#include <utility>

namespace x0x::runners {

bool SenderRateLimiter::allow(const std::string& sender, const RateLimit& limit, LimitClock::time_point now) {
  std::lock_guard lk(mu_);
  auto it = buckets_.find(sender);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_senders_ && !lru_.empty()) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(sender);
    it = buckets_.emplace(sender, Bucket{limit.burst, now, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    const double elapsed = std::chrono::duration<double>(now - it->second.last).count();
    it->second.tokens = std::min(limit.burst, it->second.tokens + std::max(0.0, elapsed) * limit.per_second);
    it->second.last = now;
  }
  if (it->second.tokens < 1.0) return false;
  it->second.tokens -= 1.0;
  return true;
}

std::size_t SenderRateLimiter::tracked() const {
  std::lock_guard lk(mu_);
  return buckets_.size();
}

bool LogThrottle::allow(LimitClock::time_point now) {
  std::lock_guard lk(mu_);
  if (now - window_start_ >= window_) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ < lines_) {
    ++used_;
    return true;
  }
  ++suppressed_;
  return false;
}

std::uint64_t LogThrottle::take_suppressed() {
  std::lock_guard lk(mu_);
  return std::exchange(suppressed_, 0);
}

}  // namespace x0x::runners
