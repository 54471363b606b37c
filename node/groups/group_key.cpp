#include "node/groups/group_key.h"

#include <sodium.h>

#include <stdexcept>

#include "core/blake3.h"
#include "core/encoding.h"
#include "node/wire.h"

namespace x0x::node::groups {

GroupKey new_group_key() {
  GroupKey k{};
  crypto_aead_xchacha20poly1305_ietf_keygen(k.data());
  return k;
}

std::string seal_key(const GroupKey& key, const PublicKey& member) {
  std::array<std::uint8_t, crypto_box_PUBLICKEYBYTES> x{};
  if (crypto_sign_ed25519_pk_to_curve25519(x.data(), member.data()) != 0)
    throw std::invalid_argument("member key has no X25519 form");
  std::string out(crypto_box_SEALBYTES + key.size(), '\0');
  crypto_box_seal(reinterpret_cast<unsigned char*>(out.data()), key.data(), key.size(), x.data());
  return out;
}

std::optional<GroupKey> open_sealed_key(std::string_view sealed, const KeyPair& me) {
  if (sealed.size() != crypto_box_SEALBYTES + sizeof(GroupKey)) return std::nullopt;
  std::array<std::uint8_t, crypto_box_PUBLICKEYBYTES> xpk{};
  std::array<std::uint8_t, crypto_box_SECRETKEYBYTES> xsk{};
  if (crypto_sign_ed25519_pk_to_curve25519(xpk.data(), me.pk.data()) != 0) return std::nullopt;
  crypto_sign_ed25519_sk_to_curve25519(xsk.data(), me.sk.data());
  GroupKey k{};
  int rc = crypto_box_seal_open(k.data(), reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                                xpk.data(), xsk.data());
  sodium_memzero(xsk.data(), xsk.size());
  if (rc != 0) return std::nullopt;
  return k;
}

static std::string associated_data(std::string_view group_id_raw, std::uint64_t epoch) {
  wire::Writer w;
  w.raw(group_id_raw);
  w.u64(epoch);
  return std::move(w.data());
}

std::string encrypt(const GroupKey& key, std::string_view group_id_raw, std::uint64_t epoch, std::string_view plaintext) {
  auto ad = associated_data(group_id_raw, epoch);
  std::string out(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
                                             reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                                             reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce,
                                             key.data());
  out.resize(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + clen);
  return out;
}

std::optional<std::string> decrypt(const GroupKey& key, std::string_view group_id_raw, std::uint64_t epoch,
                                   std::string_view sealed_message) {
  constexpr auto N = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, A = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (sealed_message.size() < N + A) return std::nullopt;
  auto ad = associated_data(group_id_raw, epoch);
  std::string out(sealed_message.size() - N - A, '\0');
  unsigned long long mlen = 0;
  auto* in = reinterpret_cast<const unsigned char*>(sealed_message.data());
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()), &mlen, nullptr, in + N,
                                                 sealed_message.size() - N,
                                                 reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), in,
                                                 key.data()) != 0)
    return std::nullopt;
  out.resize(mlen);
  return out;
}

std::string security_binding(std::uint64_t epoch, const std::map<std::string, std::string>& sealed) {
  wire::Writer w;
  w.str("x0x.lean.group-keys.v1");
  w.u64(epoch);
  for (auto& [id, box] : sealed) {
    auto raw = from_hex(id);
    if (!raw || raw->size() != 32) throw std::invalid_argument("sealed key for a member id that is not 64 hex");
    w.raw(as_view(*raw));
    w.str(box);
  }
  return to_hex(blake3(w.data()));
}

}  // namespace x0x::node::groups
