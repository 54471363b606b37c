// The runner's one retry policy: which outcomes are final, the backoff schedule,
// the attempt and time budgets, and a stop cutting the wait short. The clock and
// the sleep are fakes: a sleep advances the fake clock and is recorded.
#include <catch2/catch.hpp>

#include <vector>

#include "runners/retry_policy.h"

using namespace x0x::runners;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

namespace {

struct FakeTime {
  RetryPolicy::Clock::time_point t{};
  std::vector<ms> sleeps;
  int stop_at_sleep = -1;  // the n-th sleep (from 0) is interrupted

  std::function<bool(ms)> sleeper() {
    return [this](ms d) {
      if (static_cast<int>(sleeps.size()) == stop_at_sleep) return false;
      sleeps.push_back(d);
      t += d;
      return true;
    };
  }
  std::function<RetryPolicy::Clock::time_point()> clock() {
    return [this] { return t; };
  }
};

// An attempt function that returns the given outcomes in order (the last one repeats).
std::function<AttemptOutcome(int)> outcomes(std::vector<AttemptOutcome> seq, std::vector<int>* seen) {
  return [seq, seen](int attempt) {
    seen->push_back(attempt);
    return seq[std::min<std::size_t>(static_cast<std::size_t>(attempt - 1), seq.size() - 1)];
  };
}

}  // namespace

TEST_CASE("runner retry: 400, 401, 403, 404 and 409 are final, 5xx, 408, 429 and others are retried") {
  for (long s : {400, 401, 403, 404, 409}) {
    INFO(s);
    CHECK(is_final_http_status(s));
    CHECK(classify_http_status(s) == AttemptOutcome::final_failure);
  }
  for (long s : {0, 408, 410, 413, 425, 429, 500, 502, 503, 504}) {
    INFO(s);
    CHECK_FALSE(is_final_http_status(s));
    CHECK(classify_http_status(s) == AttemptOutcome::retry);
  }
  for (long s : {200, 201, 202, 204}) CHECK(classify_http_status(s) == AttemptOutcome::success);
}

TEST_CASE("runner retry: daemon requests get 3 attempts, 1 s then 2 s apart, and no sleep after the last") {
  FakeTime ft;
  std::vector<int> seen;
  auto p = daemon_request_policy(1000ms);
  auto rep = p.run(outcomes({AttemptOutcome::retry}, &seen), ft.sleeper(), ft.clock());
  CHECK(rep.end == RetryEnd::exhausted);
  CHECK(rep.attempts == 3);
  CHECK(seen == std::vector<int>{1, 2, 3});
  CHECK(ft.sleeps == std::vector<ms>{1000ms, 2000ms});
}

TEST_CASE("runner retry: a final failure stops at once, a success after retries ends the loop") {
  FakeTime ft;
  std::vector<int> seen;
  auto p = daemon_request_policy(1000ms);
  SECTION("final on the first attempt: no sleep, no second attempt") {
    auto rep = p.run(outcomes({AttemptOutcome::final_failure}, &seen), ft.sleeper(), ft.clock());
    CHECK(rep.end == RetryEnd::final_failure);
    CHECK(rep.attempts == 1);
    CHECK(ft.sleeps.empty());
  }
  SECTION("a retry, then final") {
    auto rep = p.run(outcomes({AttemptOutcome::retry, AttemptOutcome::final_failure}, &seen), ft.sleeper(), ft.clock());
    CHECK(rep.end == RetryEnd::final_failure);
    CHECK(rep.attempts == 2);
    CHECK(ft.sleeps == std::vector<ms>{1000ms});
  }
  SECTION("two retries, then success") {
    auto rep = p.run(outcomes({AttemptOutcome::retry, AttemptOutcome::retry, AttemptOutcome::success}, &seen),
                     ft.sleeper(), ft.clock());
    CHECK(rep.end == RetryEnd::succeeded);
    CHECK(rep.attempts == 3);
  }
}

TEST_CASE("runner retry: a stop during the wait ends the loop without another attempt") {
  FakeTime ft;
  ft.stop_at_sleep = 1;  // the second wait is interrupted
  std::vector<int> seen;
  auto rep = daemon_request_policy(1000ms).run(outcomes({AttemptOutcome::retry}, &seen), ft.sleeper(), ft.clock());
  CHECK(rep.end == RetryEnd::interrupted);
  CHECK(rep.attempts == 2);
  CHECK(seen == std::vector<int>{1, 2});
}

TEST_CASE("runner retry: the wait doubles up to its cap") {
  RetryPolicy p;
  p.first_backoff = 250ms;
  p.max_backoff = 4s;
  CHECK(p.backoff_after(1) == 250ms);
  CHECK(p.backoff_after(2) == 500ms);
  CHECK(p.backoff_after(3) == 1000ms);
  CHECK(p.backoff_after(5) == 4000ms);
  CHECK(p.backoff_after(6) == 4000ms);
  CHECK(p.backoff_after(1000) == 4000ms);
  p.first_backoff = 0ms;  // tests shorten the waits to nothing
  CHECK(p.backoff_after(3) == 0ms);
}

TEST_CASE("runner retry: waiting for the daemon is bounded by time, the last wait cut to the deadline") {
  FakeTime ft;
  std::vector<int> seen;
  auto p = daemon_ready_policy(10s);
  auto rep = p.run(outcomes({AttemptOutcome::retry}, &seen), ft.sleeper(), ft.clock());
  CHECK(rep.end == RetryEnd::exhausted);
  // 0.25 + 0.5 + 1 + 2 + 4 = 7.75 s, then the 4 s wait is cut to the 2.25 s left; one last attempt at 10 s.
  CHECK(ft.sleeps == std::vector<ms>{250ms, 500ms, 1000ms, 2000ms, 4000ms, 2250ms});
  CHECK(rep.attempts == 7);
  CHECK(ft.t - RetryPolicy::Clock::time_point{} == 10s);
}

TEST_CASE("runner retry: the daemon wait ends at once when the token is rejected, and on success") {
  FakeTime ft;
  std::vector<int> seen;
  auto p = daemon_ready_policy(30s);
  auto rep = p.run(outcomes({AttemptOutcome::retry, classify_http_status(401)}, &seen), ft.sleeper(), ft.clock());
  CHECK(rep.end == RetryEnd::final_failure);
  CHECK(rep.attempts == 2);
  seen.clear();
  rep = p.run(outcomes({AttemptOutcome::retry, AttemptOutcome::retry, AttemptOutcome::success}, &seen), ft.sleeper(),
              ft.clock());
  CHECK(rep.end == RetryEnd::succeeded);
  CHECK(rep.attempts == 3);
}

TEST_CASE("runner retry: a policy with neither an attempt limit nor a time budget tries once") {
  FakeTime ft;
  std::vector<int> seen;
  RetryPolicy p;
  p.max_attempts = 0;
  auto rep = p.run(outcomes({AttemptOutcome::retry}, &seen), ft.sleeper(), ft.clock());
  CHECK(rep.end == RetryEnd::exhausted);
  CHECK(rep.attempts == 1);
  CHECK(ft.sleeps.empty());
}
