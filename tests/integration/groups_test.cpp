// Named groups on real lean nodes (node-api.md §2.10): rosters converge and
// messages reach every member over the mesh, commit chains verify on joiners,
// invites are one-time/expiring/unforgeable, forged commits are refused and
// counted, a restarted member catches up, faults do not stop convergence, and
// a node outside a private_secure group cannot read what it relays.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/encoding.h"
#include "core/parallel_for.h"
#include "node/groups/commit.h"
#include "node/groups/group_key.h"
#include "node/identity.h"
#include "node/metrics.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;

namespace {

std::string create(TestFleet& f, std::size_t node, const std::string& preset) {
  auto r = f.client(node).post("/groups", json{{"name", "room-" + preset}, {"description", "d"}, {"preset", preset}}.dump());
  REQUIRE(r.status == 201);
  auto gid = r.json()["group_id"].get<std::string>();
  CHECK(r.json()["chat_topic"] == "x0x.group." + gid.substr(0, 16) + ".chat/general");
  return gid;
}

json invite(TestFleet& f, std::size_t node, const std::string& gid, json body = json::object()) {
  auto r = f.post(node, "/groups/" + gid + "/invite", body);
  REQUIRE(r["invite_link"].get<std::string>().rfind("x0x://invite/", 0) == 0);
  return r;
}

void join(TestFleet& f, std::size_t node, const std::string& link) {
  auto r = f.post_raw(node, "/groups/join", {{"invite", link}});
  INFO(r.body);
  REQUIRE(r.status == 200);
}

std::set<std::string> member_ids(TestFleet& f, std::size_t node, const std::string& gid) {
  std::set<std::string> out;
  auto r = f.client(node).get("/groups/" + gid + "/members");
  if (r.status != 200) return out;
  auto j = r.json();
  for (auto& m : j["members"]) out.insert(m["agent_id"].get<std::string>());
  return out;
}

std::multiset<std::string> bodies(TestFleet& f, std::size_t node, const std::string& gid) {
  std::multiset<std::string> out;
  auto r = f.client(node).get("/groups/" + gid + "/messages");
  if (r.status != 200) return out;
  auto j = r.json();
  for (auto& m : j["messages"]) out.insert(m["body"].get<std::string>());
  return out;
}

// Every commit of the node's chain: revisions 1..n ascending, each roster_root verified.
void check_chain(TestFleet& f, std::size_t node, const std::string& gid, std::uint64_t expect_revisions) {
  auto c = f.get(node, "/groups/" + gid + "/state/commits?from_revision=0&limit=500");
  INFO("node " << node << ": " << c.dump().substr(0, 400));
  REQUIRE(c["commits"].size() == expect_revisions);
  CHECK(c["state_revision"] == expect_revisions);
  std::uint64_t want = 1;
  std::string prev(64, '0');
  for (auto& e : c["commits"]) {
    CHECK(e["commit"]["revision"] == want++);
    CHECK(e["commit"]["prev_state_hash"] == prev);
    CHECK(e["roster_root_verified"] == true);
    prev = e["commit"]["state_hash"];
  }
}

std::uint64_t counter(TestFleet& f, std::size_t node, const std::string& name) {
  auto c = f.get(node, "/diagnostics/groups")["counters"];
  return c.value(name, std::uint64_t{0});
}

}  // namespace

