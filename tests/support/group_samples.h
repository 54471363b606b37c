// A group for persistence and text tests: private_secure, `records` signed
// commits (revisions 1..records, one new member each, not a verified chain).
#pragma once
#include <string>

#include "core/encoding.h"
#include "node/groups/commit.h"
#include "node/groups/group_state.h"

namespace x0x::testing {

using node::KeyPair;
using node::derive_agent_id;
using node::groups::CommitRecord;
using node::groups::Group;
using node::groups::Member;
using node::groups::Preset;
using node::groups::Role;
using node::groups::sign_commit;

inline Group sample_group(int records) {
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

}  // namespace x0x::testing
