// The persisted and join-answer forms of a group are written from cached
// record texts (node/groups/group_state.h): they must parse to exactly what
// the plain JSON conversion gives, and read back to the same group.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "node/groups/commit.h"
#include "node/groups/group_state.h"

using namespace x0x;
using namespace x0x::node;
using namespace x0x::node::groups;
using nlohmann::json;

namespace {
Group sample_group(int records) {
  auto authority = KeyPair::generate();
  Group g;
  g.id = random_hex(32);
  g.name = "ops \"room\"\n";
  g.description = "d";
  g.creator = derive_agent_id(authority.pk);
  g.authority = authority.pk;
  g.preset = Preset::private_secure;
  g.created_at = g.updated_at = 1'700'000'000'000;
  for (int i = 1; i <= records; ++i) {
    CommitRecord r;
    auto member = random_hex(32);
    r.roster[member] = Member{Role::member, "m" + std::to_string(i), 1, g.creator, random_hex(32)};
    r.sealed[member] = std::string("\x00\x01sealed", 8);
    r.commit.group_id = g.id;
    r.commit.revision = static_cast<std::uint64_t>(i);
    r.commit.roster_root = r.commit.policy_hash = r.commit.public_meta_hash = r.commit.security_binding = random_hex(32);
    r.commit.committed_by = g.creator;
    sign_commit(r.commit, authority);
    g.roster = r.roster;
    g.head = {r.commit.revision, r.commit.state_hash};
    g.commits.push_back(std::move(r));
  }
  return g;
}
}  // namespace

TEST_CASE("group_text is group_to_json, written from cached record texts, and reads back", "[groups][state]") {
  for (int records : {0, 1, 5}) {
    INFO(records);
    auto g = sample_group(records);
    auto text = group_text(g);
    CHECK(json::parse(text) == group_to_json(g));
    auto back = group_from_json(json::parse(text));
    CHECK(back.commits.size() == g.commits.size());
    CHECK(group_to_json(back) == group_to_json(g));
    for (auto& r : g.commits) CHECK(&record_text(r) == &r.text);  // made once, kept in the record
  }
}

TEST_CASE("with_records adds one member to any object, empty or not", "[groups][state]") {
  auto g = sample_group(2);
  CHECK(json::parse(with_records(json::object(), "records", g.commits)) ==
        json{{"records", {record_to_json(g.commits[0]), record_to_json(g.commits[1])}}});
  CHECK(json::parse(with_records(json{{"a", 1}}, "records", {})) == json{{"a", 1}, {"records", json::array()}});
}