TEST_CASE("groups: public_open on 5 nodes: rosters converge, every member sees every message, joiners verify the chain, invites are one-time, expiring and unforgeable") {
  TestFleet fleet(6);
  auto gid = create(fleet, 0, "Public-Open");  // presets: case-insensitive, '-' or '_'
  CHECK(fleet.get(0, "/groups/" + gid + "/state/commits")["total_retained"] == 0);  // public_open starts at 0
  std::set<std::string> all{fleet.agent_id(0)};
  std::string used_link;
  for (std::size_t i = 1; i <= 4; ++i) {
    auto link = invite(fleet, 0, gid)["invite_link"].get<std::string>();
    join(fleet, i, link);
    CHECK(member_ids(fleet, i, gid).count(fleet.agent_id(i)) == 1);  // itself at once
    all.insert(fleet.agent_id(i));
    used_link = link;
  }
  for (std::size_t i = 0; i <= 4; ++i)
    REQUIRE(eventually([&] { return member_ids(fleet, i, gid) == all; }, 20s));
  auto members = fleet.get(0, "/groups/" + gid + "/members")["members"];
  CHECK(members.front()["agent_id"] < members.back()["agent_id"]);  // sorted
  for (auto& m : members) CHECK(m["role"] == (m["agent_id"] == fleet.agent_id(0) ? "admin" : "member"));

  for (std::size_t i = 0; i <= 4; ++i) {
    auto r = fleet.post(i, "/groups/" + gid + "/send", {{"body", "hello from " + std::to_string(i)}, {"kind", "chat"}});
    CHECK(r["msg_id"].get<std::string>().size() == 64);
    CHECK(bodies(fleet, i, gid).count("hello from " + std::to_string(i)) == 1);  // own post at once
  }
  for (std::size_t i = 0; i <= 4; ++i)
    REQUIRE(eventually([&] { return bodies(fleet, i, gid).size() == 5; }, 20s));
  for (std::size_t i = 0; i <= 4; ++i) check_chain(fleet, i, gid, 4);  // joiners hold and verified the whole chain

  // Node 5 is outside the group. A consumed invite is refused by the inviter...
  auto reused = fleet.post_raw(5, "/groups/join", {{"invite", used_link}});
  CHECK(reused.status == 400);
  CHECK(reused.json()["error"] == "invalid invite: already used");
  // ...a tampered one by the joiner (its signature breaks)...
  auto fresh = invite(fleet, 0, gid)["invite_link"].get<std::string>();
  auto j = json::parse(*base64url_decode(fresh.substr(13)));
  j["revision"] = 0;
  auto forged = fleet.post_raw(5, "/groups/join", {{"invite", "x0x://invite/" + base64url_encode(j.dump())}});
  CHECK(forged.status == 400);
  CHECK(forged.json()["error"].get<std::string>().rfind("invalid invite", 0) == 0);
  // ...and an expired one.
  auto short_lived = invite(fleet, 0, gid, {{"expiry_secs", 1}});
  auto expires_at = short_lived["expires_at"].get<std::uint64_t>();
  REQUIRE(eventually([&] { return node::unix_ms() / 1000 >= expires_at; }, 5s));
  auto expired = fleet.post_raw(5, "/groups/join", {{"invite", short_lived["invite_link"]}});
  CHECK(expired.status == 400);
  CHECK(expired.json()["error"] == "invite has expired");
  CHECK(member_ids(fleet, 0, gid) == all);
  CHECK(fleet.get(5, "/groups")["groups"].empty());

  // A member leaves: it no longer lists the group, and the authority commits its removal.
  CHECK(fleet.client(4).del("/groups/" + gid).json()["left"] == "room-Public-Open");
  CHECK(fleet.get(4, "/groups")["groups"].empty());
  all.erase(fleet.agent_id(4));
  for (std::size_t i = 0; i <= 3; ++i)
    REQUIRE(eventually([&] { return member_ids(fleet, i, gid) == all; }, 20s));
  check_chain(fleet, 1, gid, 5);
}

