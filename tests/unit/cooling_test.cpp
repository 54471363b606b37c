#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "node/cooling.h"

using namespace x0x::node;
using namespace std::chrono_literals;

TEST_CASE("cooling: five timeouts inside the window cool a (peer, topic) pair") {
  Cooling c;
  auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) CHECK_FALSE(c.record_timeout("p", "t", t0 + i * 1s));
  CHECK(c.record_timeout("p", "t", t0 + 4s));
  CHECK(c.state("p", "t") == Cooling::State::cooldown);
  CHECK_FALSE(c.take_eager_slot("p", "t"));
  CHECK(c.take_eager_slot("p", "other-topic"));
  CHECK(c.suppressed_count() == 1);
}

TEST_CASE("cooling: timeouts spread wider than the window do not cool") {
  Cooling c;
  auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i) CHECK_FALSE(c.record_timeout("p", "t", t0 + i * 31s));
  CHECK(c.state("p", "t") == Cooling::State::normal);
}

TEST_CASE("cooling: cooldown -> recovery_ready -> probe -> normal on a timely send") {
  Cooling::Policy pol;
  pol.cooldown = 10s;
  Cooling c(pol);
  auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) c.record_timeout("p", "t", t0);
  c.tick(t0 + 5s);
  CHECK(c.state("p", "t") == Cooling::State::cooldown);
  c.tick(t0 + 11s);
  CHECK(c.state("p", "t") == Cooling::State::recovery_ready);
  CHECK(c.take_eager_slot("p", "t"));
  CHECK(c.state("p", "t") == Cooling::State::recovery_probe);
  c.record_success("p", "t", t0 + 12s);
  CHECK(c.state("p", "t") == Cooling::State::normal);
  auto j = c.to_json_with_roles({{{"p", "t"}, "eager"}}, t0 + 12s);
  CHECK(j["suppressed_peers"].empty());
  REQUIRE(j["peer_scores"].size() == 1);
  CHECK(j["peer_scores"][0]["cooling_events"] == 1.0);
  CHECK(j["peer_scores"][0]["recovery_successes"] == 1.0);
  CHECK(j["peer_scores"][0]["role"] == "eager");
}

TEST_CASE("cooling: the suppression set is bounded") {
  Cooling::Policy pol;
  pol.threshold = 1;
  pol.max_suppressed = 3;
  Cooling c(pol);
  auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) c.record_timeout("p" + std::to_string(i), "t", t0 + i * 1ms);
  std::size_t cooled = 0;
  for (int i = 0; i < 5; ++i) cooled += c.state("p" + std::to_string(i), "t") == Cooling::State::cooldown;
  CHECK(cooled == 3);
  CHECK(c.suppressed_count() == 3);
  CHECK(c.state("p0", "t") == Cooling::State::normal);  // oldest evicted first
  CHECK(c.state("p1", "t") == Cooling::State::normal);
}

TEST_CASE("cooling: diagnostics rows use 16-hex peer and topic ids") {
  Cooling::Policy pol;
  pol.threshold = 1;
  Cooling c(pol);
  c.record_timeout(std::string(64, 'f'), "x0x.test.control.v1", Clock::now());
  auto j = c.to_json_with_roles({}, Clock::now());
  REQUIRE(j["suppressed_peers"].size() == 1);
  auto row = j["suppressed_peers"][0];
  CHECK(row["peer_id"] == std::string(16, 'f'));
  CHECK(row["topic"].get<std::string>().size() == 16);
  CHECK(row["state"] == "cooldown");
  CHECK(j["suppressed_peers_by_topic"].size() == 1);
}
