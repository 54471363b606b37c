#include "node/groups/commit.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/blake3.h"
#include "core/encoding.h"
#include "node/wire.h"

namespace x0x::node::groups {

using nlohmann::json;

static std::string raw_hex(const std::string& hex, std::size_t bytes, const char* field) {
  auto raw = from_hex(hex);
  if (!raw || raw->size() != bytes) throw std::invalid_argument(std::string("commit field ") + field + " is not " + std::to_string(bytes * 2) + " hex");
  return std::string(as_view(*raw));
}

std::string roster_root(std::vector<std::string> member_ids) {
  std::sort(member_ids.begin(), member_ids.end());
  std::string cat;
  for (auto& id : member_ids) cat += raw_hex(id, 32, "roster member");
  return to_hex(blake3(cat));
}

std::string canonical_bytes(const Commit& c) {
  wire::Writer w;
  w.str("x0x.lean.group-commit.v1");
  w.raw(raw_hex(c.group_id, 32, "group_id"));
  w.u64(c.revision);
  w.raw(raw_hex(c.prev_state_hash, 32, "prev_state_hash"));
  w.raw(raw_hex(c.roster_root, 32, "roster_root"));
  w.raw(raw_hex(c.policy_hash, 32, "policy_hash"));
  w.raw(raw_hex(c.public_meta_hash, 32, "public_meta_hash"));
  w.raw(raw_hex(c.security_binding, 32, "security_binding"));
  w.u8(c.withdrawn ? 1 : 0);
  w.raw(raw_hex(c.committed_by, 32, "committed_by"));
  w.u64(c.committed_at);
  w.raw(raw_hex(c.signer_public_key, 32, "signer_public_key"));
  return std::move(w.data());
}

std::string compute_state_hash(const Commit& c) { return to_hex(blake3(canonical_bytes(c))); }

void sign_commit(Commit& c, const KeyPair& authority) {
  c.signer_public_key = to_hex(authority.pk);
  c.state_hash = compute_state_hash(c);
  c.signature = to_hex(sign(authority, raw_hex(c.state_hash, 32, "state_hash")));
}

json to_json(const Commit& c) {
  return {{"group_id", c.group_id}, {"revision", c.revision}, {"prev_state_hash", c.prev_state_hash},
          {"roster_root", c.roster_root}, {"policy_hash", c.policy_hash}, {"public_meta_hash", c.public_meta_hash},
          {"security_binding", c.security_binding}, {"state_hash", c.state_hash}, {"withdrawn", c.withdrawn},
          {"committed_by", c.committed_by}, {"committed_at", c.committed_at},
          {"signer_public_key", c.signer_public_key}, {"signature", c.signature}};
}

std::optional<Commit> commit_from_json(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "commit is not an object";
    return std::nullopt;
  }
  Commit c;
  auto hex = [&](const char* k, std::size_t len, std::string& out) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string() || !is_hex(it->get<std::string>(), len)) {
      error = std::string("commit.") + k + " must be " + std::to_string(len) + " hex";
      return false;
    }
    out = it->get<std::string>();
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return true;
  };
  auto num = [&](const char* k, std::uint64_t& out) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_number_unsigned()) {
      error = std::string("commit.") + k + " must be an unsigned integer";
      return false;
    }
    out = it->get<std::uint64_t>();
    return true;
  };
  if (!hex("group_id", 64, c.group_id) || !num("revision", c.revision) || !hex("prev_state_hash", 64, c.prev_state_hash) ||
      !hex("roster_root", 64, c.roster_root) || !hex("policy_hash", 64, c.policy_hash) ||
      !hex("public_meta_hash", 64, c.public_meta_hash) || !hex("security_binding", 64, c.security_binding) ||
      !hex("state_hash", 64, c.state_hash) || !hex("committed_by", 64, c.committed_by) ||
      !num("committed_at", c.committed_at) || !hex("signer_public_key", 64, c.signer_public_key) ||
      !hex("signature", 128, c.signature))
    return std::nullopt;
  auto w = j.find("withdrawn");
  if (w == j.end() || !w->is_boolean()) {
    error = "commit.withdrawn must be a boolean";
    return std::nullopt;
  }
  c.withdrawn = w->get<bool>();
  return c;
}

const char* to_string(CommitRefusal r) {
  switch (r) {
    case CommitRefusal::accepted: return "accepted";
    case CommitRefusal::malformed: return "malformed";
    case CommitRefusal::wrong_group: return "wrong_group";
    case CommitRefusal::bad_state_hash: return "bad_state_hash";
    case CommitRefusal::bad_signature: return "bad_signature";
    case CommitRefusal::wrong_signer: return "wrong_signer";
    case CommitRefusal::replay: return "replay";
    case CommitRefusal::gap: return "gap";
    case CommitRefusal::wrong_prev_state_hash: return "wrong_prev_state_hash";
    case CommitRefusal::roster_root_mismatch: return "roster_root_mismatch";
    case CommitRefusal::security_binding_mismatch: return "security_binding_mismatch";
  }
  return "malformed";
}

CommitRefusal check_next(const ChainHead& head, const std::string& group_id, const PublicKey& authority,
                         const Commit& c, const std::vector<std::string>& roster_ids, const std::string& binding) {
  try {
    if (c.group_id != group_id) return CommitRefusal::wrong_group;
    if (compute_state_hash(c) != c.state_hash) return CommitRefusal::bad_state_hash;
    PublicKey signer{};
    auto pk = raw_hex(c.signer_public_key, 32, "signer_public_key");
    std::copy(pk.begin(), pk.end(), reinterpret_cast<char*>(signer.data()));
    Signature sig{};
    auto s = raw_hex(c.signature, 64, "signature");
    std::copy(s.begin(), s.end(), reinterpret_cast<char*>(sig.data()));
    if (!verify(signer, raw_hex(c.state_hash, 32, "state_hash"), sig)) return CommitRefusal::bad_signature;
    if (signer != authority) return CommitRefusal::wrong_signer;
    if (c.revision <= head.revision) return CommitRefusal::replay;
    if (c.revision > head.revision + 1) return CommitRefusal::gap;
    if (c.prev_state_hash != head.state_hash) return CommitRefusal::wrong_prev_state_hash;
    if (roster_root(roster_ids) != c.roster_root) return CommitRefusal::roster_root_mismatch;
    if (binding != c.security_binding) return CommitRefusal::security_binding_mismatch;
    return CommitRefusal::accepted;
  } catch (const std::invalid_argument&) {
    return CommitRefusal::malformed;
  }
}

}  // namespace x0x::node::groups
