#include "node/groups/invite.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace x0x::node::groups {

using nlohmann::json;

static json unsigned_json(const Invite& i) {
  return {{"v", 1}, {"group_id", i.group_id}, {"name", i.name}, {"description", i.description},
          {"preset", i.preset}, {"inviter", i.inviter}, {"authority_key", i.authority_key},
          {"secret", i.secret}, {"expires_at", i.expires_at}, {"roster", i.roster}, {"revision", i.revision}};
}

static std::string invite_signed_text(const json& unsigned_invite) { return "x0x.lean.invite.v1\n" + unsigned_invite.dump(); }

std::string make_invite_link(Invite& inv, const KeyPair& authority) {
  auto j = unsigned_json(inv);
  inv.signature = to_hex(sign(authority, invite_signed_text(j)));
  j["signature"] = inv.signature;
  return std::string(kInvitePrefix) + base64url_encode(j.dump());
}

ParsedInvite parse_invite(std::string_view link, std::uint64_t now_secs) {
  ParsedInvite out;
  auto bad = [&](InviteProblem p, std::string d) {
    out.problem = p;
    out.detail = std::move(d);
    return out;
  };
  if (link.substr(0, kInvitePrefix.size()) == kInvitePrefix) link.remove_prefix(kInvitePrefix.size());
  auto text = base64url_decode(link);
  if (!text) text = base64_decode(link);  // raw standard base64 is accepted too
  if (!text) return bad(InviteProblem::malformed, "not base64url");
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return bad(InviteProblem::malformed, "not a JSON object");
  auto& inv = out.invite;
  auto str = [&](const char* k, std::string& v, std::size_t hex_len = 0) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return false;
    v = it->get<std::string>();
    return hex_len == 0 || is_hex(v, hex_len);
  };
  auto num = [&](const char* k, std::uint64_t& v) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_number_unsigned()) return false;
    v = it->get<std::uint64_t>();
    return true;
  };
  if (!str("group_id", inv.group_id, 64)) return bad(InviteProblem::malformed, "group_id must be 64 hex");
  if (!str("name", inv.name) || !str("description", inv.description) || !str("preset", inv.preset))
    return bad(InviteProblem::malformed, "name, description and preset must be strings");
  if (!str("inviter", inv.inviter, 64)) return bad(InviteProblem::malformed, "inviter must be 64 hex");
  if (!str("authority_key", inv.authority_key, 64)) return bad(InviteProblem::malformed, "authority_key must be 64 hex");
  if (!str("secret", inv.secret, 64)) return bad(InviteProblem::malformed, "secret must be 64 hex");
  if (!str("signature", inv.signature, 128)) return bad(InviteProblem::malformed, "signature must be 128 hex");
  if (!num("expires_at", inv.expires_at) || !num("revision", inv.revision))
    return bad(InviteProblem::malformed, "expires_at and revision must be unsigned integers");
  auto r = j.find("roster");
  if (r == j.end() || !r->is_array()) return bad(InviteProblem::malformed, "roster must be a list");
  for (auto& m : *r) {
    if (!m.is_string() || !is_hex(m.get<std::string>(), 64)) return bad(InviteProblem::malformed, "roster entries must be 64 hex");
    inv.roster.push_back(m.get<std::string>());
  }
  // Verify over the fields as we parsed them: anything added or altered breaks it.
  PublicKey pk{};
  Signature sig{};
  auto pk_raw = from_hex(inv.authority_key);
  auto sig_raw = from_hex(inv.signature);
  std::copy(pk_raw->begin(), pk_raw->end(), pk.begin());
  std::copy(sig_raw->begin(), sig_raw->end(), sig.begin());
  auto body = j;
  body.erase("signature");
  if (body != unsigned_json(inv) || !verify(pk, invite_signed_text(body), sig))
    return bad(InviteProblem::bad_signature, "signature does not verify");
  if (inv.expires_at != 0 && now_secs >= inv.expires_at) return bad(InviteProblem::expired, "invite has expired");
  return out;
}

void InviteBook::issue(const std::string& group_id, const std::string& secret, std::uint64_t expires_at) {
  by_secret_[secret] = {group_id, expires_at, false};
}

Redeem InviteBook::redeem(const std::string& group_id, const std::string& secret, std::uint64_t now_secs) {
  auto it = by_secret_.find(secret);
  if (it == by_secret_.end() || it->second.group_id != group_id) return Redeem::unknown_secret;
  if (it->second.consumed) return Redeem::reused;
  if (it->second.expires_at != 0 && now_secs >= it->second.expires_at) return Redeem::expired;
  it->second.consumed = true;
  return Redeem::ok;
}

void InviteBook::forget_group(const std::string& group_id) {
  std::erase_if(by_secret_, [&](auto& kv) { return kv.second.group_id == group_id; });
}

json InviteBook::to_json() const {
  json list = json::array();
  for (auto& [secret, e] : by_secret_)
    list.push_back({{"secret", secret}, {"group_id", e.group_id}, {"expires_at", e.expires_at}, {"consumed", e.consumed}});
  return list;
}

InviteBook InviteBook::from_json(const json& j) {
  InviteBook b;
  if (!j.is_array()) return b;
  for (auto& e : j)
    b.by_secret_[e.at("secret").get<std::string>()] = {e.at("group_id").get<std::string>(),
                                                      e.at("expires_at").get<std::uint64_t>(), e.at("consumed").get<bool>()};
  return b;
}

}  // namespace x0x::node::groups
