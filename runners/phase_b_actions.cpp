#include "runners/phase_b_actions.h"

#include <array>
#include <cctype>

#include <fmt/core.h>

#include <optional>
#include <thread>

#include "probes/rest_client.h"

namespace x0x::runners {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 15> kActions = {
    "contact_list",  "contact_add",        "contact_update",     "contact_remove",      "group_create",
    "group_list",    "group_info",         "group_invite",       "group_join",          "group_members",
    "group_send_message", "group_messages", "group_state_commits", "group_set_display_name", "group_leave"};

// A required param: present and not null (the reference's params["x"]).
const json& required(const json& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) throw ActionParamError(std::string("missing required param: ") + key);
  return *it;
}

// A required param that goes into the URL path: a non-empty string (a number is rendered).
std::string required_segment(const json& params, const char* key) {
  const json& v = required(params, key);
  std::string s;
  if (v.is_string()) s = v.get<std::string>();
  else if (v.is_number_integer() || v.is_number_unsigned()) s = v.dump();
  else throw ActionParamError(fmt::format("{}: expected a string, got {}", key, v.type_name()));
  if (s.empty()) throw ActionParamError(std::string("missing required param: ") + key);
  return encode_path_segment(s);
}

// An optional param copied into the body as given (the daemon judges its type).
void copy_if_present(json& body, const json& params, const char* key) {
  if (auto it = params.find(key); it != params.end() && !it->is_null()) body[key] = *it;
}

json param_or(const json& params, const char* key, json fallback) {
  auto it = params.find(key);
  return it != params.end() && !it->is_null() ? *it : fallback;
}

std::string_view reason_phrase(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace

std::string_view method_name(HttpMethod m) {
  switch (m) {
    case HttpMethod::get: return "GET";
    case HttpMethod::post: return "POST";
    case HttpMethod::put: return "PUT";
    case HttpMethod::patch: return "PATCH";
    case HttpMethod::del: return "DELETE";
  }
  return "?";
}

bool is_phase_b_action(std::string_view action) {
  for (auto a : kActions)
    if (a == action) return true;
  return false;
}

std::string phase_b_result_kind(std::string_view action) { return std::string(action) + "_result"; }

std::optional<long long> int_param(const json& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return std::nullopt;
  if (it->is_number_integer() || it->is_number_unsigned()) return it->get<long long>();
  if (it->is_number_float()) return static_cast<long long>(it->get<double>());
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    try {
      std::size_t pos = 0;
      long long v = std::stoll(s, &pos);
      if (pos == s.size()) return v;
    } catch (...) {
    }
    throw ActionParamError(std::string(key) + ": not an integer: " + s);
  }
  throw ActionParamError(std::string(key) + ": expected an integer, got " + it->type_name());
}

json reply_json(long status, std::string_view body) {
  if (body.empty()) return json::object();
  try {
    return json::parse(body);
  } catch (const json::exception&) {
    return {{"status", status}, {"reason", probes::detail::snippet(body, 200)}};
  }
}