TEST_CASE("groups: forged and out-of-order commits published on the group's topic are refused and counted") {
  TestFleet fleet(3);
  auto gid = create(fleet, 0, "private_secure");
  join(fleet, 1, invite(fleet, 0, gid)["invite_link"]);
  auto chain = fleet.get(1, "/groups/" + gid + "/state/commits")["commits"];
  REQUIRE(chain.size() == 2);
  auto meta_topic = "x0x.group." + gid.substr(0, 16) + ".meta";
  auto publish_record = [&](const json& commit, const json& roster) {
    json rec = {{"commit", commit}, {"roster", roster}, {"sealed_keys", json::object()}};
    fleet.post(2, "/publish", {{"topic", meta_topic},
                               {"payload", base64_encode(json{{"t", "commit"}, {"group_id", gid}, {"record", rec}}.dump())}});
  };
  // Node 2 (not a member) re-signs revision 3 with its own key: wrong signer.
  auto next = chain.back()["commit"];
  std::string err;
  auto c = node::groups::commit_from_json(next, err).value();
  c.revision = 3;
  c.prev_state_hash = next["state_hash"];
  auto evil = node::KeyPair::generate();
  node::groups::sign_commit(c, evil);
  // The full roster JSON the node keeps is not on the commits endpoint: rebuild it with public keys.
  json roster = json::object();
  for (auto& [id, _] : chain.back()["roster"].items()) roster[id] = {{"role", "member"}, {"public_key", std::string(64, '1')}};
  publish_record(node::groups::to_json(c), roster);
  REQUIRE(eventually([&] { return counter(fleet, 1, "commits_refused.wrong_signer") >= 1; }, 10s));
  // A signature flipped: bad_signature. An old revision replayed with a change: replay.
  auto flipped = chain.back()["commit"];
  auto sig = flipped["signature"].get<std::string>();
  sig[0] = sig[0] == 'a' ? 'b' : 'a';
  flipped["signature"] = sig;
  flipped["revision"] = 3u;
  flipped["state_hash"] = node::groups::compute_state_hash(node::groups::commit_from_json(flipped, err).value());
  publish_record(flipped, roster);
  REQUIRE(eventually([&] { return counter(fleet, 1, "commits_refused.bad_signature") >= 1; }, 10s));
  // The authority's own revision 1, replayed verbatim: recognised as already applied.
  publish_record(chain.front()["commit"], roster);
  REQUIRE(eventually([&] { return counter(fleet, 1, "commits_duplicate") >= 1; }, 10s));
  // Hostile shapes on the group's topics are counted and dropped; the members stay up.
  for (auto* junk : {R"({"group_id":"GID","t":5})", R"({"group_id":"GID","t":"commit","record":[1]})",
                     R"({"group_id":"GID","t":"smsg","epoch":"x"})", R"([1,2])"}) {
    std::string text = junk;
    text.replace(text.find("GID") == std::string::npos ? 0 : text.find("GID"), text.find("GID") == std::string::npos ? 0 : 3, gid);
    fleet.post(2, "/publish", {{"topic", meta_topic}, {"payload", base64_encode(text)}});
    fleet.post(2, "/publish", {{"topic", "x0x.group." + gid.substr(0, 16) + ".chat/general"}, {"payload", base64_encode(text)}});
  }
  REQUIRE(eventually([&] { return counter(fleet, 1, "gossip_malformed") + counter(fleet, 1, "commits_refused.malformed") +
                                  counter(fleet, 1, "messages_refused.malformed") >= 6; }, 10s));
  // Nothing was applied: the chain is unchanged on both members.
  check_chain(fleet, 0, gid, 2);
  check_chain(fleet, 1, gid, 2);
  CHECK(fleet.get(0, "/diagnostics/groups")["commits_refused"].value("wrong_signer", 0) >= 1);
}

