#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "core/parallel_for.h"

using x0x::parallel_for;
using x0x::parallel_for_workers;

TEST_CASE("parallel_for runs every item once and never more than the bound at a time", "[parallel_for]") {
  std::vector<std::atomic<int>> runs(200);
  std::atomic<int> active{0}, peak{0};
  parallel_for(runs.size(), 4, [&](std::size_t i) {
    int now = ++active;
    for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    runs[i]++;
    --active;
  });
  for (auto& r : runs) CHECK(r.load() == 1);
  CHECK(peak.load() <= 4);
  CHECK(peak.load() >= 2);  // it did run in parallel
}

TEST_CASE("parallel_for hands the first exception to the caller and starts nothing after it", "[parallel_for]") {
  std::atomic<int> started{0};
  try {
    parallel_for(1000, 3, [&](std::size_t i) {
      ++started;
      if (i == 5) throw std::runtime_error("item 5 failed");
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    });
    FAIL("no exception reached the caller");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "item 5 failed");
  }
  CHECK(started.load() < 1000);
}

TEST_CASE("parallel_for_workers gives each thread a stable worker index below the thread count", "[parallel_for]") {
  std::mutex mu;
  std::set<std::size_t> workers;
  auto used = parallel_for_workers(50, 8, [&](std::size_t, std::size_t w) {
    std::lock_guard lk(mu);
    workers.insert(w);
  });
  CHECK(used == 8);
  for (auto w : workers) CHECK(w < used);
  CHECK(parallel_for_workers(0, 8, [](std::size_t, std::size_t) {}) == 0);
  CHECK(parallel_for_workers(3, 8, [](std::size_t, std::size_t) {}) == 3);
  // One thread: items run on the calling thread.
  auto caller = std::this_thread::get_id();
  parallel_for(5, 1, [&](std::size_t) { CHECK(std::this_thread::get_id() == caller); });
}
