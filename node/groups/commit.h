// Signed group state commits (node-api.md §2.10's commit object) and the
// chain rule every member applies before accepting one.
//
// Rules (also in the README):
//  * roster_root  = BLAKE3 over the concatenated raw 32-byte agent ids of the
//                   roster, sorted ascending (no separator, no domain tag), hex.
//  * canonical    = "x0x.lean.group-commit.v1" (u32 length-prefixed) | group_id 32
//                   | revision u64 BE | prev_state_hash 32 | roster_root 32
//                   | policy_hash 32 | public_meta_hash 32 | security_binding 32
//                   | withdrawn u8 | committed_by 32 | committed_at u64 BE (ms)
//                   | signer_public_key 32
//  * state_hash   = BLAKE3(canonical), hex
//  * signature    = Ed25519 by the group authority (the creator's agent key)
//                   over the 32 raw bytes of state_hash, hex.
//  * revision 1's prev_state_hash is 64 zeros; each next commit names the
//    previous commit's state_hash and has revision = previous + 1.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "node/identity.h"

namespace x0x::node::groups {

inline const std::string kZeroHash(64, '0');

struct Commit {
  std::string group_id;  // 64 hex
  std::uint64_t revision = 0;
  std::string prev_state_hash = kZeroHash;
  std::string roster_root, policy_hash, public_meta_hash, security_binding, state_hash;  // 64 hex
  bool withdrawn = false;
  std::string committed_by;       // agent id, 64 hex
  std::uint64_t committed_at = 0;  // unix ms
  std::string signer_public_key;   // 64 hex (Ed25519)
  std::string signature;           // 128 hex
};

std::string roster_root(std::vector<std::string> member_ids);  // ids: 64 hex
std::string canonical_bytes(const Commit& c);                  // throws on malformed hex
std::string compute_state_hash(const Commit& c);
// Fills signer_public_key, state_hash and signature.
void sign_commit(Commit& c, const KeyPair& authority);

nlohmann::json to_json(const Commit& c);
// Shape and hex lengths checked (hostile input); nullopt with `error` set otherwise.
std::optional<Commit> commit_from_json(const nlohmann::json& j, std::string& error);

enum class CommitRefusal {
  accepted,
  malformed,
  wrong_group,
  bad_state_hash,       // state_hash is not the hash of the fields
  bad_signature,        // signature does not verify under signer_public_key
  wrong_signer,         // verifies, but not the group authority's key
  replay,               // revision <= current head
  gap,                  // revision > current head + 1
  wrong_prev_state_hash,
  roster_root_mismatch,  // roster_root is not recomputable from the roster shipped with it
  security_binding_mismatch,  // sealed group keys are not those the commit binds
};
const char* to_string(CommitRefusal r);

struct ChainHead {
  std::uint64_t revision = 0;
  std::string state_hash = kZeroHash;
};

// Checks `c` as the next commit after `head`. `roster_ids` is the roster
// snapshot carried with the commit; `binding` the security binding recomputed
// from the sealed keys carried with it.
CommitRefusal check_next(const ChainHead& head, const std::string& group_id, const PublicKey& authority,
                         const Commit& c, const std::vector<std::string>& roster_ids, const std::string& binding);

}  // namespace x0x::node::groups
