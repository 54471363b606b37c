// The runner's Phase B actions (spec mesh-protocol.md §2.4): contacts and
// named groups, each one call to the local daemon's REST API (node-api.md
// §2.9, §2.10), answered with a `<action>_result`.
//
// Split in two pure steps (params → daemon call, daemon reply → outcome) so
// both are testable without a process, and one runner of the two that the
// runner and the orchestrator's anchor-local path (no DM to itself) share.
// Outcomes exactly as the reference: 2xx → "ok" with the whole body as
// details; an HTTP error → {"error": parsed body or {status, reason},
// "http_status"}; anything else (a missing required param, the daemon
// unreachable) → {"error": "<message>"}. Tried once: these actions change
// state, and a retry could add a second group or post.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runners/retry_policy.h"

namespace x0x::probes {
class RestClient;
}

namespace x0x::runners {

enum class HttpMethod { get, post, put, patch, del };
std::string_view method_name(HttpMethod m);  // "GET", "POST", ...

// A param the action cannot run without, or one of the wrong type.
class ActionParamError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct DaemonCall {
  HttpMethod method = HttpMethod::get;
  std::string path;                     // with the query string; path segments percent-encoded
  std::optional<nlohmann::json> body;   // JSON request body, none for GET/DELETE
};

struct ActionOutcome {
  nlohmann::json outcome = "ok";        // "ok" | {"error": ...} | {"error": ..., "http_status": int}
  std::optional<nlohmann::json> details;  // the daemon's whole body on success only
  bool ok() const { return outcome.is_string() && outcome.get<std::string>() == "ok"; }
};

// contact_list … group_leave (the table of §2.4); not discover/noop_ack/send_dm.
bool is_phase_b_action(std::string_view action);
// "<action>_result".
std::string phase_b_result_kind(std::string_view action);

// The daemon call for an action; ActionParamError e.g. "missing required param: agent_id".
// Precondition: is_phase_b_action(action) (std::invalid_argument otherwise).
DaemonCall phase_b_call(std::string_view action, const nlohmann::json& params);

// The outcome for a daemon reply (status and raw body).
ActionOutcome phase_b_outcome(long status, std::string_view body);

// phase_b_call, one request, phase_b_outcome; never throws for a daemon or param problem.
// A request that never reached the daemon (connection refused: it is restarting)
// is sent again under `unreachable`; one that did is never repeated (actions change state).
ActionOutcome run_phase_b_action(probes::RestClient& rest, std::string_view action, const nlohmann::json& params,
                                 const RetryPolicy& unreachable = RetryPolicy{.max_attempts = 1});

// An integer param given as a number or a numeric string (the reference runner's int(...));
// nullopt when absent or null, ActionParamError when present but not an integer.
std::optional<long long> int_param(const nlohmann::json& params, const char* key);

// A daemon body as JSON: an empty body is {}; a body that is not JSON is {"status", "reason"}.
nlohmann::json reply_json(long status, std::string_view body);

// RFC 3986 percent-encoding of one path segment (unreserved characters kept).
std::string encode_path_segment(std::string_view s);

}  // namespace x0x::runners
