// Multi-process tests: real x0x-lean-node processes on loopback, real HTTP,
// real SSE streams.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "core/encoding.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;

namespace {

json event_json(const probes::SseEvent& e) { return json::parse(e.data); }

std::size_t count_payload(const std::vector<probes::SseEvent>& events, const std::string& payload_b64) {
  std::size_t n = 0;
  for (auto& e : events)
    if (e.event == "message" && event_json(e)["data"]["payload"] == payload_b64) ++n;
  return n;
}

}  // namespace

TEST_CASE("mesh: five nodes joined through one bootstrap form a full mesh and gossip reaches every subscriber exactly once") {
  TestFleet fleet(5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(fleet.peers(i) == 4);

  std::vector<probes::SseCollector*> events;
  std::vector<std::string> subs;
  for (std::size_t i = 0; i < 5; ++i) {
    subs.push_back(fleet.post(i, "/subscribe", {{"topic", "it.topic"}})["subscription_id"]);
    CHECK(is_hex(subs.back(), 16));
    events.push_back(&fleet.stream(i, "/events"));
  }
  auto first = base64_encode("first message");
  auto marker = base64_encode("marker published afterwards");
  CHECK(fleet.post(2, "/publish", {{"topic", "it.topic"}, {"payload", first}})["ok"] == true);
  CHECK(fleet.post(2, "/publish", {{"topic", "it.topic"}, {"payload", marker}})["ok"] == true);
  for (std::size_t i = 0; i < 5; ++i) {
    INFO("node " << i);
    REQUIRE(events[i]->wait_for([&](auto& ev) { return count_payload(ev, first) >= 1 && count_payload(ev, marker) >= 1; }, 15s));
  }
  // Both arrived everywhere; duplicates would have arrived by now too.
  for (std::size_t i = 0; i < 5; ++i) {
    INFO("node " << i);
    CHECK(count_payload(events[i]->snapshot(), first) == 1);
    auto ev = event_json(events[i]->snapshot().front());
    CHECK(ev["type"] == "message");
    CHECK(ev["data"]["subscription_id"] == subs[i]);
    CHECK(ev["data"]["sender"] == fleet.agent_id(2));
    CHECK(ev["data"]["verified"] == true);
    CHECK(ev["data"]["topic"] == "it.topic");
  }
  // local: topics never leave the publishing node.
  fleet.post(0, "/subscribe", {{"topic", "local:only"}});
  fleet.post(1, "/subscribe", {{"topic", "local:only"}});
  auto local = base64_encode("stays home");
  fleet.post(0, "/publish", {{"topic", "local:only"}, {"payload", local}});
  fleet.post(0, "/publish", {{"topic", "it.topic"}, {"payload", base64_encode("after local")}});
  REQUIRE(events[1]->wait_for([&](auto& ev) { return count_payload(ev, base64_encode("after local")) == 1; }, 15s));
  CHECK(count_payload(events[0]->snapshot(), local) == 1);
  CHECK(count_payload(events[1]->snapshot(), local) == 0);
}

TEST_CASE("mesh: all 20 directed DMs arrive with receipts, and a self-DM is loopback") {
  TestFleet fleet(5);
  std::vector<probes::SseCollector*> inbox;
  for (std::size_t i = 0; i < 5; ++i) inbox.push_back(&fleet.stream(i, "/direct/events"));
  for (std::size_t s = 0; s < 5; ++s)
    for (std::size_t d = 0; d < 5; ++d) {
      if (s == d) continue;
      auto payload = base64_encode("dm " + std::to_string(s) + "->" + std::to_string(d));
      auto r = fleet.post(s, "/direct/send", {{"agent_id", fleet.agent_id(d)}, {"payload", payload}});
      INFO(s << "->" << d << " " << r.dump());
      CHECK(r["ok"] == true);
      CHECK(r["path"] == "gossip_inbox");
      CHECK(is_hex(r["request_id"].get<std::string>(), 32));
      CHECK(r["retries_used"] == 0);
    }
  for (std::size_t d = 0; d < 5; ++d) {
    REQUIRE(inbox[d]->wait_for([](auto& ev) { return ev.size() >= 4; }, 15s));
    std::set<std::string> senders;
    for (auto& e : inbox[d]->snapshot()) {
      auto j = event_json(e);
      CHECK(e.event == "direct_message");
      CHECK(j["verified"] == true);
      CHECK(j["received_at"].get<std::uint64_t>() > 1'700'000'000'000ull);  // milliseconds
      senders.insert(j["sender"]);
    }
    CHECK(senders.size() == 4);
    CHECK(inbox[d]->count() == 4);
  }
  auto self = fleet.post(3, "/direct/send", {{"agent_id", fleet.agent_id(3)}, {"payload", base64_encode("me")}});
  CHECK(self["path"] == "loopback");
  REQUIRE(inbox[3]->wait_for([](auto& ev) { return ev.size() == 5; }, 10s));
  auto last = event_json(inbox[3]->snapshot().back());
  CHECK(last["sender"] == fleet.agent_id(3));
  CHECK(last["trust_decision"] == "accept");

  auto unknown = fleet.post_raw(0, "/direct/send", {{"agent_id", std::string(64, 'e')}, {"payload", "aGk="}});
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["error"] == "recipient_key_unavailable");
  auto bad = fleet.post_raw(0, "/direct/send", {{"agent_id", "abc"}, {"payload", "aGk="}});
  CHECK(bad.status == 400);
}

