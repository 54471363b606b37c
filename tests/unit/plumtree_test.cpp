#include <catch2/catch.hpp>

#include "node/plumtree.h"

using namespace x0x::node;

TEST_CASE("plumtree: a new topic starts with eager_target eager peers, the rest lazy") {
  PlumTree t(2, 0, 42);
  for (auto p : {"a", "b", "c", "d", "e"}) t.add_peer(p);
  auto targets = t.targets("topic");
  CHECK(targets.eager.size() == 2);
  CHECK(targets.lazy.size() == 3);
  auto ex = t.targets("topic", targets.eager[0]);
  CHECK(ex.eager.size() == 1);
}

TEST_CASE("plumtree: a duplicate from an eager peer prunes it to lazy, once") {
  PlumTree t(3, 0, 1);
  for (auto p : {"a", "b", "c"}) t.add_peer(p);
  t.targets("x");
  REQUIRE(t.role("x", "a") == PlumTree::Role::eager);
  CHECK(t.on_duplicate("x", "a"));
  CHECK(t.role("x", "a") == PlumTree::Role::lazy);
  CHECK_FALSE(t.on_duplicate("x", "a"));  // already lazy: no second PRUNE
}

TEST_CASE("plumtree: PRUNE demotes and GRAFT promotes — topics are independent") {
  PlumTree t(3, 0, 1);
  for (auto p : {"a", "b"}) t.add_peer(p);
  t.targets("x");
  t.targets("y");
  t.on_prune("x", "b");
  CHECK(t.role("x", "b") == PlumTree::Role::lazy);
  CHECK(t.role("y", "b") == PlumTree::Role::eager);
  t.on_graft("x", "b");
  CHECK(t.role("x", "b") == PlumTree::Role::eager);
  t.on_graft("x", "stranger");  // not a peer: ignored
  CHECK(t.role("x", "stranger") == PlumTree::Role::none);
}

TEST_CASE("plumtree: losing an eager peer promotes a lazy one so the tree stays connected") {
  PlumTree t(1, 0, 7);
  for (auto p : {"a", "b", "c"}) t.add_peer(p);
  auto before = t.targets("x");
  REQUIRE(before.eager.size() == 1);
  t.remove_peer(before.eager[0]);
  auto after = t.targets("x");
  CHECK(after.eager.size() == 1);
  CHECK(after.lazy.size() == 1);
  CHECK(after.eager[0] != before.eager[0]);
}

TEST_CASE("plumtree: a peer that joins later becomes eager while the set is short") {
  PlumTree t(2, 0, 3);
  t.add_peer("a");
  t.targets("x");
  t.add_peer("b");
  t.add_peer("c");
  CHECK(t.role("x", "b") == PlumTree::Role::eager);
  CHECK(t.role("x", "c") == PlumTree::Role::lazy);
}

TEST_CASE("plumtree: a message is announced to lazy_target random lazy peers, not to all of them") {
  PlumTree t(2, 3, 11);
  for (int i = 0; i < 20; ++i) t.add_peer("p" + std::to_string(i));
  std::set<std::string> announced;
  for (int k = 0; k < 50; ++k) {
    auto tg = t.targets("x", "p0");
    CHECK(tg.eager.size() <= 2);
    REQUIRE(tg.lazy.size() == 3);
    for (auto& p : tg.lazy) {
      CHECK(t.role("x", p) == PlumTree::Role::lazy);
      CHECK(p != "p0");
      announced.insert(p);
    }
  }
  CHECK(announced.size() > 10);  // drawn anew per message: over many messages most lazy peers hear
  PlumTree all(2, 0, 11);
  for (int i = 0; i < 20; ++i) all.add_peer("p" + std::to_string(i));
  CHECK(all.targets("x").lazy.size() == 18);
}
