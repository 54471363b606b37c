// The lean node's faults have real effects on the wire path and the
// dispatcher, and the counters say so.
#include <catch2/catch.hpp>

#include <thread>

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

TEST_CASE("faults: a delay with a window carries at most that many frames per round trip, and lifting it releases what it holds") {
  TestFleet fleet(2, kShortBudgets);
  fleet.post(1, "/subscribe", {{"topic", "w"}});
  auto& ev = fleet.stream(1, "/events");
  // Node 0's link to node 1: a 3 s round trip, 2 frames per round trip.
  fleet.post(0, "/lean/faults", {{"delay_ms", 3000}, {"window_frames", 2}, {"peers", {fleet.agent_id(1)}}, {"lease_secs", 60}});
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) fleet.post(0, "/publish", {{"topic", "w"}, {"payload", base64_encode("m" + std::to_string(i))}});
  // Without a window all six would leave at ~3 s; with two per round trip,
  // frames 1-2 leave at 3 s, 3-4 at 6 s, 5-6 at 9 s. Frames are never early,
  // so at 4.5 s at most two have arrived, whatever the machine's load.
  REQUIRE(ev.wait_for([](auto& e) { return e.size() >= 1; }, 20s));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(2900));
  auto check_at = t0 + std::chrono::milliseconds(4500);
  while (std::chrono::steady_clock::now() < check_at) std::this_thread::sleep_for(10ms);  // a point in time to check a bound at
  CHECK(ev.count() <= 2);
  CHECK(fleet.get(0, "/diagnostics/connectivity")["data_tx"]["data_tx_depth"].get<int>() >= 1);  // the rest is held
  // Lifting the fault lets what it holds leave at once: long before 9 s.
  fleet.client(0).del("/lean/faults");
  CHECK(ev.wait_for([](auto& e) { return e.size() >= 6; }, 3s));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(8500));
}

TEST_CASE("faults: when a delay's lease lapses, what the delay holds leaves at once") {
  TestFleet fleet(2);
  // A 30 s delay on everything node 0 sends, leased for 2 s only.
  fleet.post(0, "/lean/faults", {{"delay_ms", 30000}, {"lease_secs", 2}});
  auto t0 = std::chrono::steady_clock::now();
  auto r = fleet.post(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", base64_encode("held, then freed")}});
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r["ok"] == true);
  CHECK(took >= std::chrono::milliseconds(1500));  // it was held...
  CHECK(took < std::chrono::seconds(8));           // ...until the lease lapsed, not for the delay's 30 s
  CHECK(fleet.get(0, "/lean/faults")["active"].empty());
}