std::string encode_path_segment(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

DaemonCall phase_b_call(std::string_view action, const json& params_in) {
  const json params = params_in.is_object() ? params_in : json::object();
  if (action == "contact_list") return {HttpMethod::get, "/contacts", std::nullopt};
  if (action == "contact_add") {
    json body = {{"agent_id", required(params, "agent_id")}, {"trust_level", param_or(params, "trust_level", "Unknown")}};
    copy_if_present(body, params, "label");
    return {HttpMethod::post, "/contacts", body};
  }
  if (action == "contact_update") {
    auto id = required_segment(params, "agent_id");
    return {HttpMethod::patch, "/contacts/" + id, json{{"trust_level", required(params, "trust_level")}}};
  }
  if (action == "contact_remove") return {HttpMethod::del, "/contacts/" + required_segment(params, "agent_id"), std::nullopt};
  if (action == "group_create") {
    json body = {{"name", required(params, "name")}, {"description", param_or(params, "description", "")}};
    copy_if_present(body, params, "preset");
    return {HttpMethod::post, "/groups", body};
  }
  if (action == "group_list") return {HttpMethod::get, "/groups", std::nullopt};
  if (action == "group_info") return {HttpMethod::get, "/groups/" + required_segment(params, "group_id"), std::nullopt};
  if (action == "group_invite") {
    auto id = required_segment(params, "group_id");
    json body = json::object();
    if (auto v = int_param(params, "expiry_secs")) body["expiry_secs"] = *v;
    return {HttpMethod::post, "/groups/" + id + "/invite", body};
  }
  if (action == "group_join") return {HttpMethod::post, "/groups/join", json{{"invite", required(params, "invite")}}};
  if (action == "group_members")
    return {HttpMethod::get, "/groups/" + required_segment(params, "group_id") + "/members", std::nullopt};
  if (action == "group_send_message") {
    auto id = required_segment(params, "group_id");
    json body = {{"body", required(params, "body")}, {"kind", param_or(params, "kind", "chat")}};
    return {HttpMethod::post, "/groups/" + id + "/send", body};
  }
  if (action == "group_messages")
    return {HttpMethod::get, "/groups/" + required_segment(params, "group_id") + "/messages", std::nullopt};
  if (action == "group_state_commits") {
    auto id = required_segment(params, "group_id");
    auto path = fmt::format("/groups/{}/state/commits?from_revision={}", id, int_param(params, "from_revision").value_or(0));
    if (auto limit = int_param(params, "limit")) path += fmt::format("&limit={}", *limit);
    return {HttpMethod::get, path, std::nullopt};
  }
  if (action == "group_set_display_name") {
    auto id = required_segment(params, "group_id");
    return {HttpMethod::put, "/groups/" + id + "/display-name", json{{"name", required(params, "name")}}};
  }
  if (action == "group_leave") return {HttpMethod::del, "/groups/" + required_segment(params, "group_id"), std::nullopt};
  throw std::invalid_argument("not a Phase B action: " + std::string(action));
}

ActionOutcome phase_b_outcome(long status, std::string_view body) {
  ActionOutcome out;
  if (status >= 200 && status < 300) {
    if (body.empty()) {
      out.details = json::object();
      return out;
    }
    try {
      out.details = json::parse(body);
    } catch (const json::exception&) {
      out.outcome = {{"error", "daemon answered HTTP " + std::to_string(status) + " with a body that is not JSON: " +
                                   probes::detail::snippet(body, 200)}};
    }
    return out;
  }
  json error;
  try {
    if (!body.empty()) error = json::parse(body);
  } catch (const json::exception&) {
  }
  if (error.is_null()) {
    std::string reason(reason_phrase(status));
    if (!body.empty()) reason = probes::detail::snippet(body, 200);
    error = {{"status", status}, {"reason", reason}};
  }
  out.outcome = {{"error", std::move(error)}, {"http_status", status}};
  return out;
}

ActionOutcome run_phase_b_action(probes::RestClient& rest, std::string_view action, const json& params,
                                 const RetryPolicy& unreachable) {
  ActionOutcome out;
  try {
    auto call = phase_b_call(action, params);
    const std::string body = call.body ? call.body->dump() : std::string();
    std::optional<probes::HttpResponse> resp;
    std::string not_sent;
    unreachable.run(
        [&](int) {
          try {
            switch (call.method) {
              case HttpMethod::get: resp = rest.get(call.path); break;
              case HttpMethod::post: resp = rest.post(call.path, body); break;
              case HttpMethod::put: resp = rest.put(call.path, body); break;
              case HttpMethod::patch: resp = rest.patch(call.path, body); break;
              case HttpMethod::del: resp = rest.del(call.path); break;
            }
            return AttemptOutcome::success;
          } catch (const probes::ProbeNotSentError& e) {
            not_sent = e.what();
            return AttemptOutcome::retry;
          }
        },
        [](std::chrono::milliseconds wait) {
          std::this_thread::sleep_for(wait);
          return true;
        });
    if (!resp) {
      out.outcome = {{"error", not_sent}};
      return out;
    }
    return phase_b_outcome(resp->status, resp->body);
  } catch (const std::exception& e) {
    out.outcome = {{"error", std::string(e.what())}};
  }
  return out;
}

}  // namespace x0x::runners
