#include "node/metrics.h"

#include <nlohmann/json.hpp>

namespace x0x::node {

void StageTimer::record(std::chrono::nanoseconds d) {
  auto ns = static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count());
  count.fetch_add(1, std::memory_order_relaxed);
  total_ns.fetch_add(ns, std::memory_order_relaxed);
  atomic_max(max_ns, ns);
  if (ns >= 1'000'000'000ull) over_1s.fetch_add(1, std::memory_order_relaxed);
  if (ns >= 5'000'000'000ull) over_5s.fetch_add(1, std::memory_order_relaxed);
  if (ns >= 30'000'000'000ull) over_30s.fetch_add(1, std::memory_order_relaxed);
}

nlohmann::json StageTimer::to_json() const {
  return {{"count", count.load()},       {"total_ns", total_ns.load()},
          {"max_ns", max_ns.load()},     {"over_1s_count", over_1s.load()},
          {"over_5s_count", over_5s.load()}, {"over_30s_count", over_30s.load()}};
}

}  // namespace x0x::node
