#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "node/message_cache.h"

using namespace x0x::node;
using namespace std::chrono_literals;

namespace {
wire::MsgId id_of(std::uint8_t b) {
  wire::MsgId id{};
  id.fill(b);
  return id;
}
}  // namespace

TEST_CASE("dedupe: an id is new once, then a duplicate until it ages out") {
  MessageCache::Limits lim;
  lim.seen_ttl = 10s;
  MessageCache c(lim);
  auto t0 = Clock::now();
  CHECK(c.mark_seen(id_of(1), t0));
  CHECK_FALSE(c.mark_seen(id_of(1), t0 + 1s));
  CHECK(c.seen(id_of(1)));
  c.evict(t0 + 11s);
  CHECK_FALSE(c.seen(id_of(1)));
  CHECK(c.mark_seen(id_of(1), t0 + 12s));
}

TEST_CASE("dedupe: the seen set is bounded, oldest first") {
  MessageCache::Limits lim;
  lim.max_seen = 3;
  MessageCache c(lim);
  for (std::uint8_t i = 1; i <= 4; ++i) c.mark_seen(id_of(i));
  CHECK(c.seen_count() == 3);
  CHECK_FALSE(c.seen(id_of(1)));
  CHECK(c.seen(id_of(4)));
}

TEST_CASE("message cache: bodies are bounded by count, bytes and age, and accounted per topic") {
  MessageCache::Limits lim;
  lim.max_bodies = 2;
  lim.max_bytes = 1000;
  lim.body_ttl = 5s;
  MessageCache c(lim);
  auto t0 = Clock::now();
  c.store(id_of(1), "a", std::string(100, 'x'), t0);
  c.store(id_of(2), "a", std::string(100, 'x'), t0);
  c.store(id_of(3), "b", std::string(100, 'x'), t0);
  CHECK(c.body(id_of(1)) == nullptr);
  CHECK(c.body(id_of(3)) != nullptr);
  c.store(id_of(4), "b", std::string(950, 'x'), t0);  // over the byte budget
  CHECK(c.body(id_of(2)) == nullptr);
  CHECK(c.recent_ids(10s, 10, t0 + 1s).size() == c.body_count());
  c.evict(t0 + 6s);
  CHECK(c.body_count() == 0);
  auto j = c.topic_caches_json(t0 + 6s);
  std::uint64_t by_count = 0, by_bytes = 0, by_age = 0;
  for (auto& row : j) {
    by_count += row["cache"]["evicted_by_count"].get<std::uint64_t>();
    by_bytes += row["cache"]["evicted_by_bytes"].get<std::uint64_t>();
    by_age += row["cache"]["evicted_by_age"].get<std::uint64_t>();
    CHECK(row["topic"].get<std::string>().size() == 16);
  }
  CHECK(by_count + by_bytes + by_age == 4);
  CHECK(by_age >= 1);
}