TEST_CASE("mesh: the API refuses a missing or wrong token, /health is open") {
  TestFleet fleet(1);
  auto& n = fleet.mesh().nodes()[0];
  probes::RestClient anon(n.api_base);
  CHECK(anon.get("/health").status == 200);
  auto r = anon.get("/agent");
  CHECK(r.status == 401);
  CHECK(r.body == R"({"error":"missing or invalid Authorization: Bearer token"})");
  probes::RestClient wrong(n.api_base, std::string(64, '0'));
  CHECK(wrong.get("/diagnostics/gossip").status == 401);
  CHECK(wrong.post("/publish", R"({"topic":"t","payload":"aGk="})").status == 401);
  auto good = fleet.client(0);
  CHECK(good.get("/agent").status == 200);
  CHECK(good.get("/no/such/route").status == 404);
  CHECK(good.post("/publish", "{not json").status == 400);
  CHECK(good.post("/publish", R"({"topic":"t"})").status == 422);
  CHECK(good.post("/publish", R"({"topic":"","payload":"aGk="})").json()["error"] == "topic must not be empty");
}

TEST_CASE("mesh: a partition stops direct traffic between the pair, gossip still reaches both, clearing restores DMs") {
  TestFleet fleet(4);
  for (std::size_t i : {0u, 1u}) fleet.post(i, "/subscribe", {{"topic", "p.topic"}});
  auto& ev0 = fleet.stream(0, "/events");
  auto& ev1 = fleet.stream(1, "/events");
  auto& inbox1 = fleet.stream(1, "/direct/events");

  auto state = fleet.post(0, "/lean/faults", {{"partition", {fleet.agent_id(1)}}, {"lease_secs", 120}});
  CHECK(state["active"]["partition"]["lease_secs"] == 120);
  REQUIRE(eventually([&] { return fleet.peers(0) == 2 && fleet.peers(1) == 2; }));

  auto dm01 = fleet.post_raw(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", "aGk="}});
  auto dm10 = fleet.post_raw(1, "/direct/send", {{"agent_id", fleet.agent_id(0)}, {"payload", "aGk="}});
  CHECK((dm01.status == 502 || dm01.status == 504));
  CHECK((dm10.status == 502 || dm10.status == 504));
  CHECK(inbox1.count() == 0);
  // Nodes 0 and 1 stay apart even though each keeps learning the other's address.
  auto peers0 = fleet.get(0, "/peers")["peers"];
  for (auto& p : peers0) CHECK(p["agent_id"] != fleet.agent_id(1));

  auto a = base64_encode("from 0 across the partition"), b = base64_encode("from 1 across the partition");
  fleet.post(0, "/publish", {{"topic", "p.topic"}, {"payload", a}});
  fleet.post(1, "/publish", {{"topic", "p.topic"}, {"payload", b}});
  CHECK(ev1.wait_for([&](auto& ev) { return count_payload(ev, a) == 1; }, 15s));
  CHECK(ev0.wait_for([&](auto& ev) { return count_payload(ev, b) == 1; }, 15s));

  auto cleared = fleet.client(0).del("/lean/faults").json();
  CHECK(cleared["any"] == false);
  REQUIRE(eventually([&] { return fleet.peers(0) == 3 && fleet.peers(1) == 3; }));
  auto ok = fleet.post(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", "aGk="}});
  CHECK(ok["ok"] == true);
  CHECK(inbox1.wait_for([](auto& ev) { return ev.size() == 1; }, 10s));
}

TEST_CASE("mesh: faults are validated, inspectable and lapse with their lease") {
  // A DM budget well inside the stale lease: the DM below must time out while
  // node 0 is still stale.
  TestFleet fleet(2, "[lean]\ndm_ack_timeout_ms = 2500\n");
  auto bad = fleet.post_raw(0, "/lean/faults", {{"loss", 2}});
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"].get<std::string>().rfind("loss:", 0) == 0);
  auto& inbox0 = fleet.stream(0, "/direct/events");
  auto rx_from_1 = [&] {
    auto conn = fleet.get(0, "/diagnostics/connectivity");
    for (auto& row : conn["per_peer_transport"])
      if (row["peer_id"] == fleet.machine_id(1)) return row["tcp_rx_bytes"].get<std::uint64_t>();
    return std::uint64_t{0};
  };
  auto rx_before = rx_from_1();
  REQUIRE(rx_before > 0);  // the HELLO at least
  fleet.post(0, "/lean/faults", {{"stale", true}, {"lease_secs", 8}});
  CHECK(fleet.get(0, "/lean/faults")["active"].contains("stale"));
  // A stale node keeps its API up and its connections open but answers
  // nothing: no acknowledgement, so the sender gives up with 504 "timeout".
  auto dm = fleet.post_raw(1, "/direct/send", {{"agent_id", fleet.agent_id(0)}, {"payload", base64_encode("while stale")}});
  CHECK(dm.status == 504);
  CHECK(dm.json()["error"] == "timeout");
  REQUIRE(fleet.get(0, "/lean/faults")["active"].contains("stale"));  // the timeout came while it was stale
  CHECK(fleet.peers(1) == 1);  // the connection stayed open
  CHECK(rx_from_1() > rx_before);  // the DM (and its retry) reached node 0 ...
  CHECK(fleet.get(0, "/diagnostics/dm")["stats"]["incoming_envelopes_total"] == 0);  // ... and was dropped unread
  // The lease lapses by itself, and DMs flow again.
  REQUIRE(eventually([&] { return fleet.get(0, "/lean/faults")["any"] == false; }, 15s));
  auto after = base64_encode("after the lease");
  auto ok = fleet.post(1, "/direct/send", {{"agent_id", fleet.agent_id(0)}, {"payload", after}});
  CHECK(ok["ok"] == true);
  // Settled: the sender gave up on the first DM (no retries after its 504)
  // and the second one has arrived, so the first can no longer turn up.
  REQUIRE(inbox0.wait_for([&](auto& ev) { return !ev.empty(); }, 10s));
  CHECK(inbox0.count() == 1);
  CHECK(event_json(inbox0.snapshot().front())["payload"] == after);
  // The link lived through it: what node 0 ignored while stale kept its session in step.
  CHECK(fleet.get(0, "/diagnostics/connectivity")["handshake"]["closed_on_bad_frame"] == 0);
  CHECK(fleet.get(0, "/diagnostics/dm")["stats"]["incoming_envelopes_total"] == 1);
}

TEST_CASE("mesh: diagnostics counters move with the traffic and keep their identities") {
  TestFleet fleet(3);
  for (std::size_t i = 0; i < 3; ++i) fleet.post(i, "/subscribe", {{"topic", "d.topic"}});
  auto before = fleet.get(1, "/diagnostics/gossip");
  const int n = 50;
  for (int k = 0; k < n; ++k) fleet.post(0, "/publish", {{"topic", "d.topic"}, {"payload", base64_encode(std::string(512, 'a' + k % 26))}});
  // Every node (the publisher included) delivers all n to its subscriber.
  REQUIRE(eventually([&] {
    for (std::size_t i = 0; i < 3; ++i)
      if (fleet.get(i, "/diagnostics/gossip")["stats"]["delivered_to_subscriber"].get<int>() != n) return false;
    return true;
  }));
  CHECK(before["stats"]["delivered_to_subscriber"] == 0);
  auto pub = fleet.get(0, "/diagnostics/gossip");
  CHECK(pub["stats"]["publish_total"] == n);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("node " << i);
    auto g = fleet.get(i, "/diagnostics/gossip");
    CHECK(g["ok"] == true);
    auto& rp = g["recv_pump"]["pubsub"];
    CHECK(rp["produced_total"].get<std::uint64_t>() ==
          rp["enqueued_total"].get<std::uint64_t>() + rp["dropped_full"].get<std::uint64_t>() +
              rp["shed_priority"].get<std::uint64_t>() + rp["dropped_closed"].get<std::uint64_t>());
    auto& d = g["dispatcher"]["pubsub"];
    CHECK(d["received"].get<std::uint64_t>() >= d["completed"].get<std::uint64_t>() + d["timed_out"].get<std::uint64_t>());
    CHECK(d["received"].get<std::uint64_t>() <= rp["dequeued_total"].get<std::uint64_t>());
    CHECK(g["stats"]["delivered_to_subscriber"] == n);
    CHECK(g["stats"]["decode_to_delivery_drops"] == 0);
    CHECK(g["dispatcher"]["pubsub_workers"] == 1);
    for (auto key : {"decode", "verify", "dedupe_lock_acquire", "dedupe_check", "eager_fanout", "republish",
                     "peer_scoring_lock_wait", "suppressed_peers_lock_wait"})
      CHECK(g["pubsub_stages"][key].contains("over_30s_count"));
    for (auto key : {"suppressed_peers", "suppressed_peers_by_topic", "peer_scores", "peer_scores_by_topic",
                     "admission_state_by_peer", "topic_caches", "republish_per_peer_timeout"})
      CHECK(g["pubsub_stages"].contains(key));
    if (i != 0) {
      CHECK(g["pubsub_stages"]["message_kinds"]["eager"].get<int>() >= n);
      CHECK(g["pubsub_stages"]["verify"]["count"].get<int>() >= n);
    }
    auto c = fleet.get(i, "/diagnostics/connectivity");
    CHECK(c["per_peer_transport"].size() == 2);
    CHECK(c["data_tx"]["data_tx_high_water_count"].is_number_integer());
    CHECK(c["data_tx"]["data_tx_depth"].is_number_integer());
    for (auto& row : c["per_peer_transport"]) {
      CHECK(is_hex(row["peer_id"].get<std::string>(), 64));
      CHECK(row["connected"] == true);
    }
  }
  // Anti-entropy digests flow on their own, at rest.
  REQUIRE(eventually([&] { return fleet.get(1, "/diagnostics/gossip")["pubsub_stages"]["message_kinds"]["anti_entropy"].get<int>() > 0; }, 15s));
}

TEST_CASE("mesh: POST /shutdown and SIGTERM stop a node cleanly") {
  TestFleet fleet(2);
  auto r = fleet.post(1, "/shutdown", json::object());
  CHECK(r["message"] == "shutting down");
  REQUIRE(eventually([&] { return fleet.mesh().running_count() == 1; }, 10s));
  REQUIRE(eventually([&] { return fleet.peers(0) == 0; }, 10s));
  fleet.mesh().restart_node(1);
  REQUIRE(eventually([&] { return fleet.peers(0) == 1; }, 15s));
  CHECK(fleet.get(1, "/agent")["agent_id"] == fleet.agent_id(1));  // identity survives restarts
  auto token_before = fleet.mesh().nodes()[1].token;
  fleet.mesh().stop_node(1);
  fleet.mesh().restart_node(1);
  CHECK(fleet.mesh().nodes()[1].token == token_before);  // and so does the API token
}
