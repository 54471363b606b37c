// The groups' files in the data dir (node/groups/group_store.h): a save writes
// what changed (new commit records appended to the log, never rewritten), a
// load reads back the same groups, and a crash's leftovers (a torn last line,
// a log ahead of its snapshot) are reconciled to the last whole record.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "node/groups/group_store.h"
#include "tests/support/files.h"
#include "tests/support/group_samples.h"

using namespace x0x;
using namespace x0x::node::groups;
using nlohmann::json;
using x0x::testing::sample_group;
using x0x::testing::TempDir;
namespace fs = std::filesystem;

namespace {
std::map<std::string, Group> with(std::initializer_list<const Group*> groups) {
  std::map<std::string, Group> m;
  for (auto* g : groups) m[g->id] = *g;
  return m;
}
Group first_records(const Group& g, std::size_t n) {  // g as it was after its first n commits
  Group out = g;
  out.commits.resize(n);
  out.roster = out.commits.back().roster;
  out.head = {out.commits.back().commit.revision, out.commits.back().commit.state_hash};
  return out;
}
std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
ino_t inode(const fs::path& p) {
  struct stat st{};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_ino;
}
}  // namespace

TEST_CASE("group store: a save and a load give back the same groups and invites, files 0600", "[groups][store]") {
  TempDir tmp;
  auto dir = tmp.path / "groups";
  auto a = sample_group(5), b = sample_group(0);
  json invites = json::array({{{"secret", "s"}}});
  GroupStore(dir).save(with({&a, &b}), invites);
  for (auto* f : {"invites.json"}) CHECK((fs::status(dir / f).permissions() & fs::perms::group_all) == fs::perms::none);
  CHECK((fs::status(dir / (a.id + ".commits")).permissions() & fs::perms::others_all) == fs::perms::none);
  auto loaded = GroupStore(dir).load();
  REQUIRE(loaded.groups.size() == 2);
  CHECK(group_to_json(loaded.groups.at(a.id)) == group_to_json(a));
  CHECK(group_to_json(loaded.groups.at(b.id)) == group_to_json(b));
  CHECK(loaded.invites == invites);
}

TEST_CASE("group store: new commits are appended to the log, the records on disk are not rewritten", "[groups][store]") {
  TempDir tmp;
  auto dir = tmp.path / "groups";
  auto g = sample_group(6);
  GroupStore store(dir);
  store.save(with({&g}), json::array());
  auto log = dir / (g.id + ".commits");
  auto before = read(log);
  auto node_before = inode(log);
  auto later = g;
  for (int i = 0; i < 2; ++i) {  // two more commits, as the chain grows
    auto more = sample_group(8);
    later.commits.push_back(more.commits[6 + i]);
  }
  later.head = {later.commits.back().commit.revision, later.commits.back().commit.state_hash};
  store.save(with({&later}), json::array());
  auto after = read(log);
  CHECK(inode(log) == node_before);  // appended in place, not replaced by a rewrite
  REQUIRE(after.size() > before.size());
  CHECK(after.substr(0, before.size()) == before);
  CHECK(std::count(after.begin(), after.end(), '\n') == 8);

  // An unchanged group writes nothing: its snapshot keeps its inode too.
  auto snap = dir / (g.id + ".json");
  auto snap_node = inode(snap);
  store.save(with({&later}), json::array());
  CHECK(inode(snap) == snap_node);
  CHECK(read(log) == after);
}

TEST_CASE("group store: a torn last line is dropped at load and the log rewritten whole at the next save", "[groups][store]") {
  TempDir tmp;
  auto dir = tmp.path / "groups";
  auto g = sample_group(4);
  GroupStore(dir).save(with({&g}), json::array());
  auto log = dir / (g.id + ".commits");
  { std::ofstream(log, std::ios::app) << R"({"commit":{"group_id":")"; }  // a crash mid-append

  GroupStore store(dir);
  auto loaded = store.load();
  auto& back = loaded.groups.at(g.id);
  REQUIRE(back.commits.size() == 4);
  CHECK(back.head.revision == 4);
  store.save(loaded.groups, json::array());
  auto text = read(log);
  CHECK(std::count(text.begin(), text.end(), '\n') == 4);
  CHECK(text.back() == '\n');
  CHECK(GroupStore(dir).load().groups.at(g.id).commits.size() == 4);
}

TEST_CASE("group store: a log ahead of its snapshot (a crash between the two) decides the head and roster", "[groups][store]") {
  TempDir tmp;
  auto dir = tmp.path / "groups";
  auto g = sample_group(5);
  auto old = first_records(g, 3);
  GroupStore(dir).save(with({&old}), json::array());
  auto snapshot = read(dir / (g.id + ".json"));  // the snapshot at revision 3
  GroupStore(dir).save(with({&g}), json::array());
  { std::ofstream(dir / (g.id + ".json"), std::ios::trunc) << snapshot; }

  auto back = GroupStore(dir).load().groups.at(g.id);
  CHECK(back.commits.size() == 5);
  CHECK(back.head.revision == 5);
  CHECK(back.head.state_hash == g.commits.back().commit.state_hash);
  CHECK(back.roster.begin()->first == g.roster.begin()->first);
}

TEST_CASE("group store: a group no longer held loses its files, a replaced chain is rewritten", "[groups][store]") {
  TempDir tmp;
  auto dir = tmp.path / "groups";
  auto a = sample_group(3), b = sample_group(2);
  GroupStore store(dir);
  store.save(with({&a, &b}), json::array());
  store.save(with({&a}), json::array());
  CHECK_FALSE(fs::exists(dir / (b.id + ".json")));
  CHECK_FALSE(fs::exists(dir / (b.id + ".commits")));

  auto rejoined = sample_group(2);  // same id, another chain (left, then joined again)
  rejoined.id = a.id;
  for (auto& r : rejoined.commits) r.text.clear();
  store.save(with({&rejoined}), json::array());
  auto back = GroupStore(dir).load().groups.at(a.id);
  REQUIRE(back.commits.size() == 2);
  CHECK(back.commits[1].commit.state_hash == rejoined.commits[1].commit.state_hash);
}

TEST_CASE("group store: the single groups.json of earlier versions is read, converted and removed", "[groups][store]") {
  TempDir tmp;
  auto g = sample_group(3);
  {
    std::ofstream legacy(tmp.path / "groups.json");
    legacy << R"({"groups":[)" << group_text(g) << R"(],"invites":[]})";
  }
  GroupStore store(tmp.path / "groups");
  auto loaded = store.load();
  REQUIRE(loaded.groups.size() == 1);
  CHECK(group_to_json(loaded.groups.at(g.id)) == group_to_json(g));
  store.save(loaded.groups, loaded.invites);
  CHECK_FALSE(fs::exists(tmp.path / "groups.json"));
  CHECK(group_to_json(GroupStore(tmp.path / "groups").load().groups.at(g.id)) == group_to_json(g));
}

TEST_CASE("group store: a group id that is not 64 hex never names a file", "[groups][store]") {
  TempDir tmp;
  auto g = sample_group(1);
  g.id = "../../escape";
  CHECK_THROWS_WITH(GroupStore(tmp.path / "groups").save(with({&g}), json::array()),
                    Catch::Contains("not 64 hex"));
  CHECK_FALSE(fs::exists(tmp.path / "escape.json"));
}
