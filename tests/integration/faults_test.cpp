// The lean node's faults have real effects on the wire path and the
// dispatcher, and the counters say so.
#include <catch2/catch.hpp>

#include "core/encoding.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;

namespace {
// Short budgets so a test sees timeouts in seconds, not the production 10 s / 30 s.
const char* kShortBudgets = "[lean]\ndm_ack_timeout_ms = 3000\ndispatch_timeout_ms = 300\n";
}

TEST_CASE("faults: a delayed ack makes the sender retry, and the receiver delivers the DM once") {
  TestFleet fleet(2, kShortBudgets);
  auto& inbox = fleet.stream(1, "/direct/events");
  // Node 1 holds everything it sends for 2.2 s: its ack misses the 2 s retry.
  fleet.post(1, "/lean/faults", {{"delay_ms", 2200}, {"lease_secs", 30}});
  auto r = fleet.post(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", base64_encode("once")}});
  CHECK(r["ok"] == true);
  CHECK(r["retries_used"].get<int>() >= 1);
  REQUIRE(eventually([&] { return fleet.get(1, "/diagnostics/dm")["stats"]["incoming_duplicates"].get<int>() >= 1; }, 10s));
  CHECK(inbox.count() == 1);
  fleet.client(1).del("/lean/faults");
}

TEST_CASE("faults: total loss towards one peer times DMs out with 504, counted as lost packets") {
  TestFleet fleet(3, kShortBudgets);
  fleet.post(0, "/lean/faults", {{"loss", 1.0}, {"peers", {fleet.agent_id(1)}}, {"lease_secs", 30}});
  auto lost = fleet.post_raw(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", "aGk="}});
  CHECK(lost.status == 504);
  CHECK(lost.json()["error"] == "timeout");
  auto fine = fleet.post(0, "/direct/send", {{"agent_id", fleet.agent_id(2)}, {"payload", "aGk="}});
  CHECK(fine["ok"] == true);  // narrowed to one peer
  auto conn = fleet.get(0, "/diagnostics/connectivity");
  std::uint64_t lost_to_1 = 0;
  for (auto& row : conn["per_peer_transport"])
    if (row["peer_id"] == fleet.machine_id(1)) lost_to_1 = row["lost_packets"];
  CHECK(lost_to_1 >= 1);
  fleet.client(0).del("/lean/faults");
  CHECK(fleet.post(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", "aGk="}})["ok"] == true);
}

TEST_CASE("faults: a stalled dispatcher times messages out, and clearing it restores delivery") {
  TestFleet fleet(2, kShortBudgets);
  fleet.post(1, "/subscribe", {{"topic", "s"}});
  auto& ev = fleet.stream(1, "/events");
  fleet.post(1, "/lean/faults", {{"stall_dispatcher", true}, {"lease_secs", 30}});
  fleet.post(0, "/publish", {{"topic", "s"}, {"payload", base64_encode("stalled")}});
  REQUIRE(eventually([&] { return fleet.get(1, "/diagnostics/gossip")["dispatcher"]["pubsub"]["timed_out"].get<int>() >= 1; }, 10s));
  CHECK(ev.count() == 0);
  fleet.client(1).del("/lean/faults");
  fleet.post(0, "/publish", {{"topic", "s"}, {"payload", base64_encode("flowing")}});
  CHECK(ev.wait_for([](auto& e) { return !e.empty(); }, 10s));
}

TEST_CASE("faults: a stale node keeps its connections and API but answers nothing") {
  TestFleet fleet(2, kShortBudgets);
  fleet.post(1, "/lean/faults", {{"stale", true}, {"lease_secs", 30}});
  auto r = fleet.post_raw(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", "aGk="}});
  CHECK(r.status == 504);
  CHECK(fleet.peers(0) == 1);  // the connection stays open
  CHECK(fleet.get(1, "/lean/faults")["active"].contains("stale"));
  fleet.client(1).del("/lean/faults");
  CHECK(fleet.post(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", "aGk="}})["ok"] == true);
}
