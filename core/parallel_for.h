// The one bounded parallel loop: fn(item) for every item in [0, n) on at most
// `max_parallel` threads. The first exception any item throws stops new items
// from starting, waits for the ones in flight, and is rethrown to the caller
// (an exception never escapes a thread body, which would end the process).
// Items that must all run whatever happens catch inside fn.
#pragma once
#include <cstddef>
#include <functional>
#include <type_traits>

namespace x0x {

// fn(item, worker): worker is in [0, threads) and stable for a thread, so a
// caller can keep per-thread state (a REST client) in a vector indexed by it.
// Returns the number of threads used (0 when n == 0). With one thread the
// items run on the calling thread.
std::size_t parallel_for_workers(std::size_t n, std::size_t max_parallel,
                                 const std::function<void(std::size_t item, std::size_t worker)>& fn);

template <class Fn>
void parallel_for(std::size_t n, std::size_t max_parallel, Fn&& fn) {
  static_assert(std::is_invocable_v<Fn&, std::size_t>, "parallel_for: fn(std::size_t item)");
  parallel_for_workers(n, max_parallel, [&fn](std::size_t item, std::size_t) { fn(item); });
}

}  // namespace x0x
