#include <catch2/catch.hpp>

#include "core/encoding.h"
#include "node/groups/group_key.h"

using namespace x0x;
using namespace x0x::node;
using namespace x0x::node::groups;

TEST_CASE("group key: a key sealed to a member opens only with that member's agent key") {
  auto alice = KeyPair::generate(), bob = KeyPair::generate(), eve = KeyPair::generate();
  auto key = new_group_key();
  auto sealed = seal_key(key, alice.pk);
  auto opened = open_sealed_key(sealed, alice);
  REQUIRE(opened);
  CHECK(*opened == key);
  CHECK_FALSE(open_sealed_key(sealed, bob));
  CHECK_FALSE(open_sealed_key(sealed, eve));
  CHECK_FALSE(open_sealed_key(sealed.substr(1), alice));
}

TEST_CASE("group key: messages open only with the epoch's key, group id and epoch") {
  std::string group(as_view(random_bytes(32)));
  auto k1 = new_group_key(), k2 = new_group_key();
  auto ct = encrypt(k1, group, 3, "launch at dawn");
  CHECK(ct.find("launch") == std::string::npos);
  CHECK(decrypt(k1, group, 3, ct) == std::optional<std::string>("launch at dawn"));
  CHECK_FALSE(decrypt(k2, group, 3, ct));                        // another epoch's key
  CHECK_FALSE(decrypt(k1, group, 4, ct));                        // associated data: epoch
  CHECK_FALSE(decrypt(k1, as_view(random_bytes(32)), 3, ct));    // associated data: group
  auto tampered = ct;
  tampered.back() ^= 1;
  CHECK_FALSE(decrypt(k1, group, 3, tampered));
}

TEST_CASE("group key: rotation at a membership change leaves a removed member unable to open the new key or messages") {
  auto admin = KeyPair::generate(), stays = KeyPair::generate(), removed = KeyPair::generate();
  std::string group(as_view(random_bytes(32)));
  auto epoch1 = new_group_key();
  std::map<std::string, std::string> sealed1{{derive_agent_id(admin.pk), seal_key(epoch1, admin.pk)},
                                             {derive_agent_id(stays.pk), seal_key(epoch1, stays.pk)},
                                             {derive_agent_id(removed.pk), seal_key(epoch1, removed.pk)}};
  CHECK(open_sealed_key(sealed1[derive_agent_id(removed.pk)], removed) == std::optional<GroupKey>(epoch1));
  // Epoch 2: the removed member is gone from the roster, so nothing is sealed to it.
  auto epoch2 = new_group_key();
  REQUIRE(epoch2 != epoch1);
  std::map<std::string, std::string> sealed2{{derive_agent_id(admin.pk), seal_key(epoch2, admin.pk)},
                                             {derive_agent_id(stays.pk), seal_key(epoch2, stays.pk)}};
  for (auto& [id, box] : sealed2) CHECK_FALSE(open_sealed_key(box, removed));
  CHECK(open_sealed_key(sealed2[derive_agent_id(stays.pk)], stays) == std::optional<GroupKey>(epoch2));
  auto ct = encrypt(epoch2, group, 2, "after the removal");
  CHECK_FALSE(decrypt(epoch1, group, 2, ct));  // the old key it still holds does not help
  // The binding changes with the sealed keys, so the signed commit pins them.
  CHECK(security_binding(1, sealed1) != security_binding(2, sealed2));
  auto swapped = sealed2;
  swapped.begin()->second = seal_key(new_group_key(), admin.pk);
  CHECK(security_binding(2, swapped) != security_binding(2, sealed2));
}
