#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "node/groups/invite.h"

using namespace x0x;
using namespace x0x::node;
using namespace x0x::node::groups;
using nlohmann::json;

namespace {
Invite sample(const KeyPair& k, std::uint64_t expires_at) {
  Invite i;
  i.group_id = random_hex(32);
  i.name = "ops";
  i.description = "the ops room";
  i.preset = "private_secure";
  i.inviter = derive_agent_id(k.pk);
  i.authority_key = to_hex(k.pk);
  i.secret = random_hex(32);
  i.expires_at = expires_at;
  i.roster = {i.inviter};
  i.revision = 1;
  return i;
}
}  // namespace

TEST_CASE("group invite: a signed link round-trips with everything a joiner needs") {
  auto k = KeyPair::generate();
  auto inv = sample(k, 2000);
  auto link = make_invite_link(inv, k);
  CHECK(link.rfind("x0x://invite/", 0) == 0);
  auto p = parse_invite(link, 1000);
  REQUIRE(p.problem == InviteProblem::none);
  CHECK(p.invite.group_id == inv.group_id);
  CHECK(p.invite.roster == inv.roster);
  CHECK(p.invite.secret == inv.secret);
  CHECK(p.invite.revision == 1);
  // The raw base64url part is accepted as well.
  CHECK(parse_invite(link.substr(13), 1000).problem == InviteProblem::none);
}

TEST_CASE("group invite: expired, forged and malformed invites are refused") {
  auto k = KeyPair::generate();
  auto inv = sample(k, 2000);
  auto link = make_invite_link(inv, k);
  CHECK(parse_invite(link, 2000).problem == InviteProblem::expired);
  auto never = sample(k, 0);
  CHECK(parse_invite(make_invite_link(never, k), 4'000'000'000).problem == InviteProblem::none);

  // Tamper with a field and re-encode: the signature no longer verifies.
  auto j = json::parse(*base64url_decode(link.substr(13)));
  j["name"] = "evil";
  CHECK(parse_invite("x0x://invite/" + base64url_encode(j.dump()), 1000).problem == InviteProblem::bad_signature);
  j = json::parse(*base64url_decode(link.substr(13)));
  j["extra"] = 1;
  CHECK(parse_invite("x0x://invite/" + base64url_encode(j.dump()), 1000).problem == InviteProblem::bad_signature);
  // Signed by another key but claiming the real authority key.
  auto forged = inv;
  auto other = KeyPair::generate();
  auto forged_link = make_invite_link(forged, other);
  CHECK(parse_invite(forged_link, 1000).problem == InviteProblem::bad_signature);
  CHECK(parse_invite("x0x://invite/!!", 1000).problem == InviteProblem::malformed);
  CHECK(parse_invite("x0x://invite/" + base64url_encode("[1]"), 1000).problem == InviteProblem::malformed);
}

TEST_CASE("group invite: the inviter's book redeems each secret once, refuses unknown and expired ones, and persists") {
  InviteBook book;
  auto g = random_hex(32), s = random_hex(32), s2 = random_hex(32);
  book.issue(g, s, 0);
  book.issue(g, s2, 100);
  CHECK(book.redeem(random_hex(32), s, 50) == Redeem::unknown_secret);  // another group's id
  CHECK(book.redeem(g, random_hex(32), 50) == Redeem::unknown_secret);
  CHECK(book.redeem(g, s2, 100) == Redeem::expired);
  auto restored = InviteBook::from_json(book.to_json());
  CHECK(restored.redeem(g, s, 50) == Redeem::ok);
  CHECK(restored.redeem(g, s, 50) == Redeem::reused);
  CHECK(InviteBook::from_json(restored.to_json()).redeem(g, s, 50) == Redeem::reused);
}
