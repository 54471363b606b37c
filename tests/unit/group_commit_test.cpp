#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/blake3.h"
#include "core/encoding.h"
#include "node/groups/commit.h"
#include "node/groups/group_key.h"

using namespace x0x;
using namespace x0x::node;
using namespace x0x::node::groups;

namespace {
struct Chain {
  KeyPair authority = KeyPair::generate();
  std::string group_id = random_hex(32);
  std::string admin = derive_agent_id(authority.pk);
  std::vector<std::string> roster{admin};
  std::string binding = security_binding(0, {});

  Commit next(const ChainHead& head) {
    Commit c;
    c.group_id = group_id;
    c.revision = head.revision + 1;
    c.prev_state_hash = head.state_hash;
    c.roster_root = roster_root(roster);
    c.policy_hash = to_hex(blake3("policy"));
    c.public_meta_hash = to_hex(blake3("meta"));
    c.security_binding = binding;
    c.committed_by = admin;
    c.committed_at = 1'700'000'000'000 + c.revision;
    sign_commit(c, authority);
    return c;
  }
  CommitRefusal check(const ChainHead& head, const Commit& c) {
    return check_next(head, group_id, authority.pk, c, roster, binding);
  }
};
}  // namespace

TEST_CASE("group commit: roster_root is BLAKE3 over the sorted raw member ids, whatever the input order") {
  auto a = random_hex(32), b = random_hex(32), c = random_hex(32);
  std::vector<std::string> sorted{a, b, c};
  std::sort(sorted.begin(), sorted.end());
  std::string cat;
  for (auto& id : sorted) cat += as_view(*from_hex(id));
  CHECK(roster_root({c, a, b}) == to_hex(blake3(cat)));
  CHECK(roster_root({b, c, a}) == roster_root({a, b, c}));
  CHECK(roster_root({a, b}) != roster_root({a, b, c}));
}

TEST_CASE("group commit: a chain of signed commits applies in revision order, each naming the previous state hash") {
  Chain ch;
  ChainHead head;
  for (int i = 0; i < 4; ++i) {
    ch.roster.push_back(random_hex(32));
    auto c = ch.next(head);
    REQUIRE(ch.check(head, c) == CommitRefusal::accepted);
    CHECK(c.state_hash == compute_state_hash(c));
    head = {c.revision, c.state_hash};
  }
  CHECK(head.revision == 4);
}

TEST_CASE("group commit: forged, wrong-signer, replayed, gapped, mis-linked and mis-rostered commits are refused with distinct reasons") {
  Chain ch;
  ChainHead head;
  auto c1 = ch.next(head);
  REQUIRE(ch.check(head, c1) == CommitRefusal::accepted);
  ChainHead h1{1, c1.state_hash};
  auto c2 = ch.next(h1);

  SECTION("a field changed after signing") {
    auto forged = c2;
    forged.roster_root = roster_root({random_hex(32)});
    CHECK(ch.check(h1, forged) == CommitRefusal::bad_state_hash);
    forged.state_hash = compute_state_hash(forged);  // re-hashed but not re-signed
    CHECK(ch.check(h1, forged) == CommitRefusal::bad_signature);
  }
  SECTION("a forged signature") {
    auto forged = c2;
    forged.signature[0] = forged.signature[0] == 'a' ? 'b' : 'a';
    CHECK(ch.check(h1, forged) == CommitRefusal::bad_signature);
  }
  SECTION("validly signed by someone else") {
    auto other = c2;
    sign_commit(other, KeyPair::generate());
    CHECK(ch.check(h1, other) == CommitRefusal::wrong_signer);
  }
  SECTION("a replay of an applied revision") { CHECK(ch.check(h1, c1) == CommitRefusal::replay); }
  SECTION("a gap") {
    ChainHead h2{2, c2.state_hash};
    auto c3 = ch.next(h2);
    CHECK(ch.check(h1, c3) == CommitRefusal::gap);
  }
  SECTION("the wrong previous state hash") {
    auto c = ch.next({1, std::string(64, 'f')});
    CHECK(ch.check(h1, c) == CommitRefusal::wrong_prev_state_hash);
  }
  SECTION("a roster that does not hash to roster_root") {
    auto c = ch.next(h1);
    auto shipped = ch.roster;
    shipped.push_back(random_hex(32));
    CHECK(check_next(h1, ch.group_id, ch.authority.pk, c, shipped, ch.binding) == CommitRefusal::roster_root_mismatch);
  }
  SECTION("sealed keys other than those bound") {
    CHECK(check_next(h1, ch.group_id, ch.authority.pk, c2, ch.roster, security_binding(1, {})) ==
          CommitRefusal::security_binding_mismatch);
  }
  SECTION("another group's commit, and malformed hex") {
    CHECK(check_next(h1, random_hex(32), ch.authority.pk, c2, ch.roster, ch.binding) == CommitRefusal::wrong_group);
    auto bad = c2;
    bad.policy_hash = "xyz";
    CHECK(ch.check(h1, bad) == CommitRefusal::malformed);
  }
}

TEST_CASE("group commit: JSON round trip keeps every field, and hostile JSON is refused naming the field") {
  Chain ch;
  auto c = ch.next({});
  std::string err;
  auto back = commit_from_json(to_json(c), err);
  REQUIRE(back);
  CHECK(to_json(*back) == to_json(c));
  auto j = to_json(c);
  j["revision"] = "1";
  CHECK_FALSE(commit_from_json(j, err));
  CHECK(err.find("revision") != std::string::npos);
  j = to_json(c);
  j["signature"] = "00";
  CHECK_FALSE(commit_from_json(j, err));
  CHECK(err.find("signature") != std::string::npos);
}
