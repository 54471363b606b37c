// The runner's one retry policy, used by every loop that talks to its daemon:
// the send_dm hop, the result DMs, the results-topic publish and the wait for
// the daemon at start-up (spec mesh-protocol.md §2.6, §2.7, §2.10).
//
// Fixed against the reference (spec §8 weakness 11): not only 404 is final but
// every status no retry can change (400, 401, 403, 404, 409), a 2xx that says
// ok:false is retried, and there is no pointless sleep after the last attempt.
#pragma once
#include <chrono>
#include <functional>
#include <string_view>

namespace x0x::runners {

// What one attempt came to.
enum class AttemptOutcome { success, retry, final_failure };

// HTTP statuses that the same request will get again: bad request, token rejected,
// forbidden, no such agent (or route), conflict. Everything else (5xx, 408, 429,
// a transport error) may pass on a later attempt.
bool is_final_http_status(long status);
// success for a 2xx, final_failure for a final status, retry otherwise. A caller
// that needs more than a 2xx (ok:true in the body) maps that failure to retry.
AttemptOutcome classify_http_status(long status);

enum class RetryEnd {
  succeeded,
  final_failure,  // an attempt failed in a way no retry can change
  exhausted,      // max_attempts used up, or the time budget
  interrupted,    // the sleep between attempts was cut short (stop requested)
};
std::string_view to_string(RetryEnd e);

struct RetryReport {
  RetryEnd end = RetryEnd::exhausted;
  int attempts = 0;
};

struct RetryPolicy {
  using Clock = std::chrono::steady_clock;

  int max_attempts = 3;                          // 0: bounded by give_up_after alone (with neither: one attempt)
  std::chrono::milliseconds first_backoff{1000};  // the wait after attempt 1; doubles after each further one
  std::chrono::milliseconds max_backoff{4000};
  std::chrono::milliseconds give_up_after{0};    // > 0: no new attempt once this long has passed since the first

  // The wait after failed attempt n (n >= 1): first_backoff × 2^(n−1), at most max_backoff.
  std::chrono::milliseconds backoff_after(int attempt) const;

  // Runs attempt(n) for n = 1, 2, … until it succeeds or fails finally, the attempts or
  // the time budget are used up, or sleep(d) returns false (a stop was requested).
  // Sleeps only between attempts, never after the last; within a time budget the last
  // wait is cut to what is left of it. now() is the clock (injected by tests).
  RetryReport run(const std::function<AttemptOutcome(int attempt)>& attempt,
                  const std::function<bool(std::chrono::milliseconds)>& sleep,
                  const std::function<Clock::time_point()>& now = Clock::now) const;
};

// The runner's requests to its daemon (hop DMs, result DMs, results-topic publish):
// 3 attempts, waiting `first_backoff` (1 s by default) and then twice that in between.
RetryPolicy daemon_request_policy(std::chrono::milliseconds first_backoff);
// Waiting for the daemon at start-up: 250 ms doubling up to 4 s, for `budget` in all.
RetryPolicy daemon_ready_policy(std::chrono::milliseconds budget);

}  // namespace x0x::runners
