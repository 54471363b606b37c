// REST routes for contacts (node-api.md §2.9): trust stored lower-case, input
// case-insensitive, unknown fields 422, bad hex / level 400 naming the field.
#include "core/encoding.h"
#include "node/api_util.h"
#include "node/lean_node.h"

namespace x0x::node {

using namespace api;

// 64 hex (either case) → lower case; otherwise err names the field.
static std::optional<std::string> agent_id_field(const std::string& value, const char* field, HttpResponse& err) {
  auto raw = from_hex(value);
  if (!raw) {
    err = fail(400, std::string("invalid ") + field + ": invalid hex: " + value);
    return std::nullopt;
  }
  if (raw->size() != 32) {
    err = fail(400, std::string("invalid ") + field + ": expected 32 bytes (64 hex chars), got " + std::to_string(raw->size()));
    return std::nullopt;
  }
  return to_hex(*raw);
}

static json contact_json(const Contact& c) {
  return {{"agent_id", c.agent_id}, {"trust_level", to_string(c.trust)}, {"identity_type", to_string(c.identity)},
          {"label", c.label ? json(*c.label) : json()}, {"added_at", c.added_at},
          {"last_seen", c.last_seen ? json(*c.last_seen) : json()}};
}

HttpResponse LeanNode::contacts_route(const HttpRequest& req) {
  const auto& m = req.method;
  HttpResponse err;
  if (req.path == "/contacts") {
    if (m == "GET") {
      json list = json::array();
      for (auto& c : contacts_->list()) list.push_back(contact_json(c));
      return ok({{"contacts", list}});
    }
    if (m != "POST") return method_not_allowed();
    auto body = parse_body(req, err);
    if (!body) return err;
    if (!only_fields(*body, {"agent_id", "trust_level", "label"}, err)) return err;
    auto raw_id = string_field(*body, "agent_id", err);
    if (!raw_id) return err;
    std::optional<std::string> level, label;
    if (!optional_string(*body, "trust_level", level, err) || !optional_string(*body, "label", label, err)) return err;
    auto id = agent_id_field(*raw_id, "agent_id", err);
    if (!id) return err;
    Contact c;
    c.agent_id = *id;
    c.label = label;
    if (level) {
      auto t = parse_trust_level(*level);
      if (!t) return fail(400, "invalid trust_level: " + *level + " (expected blocked, unknown, known or trusted)");
      c.trust = *t;
    }
    contacts_->add(std::move(c));
    return ok({{"agent_id", *id}}, 201);
  }
  // /contacts/:agent_id
  auto id = agent_id_field(req.path.substr(std::string_view("/contacts/").size()), "agent_id", err);
  if (m == "DELETE") {
    if (!id) return err;
    if (!contacts_->remove(*id)) return fail(404, "contact not found");
    return ok();
  }
  if (m != "PATCH") return method_not_allowed();
  auto body = parse_body(req, err);
  if (!body) return err;
  if (!only_fields(*body, {"trust_level", "identity_type"}, err)) return err;
  std::optional<std::string> level, ident;
  if (!optional_string(*body, "trust_level", level, err) || !optional_string(*body, "identity_type", ident, err)) return err;
  if (!id) return err;
  std::optional<TrustLevel> t;
  std::optional<IdentityType> it;
  if (level && !(t = parse_trust_level(*level)))
    return fail(400, "invalid trust_level: " + *level + " (expected blocked, unknown, known or trusted)");
  if (ident && !(it = parse_identity_type(*ident)))
    return fail(400, "invalid identity_type: " + *ident + " (expected anonymous, known, trusted or pinned)");
  if (t || it) contacts_->update(*id, t, it);
  return ok();
}

}  // namespace x0x::node
