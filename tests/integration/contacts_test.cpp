// Contacts on real lean nodes (node-api.md §2.9): shapes and status codes,
// persistence across a restart, and a Blocked contact refusing DMs both ways.
#include <catch2/catch.hpp>

#include "core/encoding.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;

namespace {
std::vector<json> dms(const probes::SseCollector& c) {
  std::vector<json> out;
  for (auto& e : c.snapshot())
    if (e.event == "direct_message") out.push_back(json::parse(e.data));
  return out;
}

json find_contact(TestFleet& f, std::size_t node, const std::string& id) {
  auto list = f.get(node, "/contacts");  // named: a temporary's member would dangle in the loop
  for (auto& c : list["contacts"])
    if (c["agent_id"] == id) return c;
  return nullptr;
}
}  // namespace

TEST_CASE("contacts: add, patch, list and delete with x0xd's shapes and status codes, and they survive a restart") {
  TestFleet fleet(2);
  auto c = fleet.client(0);
  auto peer = fleet.agent_id(1);
  std::string upper = peer;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));

  auto added = c.post("/contacts", json{{"agent_id", upper}, {"trust_level", "Known"}, {"label", "bob"}}.dump());
  CHECK(added.status == 201);
  CHECK(added.json() == json{{"ok", true}, {"agent_id", peer}});
  auto row = find_contact(fleet, 0, peer);
  REQUIRE(row.is_object());
  CHECK(row["trust_level"] == "known");
  CHECK(row["label"] == "bob");
  CHECK(row["added_at"].get<std::uint64_t>() > 1'600'000'000u);  // seconds
  CHECK(row["last_seen"].is_null());

  CHECK(c.patch("/contacts/" + peer, R"({"trust_level":"TRUSTED"})").status == 200);
  CHECK(find_contact(fleet, 0, peer)["trust_level"] == "trusted");
  // PATCH of an agent that is not a contact is no 404.
  auto other = random_hex(32);
  CHECK(c.patch("/contacts/" + other, R"({"trust_level":"Known"})").json() == json{{"ok", true}});

  // Bad input: 400 naming the field, unknown fields 422 (plain text, as axum).
  auto bad_hex = c.post("/contacts", R"({"agent_id":"zz"})");
  CHECK(bad_hex.status == 400);
  CHECK(bad_hex.json()["error"].get<std::string>().find("agent_id") != std::string::npos);
  auto bad_level = c.post("/contacts", json{{"agent_id", peer}, {"trust_level", "friend"}}.dump());
  CHECK(bad_level.status == 400);
  CHECK(bad_level.json()["error"].get<std::string>().find("trust_level") != std::string::npos);
  auto unknown = c.post("/contacts", json{{"agent_id", peer}, {"nickname", "x"}}.dump());
  CHECK(unknown.status == 422);
  CHECK(unknown.body.find("nickname") != std::string::npos);
  CHECK(c.patch("/contacts/" + peer, R"({"trust":"Known"})").status == 422);
  CHECK(c.patch("/contacts/" + peer, R"({"trust_level":"meh"})").status == 400);
  CHECK(c.post("/contacts", R"({"trust_level":"Known"})").status == 422);  // agent_id missing

  fleet.mesh().restart_node(0);
  auto kept = find_contact(fleet, 0, peer);
  REQUIRE(kept.is_object());
  CHECK(kept["trust_level"] == "trusted");
  CHECK(kept["label"] == "bob");

  auto c2 = fleet.client(0);
  CHECK(c2.del("/contacts/" + peer).json() == json{{"ok", true}});
  auto gone = c2.del("/contacts/" + peer);
  CHECK(gone.status == 404);
  CHECK(gone.json() == json{{"ok", false}, {"error", "contact not found"}});
  CHECK(find_contact(fleet, 0, peer).is_null());
}

TEST_CASE("contacts: a Blocked contact gets 403 both ways, trust shows on /direct/events, and removal restores DMs") {
  TestFleet fleet(2);
  auto& inbox1 = fleet.stream(1, "/direct/events");
  auto a0 = fleet.agent_id(0), a1 = fleet.agent_id(1);
  // Known → accept_with_flag on the receiver.
  fleet.post(1, "/contacts", {{"agent_id", a0}, {"trust_level", "Known"}});
  CHECK(fleet.post(0, "/direct/send", {{"agent_id", a1}, {"payload", base64_encode("hi")}})["ok"] == true);
  REQUIRE(eventually([&] { return dms(inbox1).size() == 1; }, 10s));
  CHECK(dms(inbox1).front()["trust_decision"] == "accept_with_flag");

  // Node 0 blocks node 1: sending to it is refused before any send.
  fleet.post(0, "/contacts", {{"agent_id", a1}, {"trust_level", "Blocked"}});
  auto to_blocked = fleet.post_raw(0, "/direct/send", {{"agent_id", a1}, {"payload", base64_encode("no")}});
  CHECK(to_blocked.status == 403);
  CHECK(to_blocked.json()["error"] == "agent is blocked");
  // Node 1 blocks node 0: node 0's DM is refused by the receiver.
  fleet.client(1).patch("/contacts/" + a0, R"({"trust_level":"blocked"})");
  fleet.client(0).del("/contacts/" + a1);
  auto from_blocked = fleet.post_raw(0, "/direct/send", {{"agent_id", a1}, {"payload", base64_encode("no")}});
  CHECK(from_blocked.status == 403);
  CHECK(from_blocked.json()["error"] == "recipient_rejected");
  CHECK(fleet.get(1, "/diagnostics/dm")["stats"]["incoming_trust_rejected"].get<int>() >= 1);
  CHECK(dms(inbox1).size() == 1);

  // Contacts are not a routing table: removing the contact keeps the agent reachable.
  fleet.client(1).del("/contacts/" + a0);
  CHECK(fleet.post(0, "/direct/send", {{"agent_id", a1}, {"payload", base64_encode("back")}})["ok"] == true);
  REQUIRE(eventually([&] { return dms(inbox1).size() == 2; }, 10s));
  CHECK(dms(inbox1).back()["trust_decision"] == "unknown");
}
