// The private_secure group key: one random 32-byte key per epoch (epoch = the
// revision of the membership commit that rotated it), delivered to each member
// sealed (crypto_box_seal) to the X25519 form of its Ed25519 agent key, and
// used for XChaCha20-Poly1305 with (group id, epoch) as associated data.
// A commit's security_binding hashes the sealed keys it ships, so the
// authority's signature covers them.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "node/identity.h"

namespace x0x::node::groups {

using GroupKey = std::array<std::uint8_t, 32>;

GroupKey new_group_key();
// Sealed box to `member`'s Ed25519 public key (converted to X25519); throws
// std::invalid_argument if the key has no X25519 form.
std::string seal_key(const GroupKey& key, const PublicKey& member);
// Opens a sealed key with our agent key pair; nullopt if it was not sealed to us.
std::optional<GroupKey> open_sealed_key(std::string_view sealed, const KeyPair& me);

// nonce (24) | ciphertext+tag. group_id_raw: the 32 raw bytes of the group id.
std::string encrypt(const GroupKey& key, std::string_view group_id_raw, std::uint64_t epoch, std::string_view plaintext);
std::optional<std::string> decrypt(const GroupKey& key, std::string_view group_id_raw, std::uint64_t epoch,
                                   std::string_view sealed_message);

// BLAKE3("x0x.lean.group-keys.v1" | epoch u64 BE | per member, by id: id 32 |
// u32 len | sealed bytes), hex. `sealed` maps member id (64 hex) to the raw
// sealed box. public_open groups use epoch 0 and no keys.
std::string security_binding(std::uint64_t epoch, const std::map<std::string, std::string>& sealed);

}  // namespace x0x::node::groups