TEST_CASE("groups: private_secure: a non-member relaying the group's traffic cannot read it, and a member restarted mid-run catches up") {
  // The mesh's own digest repair is off, so only the groups' head exchange can
  // bring the restarted member up to date.
  TestFleet fleet(5, "[lean]\nanti_entropy_interval_ms = 600000\n");
  const std::size_t outsider = 4;
  auto gid = create(fleet, 0, "private_secure");
  CHECK(fleet.get(0, "/groups/" + gid + "/state/commits")["total_retained"] == 1);  // revision 1 sealed at creation
  // The outsider subscribes to the group's topics: it sees the bytes gossip hands it.
  auto chat = "x0x.group." + gid.substr(0, 16) + ".chat/general";
  fleet.post(outsider, "/subscribe", {{"topic", chat}});
  fleet.post(outsider, "/subscribe", {{"topic", "x0x.group." + gid.substr(0, 16) + ".meta"}});
  auto& seen = fleet.stream(outsider, "/events");
  // It is in a private_secure group of its own, so it does hold group keys: just not this group's.
  auto own = create(fleet, outsider, "private_secure");
  for (std::size_t i = 1; i <= 2; ++i) join(fleet, i, invite(fleet, 0, gid)["invite_link"]);
  std::set<std::string> all{fleet.agent_id(0), fleet.agent_id(1), fleet.agent_id(2)};
  for (std::size_t i = 0; i <= 2; ++i) REQUIRE(eventually([&] { return member_ids(fleet, i, gid) == all; }, 20s));

  const std::string secret = "the vault code is 7-4-1-9";
  fleet.post(1, "/groups/" + gid + "/send", {{"body", secret}});
  for (std::size_t i = 0; i <= 2; ++i)
    REQUIRE(eventually([&] { return bodies(fleet, i, gid).count(secret) == 1; }, 20s));

  // What the outsider relayed: the chat payload is ciphertext it cannot open.
  std::vector<json> relayed;
  REQUIRE(eventually([&] {
    relayed.clear();
    for (auto& e : seen.snapshot()) {
      auto d = json::parse(e.data, nullptr, false);
      if (d.is_object() && d["data"]["topic"] == chat) relayed.push_back(json::parse(*base64_decode(d["data"]["payload"].get<std::string>())));
    }
    return !relayed.empty();
  }, 10s));
  auto outsider_dir = fleet.mesh().nodes().at(outsider).data_dir;
  auto outsider_id = node::Identity::load_or_create(outsider_dir);  // its agent key, read from its data dir
  std::vector<json> its_groups;  // its group snapshots (node/groups/group_store.h)
  for (auto& f : std::filesystem::directory_iterator(outsider_dir / "groups"))
    if (f.path().extension() == ".json" && f.path().filename() != "invites.json")
      its_groups.push_back(json::parse(std::ifstream(f.path())));
  std::vector<node::groups::GroupKey> its_keys;
  for (auto& g : its_groups) {
    CHECK(g["group_id"] != gid);  // it never stored the group
    for (auto& [_, k] : g["keys"].items()) {
      auto raw = from_hex(k.get<std::string>()).value();
      node::groups::GroupKey key{};
      std::copy(raw.begin(), raw.end(), key.begin());
      its_keys.push_back(key);
    }
  }
  REQUIRE_FALSE(its_keys.empty());
  auto gid_raw = std::string(as_view(from_hex(gid).value()));
  for (auto& p : relayed) {
    CHECK(p["t"] == "smsg");
    CHECK(p.dump().find("vault") == std::string::npos);
    auto ct = base64url_decode(p["c"].get<std::string>()).value();
    CHECK(ct.find("vault") == std::string::npos);
    for (auto& k : its_keys)
      for (std::uint64_t epoch = 0; epoch <= 5; ++epoch) CHECK_FALSE(node::groups::decrypt(k, gid_raw, epoch, ct));
  }
  // Nor can it open any epoch key sealed in the commits it relayed.
  std::size_t sealed_seen = 0;
  for (auto& e : seen.snapshot()) {
    auto d = json::parse(e.data, nullptr, false);
    if (!d.is_object() || d["data"]["topic"] == chat) continue;
    auto rec = json::parse(*base64_decode(d["data"]["payload"].get<std::string>()));
    for (auto& [_, box] : rec["record"]["sealed_keys"].items()) {
      ++sealed_seen;
      CHECK_FALSE(node::groups::open_sealed_key(base64url_decode(box.get<std::string>()).value(), outsider_id.agent));
    }
  }
  CHECK(sealed_seen >= 2);

  // Member 2 goes down; meanwhile node 3 joins (a new epoch) and messages are sent.
  fleet.mesh().stop_node(2);
  join(fleet, 3, invite(fleet, 0, gid)["invite_link"]);
  all.insert(fleet.agent_id(3));
  fleet.post(0, "/groups/" + gid + "/send", {{"body", "while you were away"}});
  fleet.post(3, "/groups/" + gid + "/send", {{"body", "hi from the new member"}});
  fleet.mesh().restart_node(2);
  REQUIRE(eventually([&] { return member_ids(fleet, 2, gid) == all; }, 30s));
  REQUIRE(eventually([&] { return bodies(fleet, 2, gid).size() == 3; }, 30s));
  check_chain(fleet, 2, gid, 4);
  for (std::size_t i = 0; i <= 3; ++i) REQUIRE(eventually([&] { return bodies(fleet, i, gid).size() == (i == 3 ? 2u : 3u); }, 20s));
  // A joiner cannot read what was sent before its epoch; it reads everything after.
  CHECK(bodies(fleet, 3, gid).count(secret) == 0);
  CHECK(fleet.get(2, "/groups")["groups"].size() == 1);
  (void)own;
}

