#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "node/faults.h"

using namespace x0x::node;
using nlohmann::json;
using namespace std::chrono_literals;

static const std::string A(64, 'a'), B(64, 'b');

TEST_CASE("faults: bad requests name the field and change nothing") {
  Faults f;
  CHECK_THROWS_WITH(f.apply(json{{"loss", 1.5}}), Catch::StartsWith("loss:"));
  CHECK_THROWS_WITH(f.apply(json{{"delay_ms", -1}}), Catch::StartsWith("delay_ms:"));
  CHECK_THROWS_WITH(f.apply(json{{"partition", {"zz"}}}), Catch::StartsWith("partition[0]:"));
  CHECK_THROWS_WITH(f.apply(json{{"stale", "yes"}}), Catch::StartsWith("stale:"));
  CHECK_THROWS_WITH(f.apply(json{{"bogus", 1}}), Catch::StartsWith("bogus:"));
  CHECK_THROWS_WITH(f.apply(json{{"peers", {A}}}), Catch::StartsWith("peers:"));
  CHECK_THROWS_WITH(f.apply(json{{"stale", true}, {"lease_secs", 0}}), Catch::StartsWith("lease_secs:"));
  CHECK_FALSE(f.any());
}

TEST_CASE("faults: partition, stale and stall are reported with their lease and cleared") {
  Faults f;
  auto state = f.apply(json{{"partition", {A}}, {"stale", true}, {"lease_secs", 60}});
  CHECK(state["active"]["partition"]["lease_secs"] == 60);
  CHECK(state["active"].contains("stale"));
  CHECK(f.partitioned(A, "x"));
  CHECK(f.partitioned("x", A));
  CHECK_FALSE(f.partitioned(B, B));
  CHECK(f.stale());
  f.clear();
  CHECK_FALSE(f.any());
  CHECK_FALSE(f.partitioned(A, A));
}

TEST_CASE("faults: every fault lapses when its lease runs out") {
  Faults f;
  f.apply(json{{"stall_dispatcher", true}, {"lease_secs", 1}});
  CHECK(f.stall_dispatcher());
  CHECK_FALSE(f.expire(Clock::now()));
  CHECK(f.expire(Clock::now() + 2s));
  CHECK_FALSE(f.stall_dispatcher());
  CHECK_FALSE(f.any());
}

TEST_CASE("faults: loss and delay can be narrowed to some peers") {
  Faults f;
  f.apply(json{{"loss", 1.0}, {"delay_ms", 300}, {"peers", {A}}});
  CHECK(f.drop(A, "m"));
  CHECK_FALSE(f.drop(B, "m"));
  CHECK(f.delay(A, "m") == 300ms);
  CHECK(f.delay(B, "m") == 0ms);
  f.apply(json{{"loss", 0.0}});
  CHECK_FALSE(f.drop(A, "m"));
}

TEST_CASE("faults: window_frames shapes a delay, towards the delay's peers only") {
  Faults f;
  CHECK_THROWS_WITH(f.apply(json{{"window_frames", 10}}), Catch::StartsWith("window_frames:"));
  CHECK_THROWS_WITH(f.apply(json{{"delay_ms", 100}, {"window_frames", -1}}), Catch::StartsWith("window_frames:"));
  CHECK_FALSE(f.any());
  auto state = f.apply(json{{"delay_ms", 1500}, {"window_frames", 10}, {"peers", {A}}});
  CHECK(state["active"]["delay"]["window_frames"] == 10);
  CHECK(f.window_frames(A, "m") == 10);
  CHECK(f.window_frames(B, "m") == 0);
  CHECK(f.delaying(A, "m"));
  CHECK_FALSE(f.delaying(B, "m"));
  // A new delay without a window has none.
  f.apply(json{{"delay_ms", 200}});
  CHECK(f.window_frames(A, "m") == 0);
  f.clear();
  CHECK_FALSE(f.delaying(A, "m"));
}

TEST_CASE("faults: a cleared or lapsed fault keeps no parameter for the next one, and lease_secs says what it accepts") {
  Faults f;
  f.apply(json{{"delay_ms", 1000}, {"jitter_ms", 600000}, {"loss", 0.5}, {"lease_secs", 1}});
  f.clear();
  f.apply(json{{"delay_ms", 100}});
  CHECK(f.to_json()["active"]["delay"].value("jitter_ms", json(0)) == 0);  // not the old 600,000
  for (int i = 0; i < 50; ++i) CHECK(f.delay(A, "m") == 100ms);
  CHECK_FALSE(f.drop(A, "m"));

  Faults g;
  g.apply(json{{"delay_ms", 1000}, {"jitter_ms", 600000}, {"lease_secs", 1}});
  CHECK(g.expire(Clock::now() + 2s));
  g.apply(json{{"delay_ms", 100}});
  for (int i = 0; i < 50; ++i) CHECK(g.delay(A, "m") == 100ms);

  CHECK_THROWS_WITH(f.apply(json{{"stale", true}, {"lease_secs", 0}}), "lease_secs: must be in 1..604800");
  CHECK_THROWS_WITH(f.apply(json{{"stale", true}, {"lease_secs", "x"}}), "lease_secs: expected an integer in 1..604800");
}

TEST_CASE("faults: a renewal moves only the expiry of active kinds, and never brings back a cleared or lapsed one") {
  Faults f;
  f.apply(json{{"delay_ms", 300}, {"jitter_ms", 40}, {"window_frames", 10}, {"peers", {A}}, {"lease_secs", 2}});
  f.apply(json{{"stale", true}, {"lease_secs", 2}});
  auto state = f.apply(json{{"renew", {"delay"}}, {"lease_secs", 60}});
  auto d = state["active"]["delay"];
  CHECK(d["lease_secs"] == 60);
  CHECK(d["expires_in_ms"].get<std::int64_t>() > 50'000);
  CHECK(d["delay_ms"] == 300);  // parameters untouched
  CHECK(d["jitter_ms"] == 40);
  CHECK(d["window_frames"] == 10);
  CHECK(d["peers"] == json::array({A}));
  CHECK(state["active"]["stale"]["lease_secs"] == 2);  // a kind not named keeps its lease
  // Past the old lease, the renewed kind is still there; the other lapsed.
  CHECK(f.expire(Clock::now() + 3s));
  CHECK(f.delaying(A, "m"));
  CHECK_FALSE(f.stale());
  // A lapsed or cleared kind is not armed again by a renewal.
  state = f.apply(json{{"renew", {"stale", "delay"}}, {"lease_secs", 60}});
  CHECK_FALSE(state["active"].contains("stale"));
  f.clear();
  state = f.apply(json{{"renew", {"delay"}}, {"lease_secs", 60}});
  CHECK(state["active"].empty());
  CHECK_FALSE(f.any());
  // A renewal carries nothing else, and says so.
  CHECK_THROWS_WITH(f.apply(json{{"renew", {"delay"}}}), Catch::StartsWith("lease_secs:"));
  CHECK_THROWS_WITH(f.apply(json{{"renew", {"delay"}}, {"delay_ms", 5}, {"lease_secs", 5}}), Catch::StartsWith("delay_ms:"));
  CHECK_THROWS_WITH(f.apply(json{{"renew", {"bogus"}}, {"lease_secs", 5}}), Catch::StartsWith("renew:"));
  CHECK_THROWS_WITH(f.apply(json{{"renew", json::array()}, {"lease_secs", 5}}), Catch::StartsWith("renew:"));
}
