#include "node/identity.h"

#include <sodium.h>
#include <sys/stat.h>

#include <fstream>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/encoding.h"

namespace x0x::node {

namespace fs = std::filesystem;

static void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

KeyPair KeyPair::generate() {
  ensure_sodium();
  KeyPair k;
  crypto_sign_keypair(k.pk.data(), k.sk.data());
  return k;
}

Signature sign(const KeyPair& key, std::string_view message) {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), key.sk.data());
  return sig;
}

bool verify(const PublicKey& pk, std::string_view message, const Signature& sig) {
  return crypto_sign_verify_detached(sig.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), pk.data()) == 0;
}

static std::string derive_id(std::string_view domain, const PublicKey& pk) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(domain.data()),
                            domain.size());
  crypto_hash_sha256_update(&st, pk.data(), pk.size());
  std::array<std::uint8_t, 32> out{};
  crypto_hash_sha256_final(&st, out.data());
  return to_hex(out);
}

std::string derive_agent_id(const PublicKey& pk) { return derive_id("x0x-lean-agent-id-v1", pk); }
std::string derive_machine_id(const PublicKey& pk) {
  return derive_id("x0x-lean-machine-id-v1", pk);
}

static KeyPair load_or_create_key(const fs::path& path) {
  KeyPair k;
  if (fs::exists(path)) {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(k.sk.data()), k.sk.size());
    if (in.gcount() != static_cast<std::streamsize>(k.sk.size()))
      throw std::runtime_error(path.string() + ": key file is truncated (expected 64 bytes)");
    crypto_sign_ed25519_sk_to_pk(k.pk.data(), k.sk.data());
    return k;
  }
  k = KeyPair::generate();
  write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(k.sk.data()), k.sk.size()), 0600);
  return k;
}

Identity Identity::load_or_create(const fs::path& dir) {
  ensure_sodium();
  fs::create_directories(dir);
  Identity id;
  id.machine = load_or_create_key(dir / "machine.key");
  id.agent = load_or_create_key(dir / "agent.key");
  id.machine_id = derive_machine_id(id.machine.pk);
  id.agent_id = derive_agent_id(id.agent.pk);
  return id;
}

}  // namespace x0x::node