TEST_CASE("groups: rosters and messages converge with 20 % loss on one node and a delay on another") {
  TestFleet fleet(4);
  fleet.post(2, "/lean/faults", {{"loss", 0.2}, {"lease_secs", 120}});
  fleet.post(3, "/lean/faults", {{"delay_ms", 300}, {"lease_secs", 120}});
  auto gid = create(fleet, 0, "public_open");
  std::set<std::string> all{fleet.agent_id(0)};
  for (std::size_t i = 1; i <= 3; ++i) {
    join(fleet, i, invite(fleet, 0, gid)["invite_link"]);
    all.insert(fleet.agent_id(i));
  }
  for (std::size_t i = 0; i <= 3; ++i) REQUIRE(eventually([&] { return member_ids(fleet, i, gid) == all; }, 30s));
  for (std::size_t i = 0; i <= 3; ++i)
    for (int k = 0; k < 5; ++k) fleet.post(i, "/groups/" + gid + "/send", {{"body", std::to_string(i) + "/" + std::to_string(k)}});
  for (std::size_t i = 0; i <= 3; ++i) REQUIRE(eventually([&] { return bodies(fleet, i, gid).size() == 20; }, 30s));
  for (std::size_t i = 0; i <= 3; ++i) check_chain(fleet, i, gid, 3);
  fleet.client(2).del("/lean/faults");
  fleet.client(3).del("/lean/faults");
}

