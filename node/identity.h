// Node identity: two Ed25519 key pairs (machine and agent) persisted in the data
// dir, and the 64-hex ids derived from them the way x0xd exposes them.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace x0x::node {

using PublicKey = std::array<std::uint8_t, 32>;
using SecretKey = std::array<std::uint8_t, 64>;
using Signature = std::array<std::uint8_t, 64>;

struct KeyPair {
  PublicKey pk{};
  SecretKey sk{};
  static KeyPair generate();
};

Signature sign(const KeyPair& key, std::string_view message);
bool verify(const PublicKey& pk, std::string_view message, const Signature& sig);

// SHA-256 over a domain separator and the public key, as 64 lowercase hex.
std::string derive_agent_id(const PublicKey& agent_pk);
std::string derive_machine_id(const PublicKey& machine_pk);

struct Identity {
  KeyPair machine;
  KeyPair agent;
  std::string machine_id;
  std::string agent_id;

  // Reads machine.key / agent.key (raw 64-byte secret keys, mode 0600) from
  // dir, creating them when absent, so a node keeps its ids across restarts.
  static Identity load_or_create(const std::filesystem::path& dir);
};

}  // namespace x0x::node
