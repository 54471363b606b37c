// Small helpers shared by the REST route files (api*.cpp): x0xd's JSON bodies
// and the axum-style plain-text extractor errors (400 malformed, 422 schema).
#pragma once
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "node/http_types.h"

namespace x0x::node::api {

using nlohmann::json;

inline HttpResponse json_response(int status, const json& body) { return {status, body.dump(), "application/json"}; }
inline HttpResponse ok(json body = json::object(), int status = 200) {
  body["ok"] = true;
  return json_response(status, body);
}
inline HttpResponse fail(int status, const std::string& error) {
  return json_response(status, {{"ok", false}, {"error", error}});
}
// Framework-style extractor errors are plain text, as axum produces them.
inline HttpResponse plain(int status, std::string text) { return {status, std::move(text), "text/plain; charset=utf-8"}; }
inline HttpResponse method_not_allowed() { return {405, "", "text/plain"}; }

inline constexpr const char* kDeserializeError = "Failed to deserialize the JSON body into the target type: ";

// Parses a JSON object body; on failure fills `err` with the 400/422 answer.
inline std::optional<json> parse_body(const HttpRequest& req, HttpResponse& err) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    err = plain(400, "Failed to parse the request body as JSON");
    return std::nullopt;
  }
  if (!body.is_object()) {
    err = plain(422, std::string(kDeserializeError) + "expected an object");
    return std::nullopt;
  }
  return body;
}

inline std::optional<std::string> string_field(const json& body, const char* name, HttpResponse& err) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    err = plain(422, std::string(kDeserializeError) + (it == body.end() ? "missing field `" : "invalid type for field `") +
                         name + "`");
    return std::nullopt;
  }
  return it->get<std::string>();
}

// An optional string field: absent or null is nullopt; another type is a 422.
inline bool optional_string(const json& body, const char* name, std::optional<std::string>& out, HttpResponse& err) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_string()) {
    err = plain(422, std::string(kDeserializeError) + "invalid type for field `" + name + "`");
    return false;
  }
  out = it->get<std::string>();
  return true;
}

// serde's deny_unknown_fields: any key outside `allowed` is a 422.
inline bool only_fields(const json& body, std::initializer_list<std::string_view> allowed, HttpResponse& err) {
  for (auto& [k, _] : body.items()) {
    bool known = false;
    for (auto a : allowed) known = known || a == k;
    if (!known) {
      std::string expected;
      for (auto a : allowed) expected += (expected.empty() ? "`" : ", `") + std::string(a) + "`";
      err = plain(422, std::string(kDeserializeError) + "unknown field `" + k + "`, expected one of " + expected);
      return false;
    }
  }
  return true;
}

}  // namespace x0x::node::api