TEST_CASE("groups: REST shapes and status codes follow x0xd's") {
  TestFleet fleet(3);
  auto c0 = fleet.client(0);
  auto bad_preset = c0.post("/groups", R"({"name":"x","preset":"secret_club"})");
  CHECK(bad_preset.status == 400);
  CHECK(bad_preset.json()["error"].get<std::string>().rfind("unknown preset", 0) == 0);
  CHECK(c0.post("/groups", R"({"description":"no name"})").status == 422);
  auto created = c0.post("/groups", R"({"name":"ops","description":"the ops room","display_name":"boss"})");
  REQUIRE(created.status == 201);
  auto gid = created.json()["group_id"].get<std::string>();
  auto info = fleet.get(0, "/groups/" + gid);
  CHECK(info["policy"]["confidentiality"] == "mls_encrypted");  // private_secure is the default preset
  CHECK(info["metadata_topic"] == "x0x.group." + gid.substr(0, 16) + ".meta");
  CHECK(info["creator"] == fleet.agent_id(0));
  CHECK(info["withdrawn"] == false);
  CHECK(info["member_count"] == 1);
  CHECK(info["members"][0]["display_name"] == "boss");
  for (auto* k : {"created_at", "updated_at", "policy_revision", "roster_revision", "chat_topic", "description", "name"})
    CHECK(info.contains(k));
  auto listed = fleet.get(0, "/groups")["groups"];
  REQUIRE(listed.size() == 1);
  for (auto* k : {"group_id", "name", "description", "creator", "created_at", "member_count"}) CHECK(listed[0].contains(k));

  CHECK(c0.get("/groups/" + random_hex(32)).status == 404);
  CHECK(c0.get("/groups/" + random_hex(32)).json()["error"] == "group not found");
  CHECK(c0.post("/groups/" + gid + "/invite", "{}").status == 200);
  CHECK(c0.post("/groups/" + gid + "/invite", "").status == 200);  // no body at all
  CHECK(c0.post("/groups/" + gid + "/invite", "expiry_secs=5", "text/plain").status == 415);
  auto never = fleet.post(0, "/groups/" + gid + "/invite", {{"expiry_secs", 0}});
  CHECK(never["expires_at"] == 0);
  CHECK(never["group_name"] == "ops");

  // Raw base64url (no x0x://invite/ prefix) joins too; joining again says so.
  auto link = never["invite_link"].get<std::string>();
  auto joined = fleet.post(1, "/groups/join", {{"invite", link.substr(13)}, {"display_name", "bob"}});
  CHECK(joined["group_id"] == gid);
  CHECK(joined["group_name"] == "ops");
  CHECK(joined["chat_topic"] == "x0x.group." + gid.substr(0, 16) + ".chat/general");
  CHECK(fleet.post(1, "/groups/join", {{"invite", link}})["already_joined"] == true);
  // Only the admin invites.
  auto not_admin = fleet.client(1).post("/groups/" + gid + "/invite", "{}");
  CHECK(not_admin.status == 403);

  auto c1 = fleet.client(1);
  CHECK(c1.post("/groups/" + gid + "/send", R"({"body":"x","kind":"shout"})").status == 400);
  CHECK(c1.post("/groups/" + gid + "/send", json{{"body", std::string(70'000, 'x')}}.dump()).status == 413);
  auto sent = fleet.post(1, "/groups/" + gid + "/send", {{"body", "first"}, {"kind", "announcement"}});
  for (auto* k : {"group_id", "topic", "fallback_topic", "timestamp", "msg_id"}) CHECK(sent.contains(k));
  auto msgs = fleet.get(1, "/groups/" + gid + "/messages")["messages"];
  REQUIRE(msgs.size() == 1);
  for (auto* k : {"group_id", "state_hash_at_send", "revision_at_send", "author_agent_id", "author_public_key",
                  "author_user_id", "kind", "body", "timestamp", "signature", "msg_id"})
    CHECK(msgs[0].contains(k));
  CHECK(msgs[0]["msg_id"] == sent["msg_id"]);

  // Commit paging: limit clamps to 1..500, has_more / next_from_revision page on.
  auto page = fleet.get(0, "/groups/" + gid + "/state/commits?from_revision=0&limit=0");
  CHECK(page["limit"] == 1);
  CHECK(page["count"] == 1);
  CHECK(page["has_more"] == true);
  CHECK(page["next_from_revision"] == 2);
  CHECK(page["total_retained"] == 2);
  CHECK(page["first_available_revision"] == 1);
  CHECK(page["latest_retained_revision"] == 2);
  auto rest = fleet.get(0, "/groups/" + gid + "/state/commits?from_revision=2&limit=9999");
  CHECK(rest["limit"] == 500);
  CHECK(rest["count"] == 1);
  CHECK(rest["has_more"] == false);
  CHECK(rest["next_from_revision"].is_null());
  CHECK(rest["commits"][0]["roster"][fleet.agent_id(1)] == json{{"role", "member"}, {"state", "active"}});

  CHECK(fleet.client(2).get("/groups/" + gid + "/state/commits").status == 404);  // unknown to a non-member
  CHECK(c1.put("/groups/" + gid + "/display-name", R"({"name":"robert"})").json() == json{{"ok", true}, {"display_name", "robert"}});

  // The last admin cannot leave while others remain; a sole member's leave deletes.
  auto last_admin = c0.del("/groups/" + gid);
  CHECK(last_admin.status == 409);
  CHECK(c1.del("/groups/" + gid).json() == json{{"ok", true}, {"left", "ops"}});
  REQUIRE(eventually([&] { return fleet.get(0, "/groups/" + gid)["member_count"] == 1; }, 10s));
  CHECK(fleet.client(0).del("/groups/" + gid).json() == json{{"ok", true}, {"deleted", "ops"}});
  CHECK(fleet.get(0, "/groups")["groups"].empty());
}

TEST_CASE("groups: the authority's state survives a restart: groups, chain, messages and which invites were used") {
  TestFleet fleet(3);
  auto gid = create(fleet, 0, "private_secure");
  auto used = invite(fleet, 0, gid)["invite_link"].get<std::string>();
  auto unused = invite(fleet, 0, gid)["invite_link"].get<std::string>();
  join(fleet, 1, used);
  fleet.post(0, "/groups/" + gid + "/send", {{"body", "before the restart"}});
  fleet.mesh().restart_node(0);
  check_chain(fleet, 0, gid, 2);
  CHECK(bodies(fleet, 0, gid).count("before the restart") == 1);
  auto reused = fleet.post_raw(2, "/groups/join", {{"invite", used}});
  CHECK(reused.status == 400);
  CHECK(reused.json()["error"] == "invalid invite: already used");
  join(fleet, 2, unused);  // issued before the restart, still redeemable once
  std::set<std::string> all{fleet.agent_id(0), fleet.agent_id(1), fleet.agent_id(2)};
  for (std::size_t i = 0; i <= 2; ++i) REQUIRE(eventually([&] { return member_ids(fleet, i, gid) == all; }, 20s));
  // The new epoch key after the restart reaches the members that were there before it.
  fleet.post(0, "/groups/" + gid + "/send", {{"body", "after the restart"}});
  for (std::size_t i = 0; i <= 2; ++i)
    REQUIRE(eventually([&] { return bodies(fleet, i, gid).count("after the restart") == 1; }, 20s));
}

TEST_CASE("groups: six members joining at once all land in one linear chain that every member verifies") {
  TestFleet fleet(7);
  auto gid = create(fleet, 0, "private_secure");
  std::vector<std::string> links;
  for (int i = 0; i < 6; ++i) links.push_back(invite(fleet, 0, gid)["invite_link"]);
  // One client per node, made here: the fleet fixture is not for use from several threads.
  std::vector<probes::RestClient> clients;
  for (std::size_t i = 0; i < 7; ++i) clients.push_back(fleet.client(i));
  std::vector<long> status(6);
  parallel_for(6, 6, [&](std::size_t i) {
    status[i] = clients[i + 1].post("/groups/join", json{{"invite", links[i]}}.dump()).status;
  });
  for (auto s : status) CHECK(s == 200);
  std::set<std::string> all;
  for (std::size_t i = 0; i < 7; ++i) all.insert(fleet.agent_id(i));
  for (std::size_t i = 0; i < 7; ++i) REQUIRE(eventually([&] { return member_ids(fleet, i, gid) == all; }, 30s));
  for (std::size_t i = 0; i < 7; ++i) check_chain(fleet, i, gid, 7);
  parallel_for(7, 7, [&](std::size_t i) {
    clients[i].post("/groups/" + gid + "/send", json{{"body", "from " + std::to_string(i)}}.dump());
  });
  for (std::size_t i = 0; i < 7; ++i) REQUIRE(eventually([&] { return bodies(fleet, i, gid).size() == 7; }, 30s));
}
