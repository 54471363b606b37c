// The quiescence signals a scenario window closes on: on every node, for the
// pubsub, membership and bulk streams, dispatcher received == completed +
// timed_out and recv_pump latest_depth == 0, and data_tx_depth == 0 (no send
// queued or being written). They must mean exactly that: quiet after the work
// is done, pending while a stalled dispatcher holds work.
#include <catch2/catch.hpp>

#include "core/encoding.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;

namespace {

std::uint64_t u(const json& j) { return j.get<std::uint64_t>(); }

struct Reading {
  std::string pending;                 // empty: nothing pending on the node
  std::vector<std::uint64_t> counters; // what moved: received per stream, bytes per peer
};

Reading read_node(TestFleet& fleet, std::size_t i) {
  auto g = fleet.get(i, "/diagnostics/gossip");
  auto c = fleet.get(i, "/diagnostics/connectivity");
  Reading r;
  for (auto s : {"pubsub", "membership", "bulk"}) {
    auto& d = g["dispatcher"][s];
    if (u(d["received"]) != u(d["completed"]) + u(d["timed_out"]))
      r.pending += std::string(s) + ": received " + d["received"].dump() + " > completed " + d["completed"].dump() +
                   " + timed_out " + d["timed_out"].dump() + "; ";
    if (u(g["recv_pump"][s]["latest_depth"]) != 0)
      r.pending += std::string(s) + ": latest_depth " + g["recv_pump"][s]["latest_depth"].dump() + "; ";
    r.counters.push_back(u(d["received"]));
  }
  if (u(c["data_tx"]["data_tx_depth"]) != 0) r.pending += "data_tx_depth " + c["data_tx"]["data_tx_depth"].dump() + "; ";
  for (auto& row : c["per_peer_transport"]) {
    r.counters.push_back(u(row["tcp_tx_bytes"]));
    r.counters.push_back(u(row["tcp_rx_bytes"]));
  }
  return r;
}

std::string pending_work(TestFleet& fleet, std::size_t i) { return read_node(fleet, i).pending; }

// Every node quiet in two consecutive polling rounds, with nothing moved in
// between. One round is not enough: nodes are read one after another, and a
// frame written by a node read later may still sit unread in the socket of a
// node read earlier (neither counts it as pending).
bool mesh_quiet(TestFleet& fleet, std::string& why) {
  std::vector<Reading> first;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    first.push_back(read_node(fleet, i));
    if (!first.back().pending.empty()) {
      why = "node " + std::to_string(i) + ": " + first.back().pending;
      return false;
    }
  }
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    auto again = read_node(fleet, i);
    if (!again.pending.empty() || again.counters != first[i].counters) {
      why = "node " + std::to_string(i) + " moved: " + again.pending;
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("quiescence: after a publish and DM burst every node reports nothing pending, and has delivered everything") {
  const std::size_t n = 4;
  TestFleet fleet(n);
  for (std::size_t i = 0; i < n; ++i) fleet.post(i, "/subscribe", {{"topic", "q"}});
  const int per_node = 100;
  for (int k = 0; k < per_node; ++k)
    for (std::size_t i = 0; i < n; ++i)
      fleet.post(i, "/publish", {{"topic", "q"}, {"payload", base64_encode(std::string(1024, 'a' + k % 26))}});
  for (std::size_t s = 0; s < n; ++s)
    CHECK(fleet.post(s, "/direct/send", {{"agent_id", fleet.agent_id((s + 1) % n)}, {"payload", "aGk="}})["ok"] == true);

  std::string why;
  bool quiet = eventually([&] { return mesh_quiet(fleet, why); }, 30s);
  INFO("last reading: " << why);
  REQUIRE(quiet);
  // Nothing pending anywhere means the burst has been handled everywhere.
  for (std::size_t i = 0; i < n; ++i) {
    INFO("node " << i);
    auto g = fleet.get(i, "/diagnostics/gossip");
    CHECK(u(g["stats"]["delivered_to_subscriber"]) == n * per_node);
    CHECK(u(g["dispatcher"]["pubsub"]["received"]) > 0);
    CHECK(u(g["dispatcher"]["bulk"]["received"]) > 0);
  }
}

TEST_CASE("quiescence: a stalled dispatcher shows work pending until the fault is cleared, then quiet") {
  // A long watchdog: the stalled worker holds its frame for the whole check.
  TestFleet fleet(2, "[lean]\ndispatch_timeout_ms = 60000\n");
  fleet.post(1, "/subscribe", {{"topic", "s"}});
  std::string settle;
  REQUIRE(eventually([&] { return mesh_quiet(fleet, settle); }, 20s));
  fleet.post(1, "/lean/faults", {{"stall_dispatcher", true}, {"lease_secs", 60}});
  const int total = 5;
  for (int k = 0; k < total; ++k)
    fleet.post(0, "/publish", {{"topic", "s"}, {"payload", base64_encode("stalled " + std::to_string(k))}});
  // The stalled worker holds one frame (received > completed + timed_out) and
  // the rest wait in the queue (latest_depth > 0).
  REQUIRE(eventually([&] {
    auto g = fleet.get(1, "/diagnostics/gossip");
    auto& d = g["dispatcher"]["pubsub"];
    return u(d["received"]) > u(d["completed"]) + u(d["timed_out"]) && u(g["recv_pump"]["pubsub"]["latest_depth"]) > 0;
  }, 10s));
  CHECK_FALSE(pending_work(fleet, 1).empty());
  CHECK(fleet.get(1, "/diagnostics/gossip")["stats"]["delivered_to_subscriber"] == 0);

  fleet.client(1).del("/lean/faults");
  std::string why;
  bool quiet = eventually([&] { return mesh_quiet(fleet, why); }, 20s);
  INFO("last reading: " << why);
  REQUIRE(quiet);
  auto g = fleet.get(1, "/diagnostics/gossip");
  CHECK(u(g["stats"]["delivered_to_subscriber"]) == total);
  CHECK(u(g["dispatcher"]["pubsub"]["timed_out"]) == 0);
}
