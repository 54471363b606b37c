#include "core/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace x0x {

std::size_t parallel_for_workers(std::size_t n, std::size_t max_parallel,
                                 const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return 0;
  const std::size_t threads = std::min(n, std::max<std::size_t>(1, max_parallel));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  std::mutex mu;
  auto work = [&](std::size_t worker) {
    for (std::size_t i; !failed.load() && (i = next++) < n;) {
      try {
        fn(i, worker);
      } catch (...) {
        std::lock_guard lk(mu);
        if (!first) first = std::current_exception();
        failed = true;
      }
    }
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    try {
      for (std::size_t w = 0; w < threads; ++w) pool.emplace_back(work, w);
    } catch (...) {
      // Could not start a thread: the ones running finish, then the error is the caller's.
      std::lock_guard lk(mu);
      if (!first) first = std::current_exception();
      failed = true;
    }
    for (auto& t : pool) t.join();
  }
  if (first) std::rethrow_exception(first);
  return threads;
}

}  // namespace x0x
