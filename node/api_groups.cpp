// REST routes for named groups (node-api.md §2.10). Parsing and status codes
// here; the group logic is groups::GroupEngine.
#include <charconv>

#include "core/encoding.h"
#include "node/api_util.h"
#include "node/lean_node.h"

namespace x0x::node {

using namespace api;

static HttpResponse answer(const groups::Answer& a) { return json_response(a.status, a.body); }

// "?from_revision=3&limit=10" → the value of `key` as an unsigned number.
static std::optional<std::uint64_t> query_number(const std::string& query, std::string_view key) {
  std::string_view q(query);
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == key) {
      auto v = part.substr(eq + 1);
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && p == v.data() + v.size()) return n;
      return std::nullopt;
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

HttpResponse LeanNode::groups_route(const HttpRequest& req, Reply& reply, bool& deferred) {
  const auto& m = req.method;
  HttpResponse err;
  if (req.path == "/groups") {
    if (m == "GET") return answer(groups_->list());
    if (m != "POST") return method_not_allowed();
    auto body = parse_body(req, err);
    if (!body) return err;
    auto name = string_field(*body, "name", err);
    if (!name) return err;
    std::optional<std::string> description, preset, display_name;
    if (!optional_string(*body, "description", description, err) || !optional_string(*body, "preset", preset, err) ||
        !optional_string(*body, "display_name", display_name, err))
      return err;
    auto p = groups::parse_preset(preset.value_or("private_secure"));
    if (!p) return fail(400, "unknown preset: " + *preset);
    return answer(groups_->create(*name, description.value_or(""), *p, display_name.value_or("")));
  }
  if (req.path == "/groups/join") {
    if (m != "POST") return method_not_allowed();
    auto body = parse_body(req, err);
    if (!body) return err;
    auto invite = string_field(*body, "invite", err);
    if (!invite) return err;
    std::optional<std::string> display_name;
    if (!optional_string(*body, "display_name", display_name, err)) return err;
    deferred = true;
    groups_->join(*invite, display_name.value_or(""), [reply](groups::Answer a) { reply(answer(a)); });
    return {};
  }
  // /groups/:id[/sub...]
  auto rest = std::string_view(req.path).substr(std::string_view("/groups/").size());
  auto slash = rest.find('/');
  auto id_part = std::string(rest.substr(0, slash));
  auto sub = slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash));
  auto raw = from_hex(id_part);
  if (!raw || raw->size() != 32) return fail(404, "group not found");
  auto gid = to_hex(*raw);

  if (sub.empty()) {
    if (m == "GET") return answer(groups_->info(gid));
    if (m == "DELETE") return answer(groups_->leave(gid));
    return method_not_allowed();
  }
  if (sub == "/invite") {
    if (m != "POST") return method_not_allowed();
    std::uint64_t expiry = 604'800;  // 7 days, x0xd's default
    auto trimmed = req.body.find_first_not_of(" \t\r\n") == std::string::npos;
    if (!trimmed) {
      if (req.content_type.rfind("application/json", 0) != 0)
        return fail(415, "invite body must be application/json");
      auto body = parse_body(req, err);
      if (!body) return err;
      if (auto it = body->find("expiry_secs"); it != body->end() && !it->is_null()) {
        if (!it->is_number_unsigned()) return plain(422, std::string(kDeserializeError) + "invalid type for field `expiry_secs`");
        expiry = it->get<std::uint64_t>();
      }
    }
    return answer(groups_->invite(gid, expiry));
  }
  if (sub == "/members") return m == "GET" ? answer(groups_->members(gid)) : method_not_allowed();
  if (sub == "/messages") return m == "GET" ? answer(groups_->messages(gid)) : method_not_allowed();
  if (sub == "/send") {
    if (m != "POST") return method_not_allowed();
    auto body = parse_body(req, err);
    if (!body) return err;
    auto text = string_field(*body, "body", err);
    if (!text) return err;
    std::optional<std::string> kind;
    if (!optional_string(*body, "kind", kind, err)) return err;
    for (auto* k : {"thread_root", "thread_parent"})
      if (auto it = body->find(k); it != body->end() && !it->is_null() && (!it->is_string() || !is_hex(it->get<std::string>(), 64)))
        return fail(400, std::string(k) + " must be 64 lowercase hex");
    return answer(groups_->send(gid, *text, kind.value_or("chat")));
  }
  if (sub == "/state/commits") {
    if (m != "GET") return method_not_allowed();
    return answer(groups_->commits(gid, query_number(req.query, "from_revision").value_or(0),
                                   query_number(req.query, "limit").value_or(100)));
  }
  if (sub == "/display-name") {
    if (m != "PUT") return method_not_allowed();
    auto body = parse_body(req, err);
    if (!body) return err;
    auto name = string_field(*body, "name", err);
    if (!name) return err;
    return answer(groups_->set_display_name(gid, *name));
  }
  return {404, "", "text/plain"};
}

}  // namespace x0x::node
