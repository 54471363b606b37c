// The persisted and join-answer forms of a group are written from cached
// record texts (node/groups/group_state.h): they must parse to exactly what
// the plain JSON conversion gives, and read back to the same group.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "node/groups/commit.h"
#include "node/groups/group_state.h"
#include "tests/support/group_samples.h"

using namespace x0x;
using namespace x0x::node;
using namespace x0x::node::groups;
using nlohmann::json;
using x0x::testing::sample_group;

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

TEST_CASE("a commit record carries its roster change, not the roster, and rebuilds the roster from the previous one", "[groups][state]") {
  auto g = sample_group(1);
  Roster before;
  for (int i = 0; i < 40; ++i) before[random_hex(32)] = Member{Role::member, "m", 1, g.creator, random_hex(32)};
  CommitRecord r;
  r.commit = g.commits[0].commit;  // signed and well formed; its roster fields are not what this checks
  r.roster = before;
  auto gone = before.begin()->first;
  r.roster.erase(gone);
  auto joiner = random_hex(32);
  r.roster[joiner] = Member{Role::member, "new", 2, g.creator, random_hex(32)};
  auto renamed = std::next(before.begin(), 5)->first;
  r.roster[renamed].display_name = "renamed";
  set_roster_delta(r, before);
  CHECK(r.added.size() == 2);
  CommitRecord as_before;  // the same record as earlier versions send it: the whole roster
  as_before.commit = r.commit;
  as_before.roster = r.roster;
  CHECK(r.removed == std::vector<std::string>{gone});

  auto j = record_to_json(r);
  CHECK_FALSE(j.contains("roster"));
  CHECK(j["roster_added"].size() == 2);
  CHECK(j.dump().size() < record_to_json(as_before).dump().size() / 5);  // vs the whole roster

  std::string err;
  auto back = record_from_json(json::parse(j.dump()), err);
  INFO(err);
  REQUIRE(back);
  CHECK_FALSE(back->materialized);
  materialize_roster(*back, before);
  CHECK(back->roster == r.roster);
  CHECK(record_to_json(*back) == j);  // relayed as it came

  // A whole-roster record (earlier versions) reads as complete and is written back whole.
  auto whole = record_from_json(record_to_json(as_before), err);
  REQUIRE(whole);
  CHECK(whole->materialized);
  CHECK(whole->roster == r.roster);

  auto bad = j;
  bad["roster_removed"] = json::array({"../x"});
  CHECK_FALSE(record_from_json(bad, err));
  CHECK(err.find("roster_removed") != std::string::npos);
  bad = j;
  bad.erase("roster_removed");
  CHECK_FALSE(record_from_json(bad, err));
  CHECK(err.find("roster") != std::string::npos);
}
