#include "runners/retry_policy.h"

#include <algorithm>

namespace x0x::runners {

using namespace std::chrono_literals;

bool is_final_http_status(long status) {
  return status == 400 || status == 401 || status == 403 || status == 404 || status == 409;
}

AttemptOutcome classify_http_status(long status) {
  if (status >= 200 && status < 300) return AttemptOutcome::success;
  return is_final_http_status(status) ? AttemptOutcome::final_failure : AttemptOutcome::retry;
}

std::string_view to_string(RetryEnd e) {
  switch (e) {
    case RetryEnd::succeeded: return "succeeded";
    case RetryEnd::final_failure: return "final failure";
    case RetryEnd::exhausted: return "attempts exhausted";
    case RetryEnd::interrupted: return "interrupted";
  }
  return "?";
}

std::chrono::milliseconds RetryPolicy::backoff_after(int attempt) const {
  auto d = std::max(first_backoff, 0ms);
  for (int i = 1; i < attempt && d < max_backoff; ++i) d *= 2;
  return std::min(d, max_backoff);
}

RetryReport RetryPolicy::run(const std::function<AttemptOutcome(int)>& attempt,
                             const std::function<bool(std::chrono::milliseconds)>& sleep,
                             const std::function<Clock::time_point()>& now) const {
  const bool timed = give_up_after > 0ms;
  const auto deadline = timed ? now() + give_up_after : Clock::time_point::max();
  RetryReport rep;
  while (true) {
    ++rep.attempts;
    switch (attempt(rep.attempts)) {
      case AttemptOutcome::success: rep.end = RetryEnd::succeeded; return rep;
      case AttemptOutcome::final_failure: rep.end = RetryEnd::final_failure; return rep;
      case AttemptOutcome::retry: break;
    }
    if (max_attempts > 0 ? rep.attempts >= max_attempts : !timed) break;
    auto wait = backoff_after(rep.attempts);
    if (timed) {
      const auto t = now();
      if (t >= deadline) break;
      // Wake at the deadline at the latest, for one last attempt there.
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(deadline - t));
    }
    if (!sleep(wait)) {
      rep.end = RetryEnd::interrupted;
      return rep;
    }
  }
  rep.end = RetryEnd::exhausted;
  return rep;
}

RetryPolicy daemon_request_policy(std::chrono::milliseconds first_backoff) {
  RetryPolicy p;
  p.max_attempts = 3;
  p.first_backoff = first_backoff;
  p.max_backoff = first_backoff * 2;
  return p;
}

RetryPolicy daemon_ready_policy(std::chrono::milliseconds budget) {
  RetryPolicy p;
  p.max_attempts = 0;
  p.first_backoff = 250ms;
  p.max_backoff = 4s;
  p.give_up_after = budget;
  return p;
}

}  // namespace x0x::runners
