// The mesh-test control protocol (spec mesh-protocol.md §2): command and result
// envelopes, the DM framings "x0xtest|cmd|", "x0xtest|res|", "x0xtest|hop|" and the
// legacy v0 "x0xtest|<rid>|<digest>|…", and the plain-JSON topic payloads.
//
// Wire compatible with the reference Python runner and orchestrators: topic names,
// prefixes and field names are exactly the spec's. Decoding is hostile-input safe:
// anything malformed inside an "x0xtest|" frame is a ProtocolError whose message
// names the framing or the field, never a crash. JSON bodies nested deeper than
// kMaxJsonDepth or larger than kMaxEnvelopeBytes are refused.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace x0x::runners {

inline constexpr std::string_view kDiscoverTopic = "x0x.test.discover.v1";
inline constexpr std::string_view kControlTopic = "x0x.test.control.v1";
inline constexpr std::string_view kResultsTopic = "x0x.test.results.v1";
inline constexpr std::size_t kMaxEnvelopeBytes = 1024 * 1024;  // larger JSON/base64 bodies are refused
inline constexpr int kMaxJsonDepth = 64;                       // deeper JSON is refused (stack safety)
inline constexpr std::size_t kDurableDmCap = 49'152;           // a durable DM's payload (node-api.md §2.7)

inline constexpr std::string_view kTestPrefix = "x0xtest|";
inline constexpr std::string_view kCmdPrefix = "x0xtest|cmd|";
inline constexpr std::string_view kResPrefix = "x0xtest|res|";
inline constexpr std::string_view kHopPrefix = "x0xtest|hop|";

// Message names the field / framing problem, e.g. "command: action: missing".
// Python truthiness of a JSON value (the reference runner's `if value:`).
bool json_truthy(const nlohmann::json& v);

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// True for a 64-character hex string (an agent id).
bool is_agent_id(std::string_view s);

struct Command {
  std::string command_id;
  std::string target_node = "*";
  std::string action;
  std::string anchor_aid;                          // "" when absent
  nlohmann::json params = nlohmann::json::object();
  std::optional<bool> no_pubsub_after_discover;    // top level (also mirrored in params by the orchestrator)

  // Omits anchor_aid if empty, omits no_pubsub_after_discover if unset.
  nlohmann::json to_json() const;
  // ProtocolError e.g. "command: action: missing", "command: params: expected an object, got array".
  // Absent or null optional fields take their defaults; a present field of the wrong type is an error.
  static Command from_json(const nlohmann::json& j);
  // The reply address per spec §2.2: anchor_aid, then params.anchor_aid, then `source`;
  // the first of them that is 64 hex, "" if none is.
  std::string reply_to(std::string_view source) const;

  // params.request_id when it is a non-empty string (a number is rendered as text), else "".
  std::string request_id() const;
  // True when the top-level flag or params.no_pubsub_after_discover is truthy.
  bool wants_no_pubsub_after_discover() const;
};

struct Result {
  std::string kind;
  std::optional<std::string> command_id, request_id;
  nlohmann::json outcome = "ok";                   // "ok" or {"error": ..., "http_status"?: int}
  std::optional<std::string> digest_marker;
  nlohmann::json details = nlohmann::json::object();
  std::string node, agent_id, machine_id;
  std::uint64_t ts_ms = 0;

  bool ok() const { return outcome.is_string() && outcome.get<std::string>() == "ok"; }
  nlohmann::json to_json() const;                  // every field of §2.5; null for unset optionals
  static Result from_json(const nlohmann::json& j);

  // outcome {"error": error} or {"error": error, "http_status": status}.
  static nlohmann::json error_outcome(nlohmann::json error, std::optional<int> http_status = std::nullopt);
};

struct Hop { std::string request_id, tag, anchor_aid, body; };          // x0xtest|hop|rid|tag|anchor|body
struct LegacyHop { std::string request_id, digest, extra; };             // x0xtest|rid|digest|extra

enum class DmKind { command, result, hop, legacy, not_test };
struct DmMessage {
  DmKind kind = DmKind::not_test;
  std::optional<Command> command;
  std::optional<Result> result;
  std::optional<Hop> hop;
  std::optional<LegacyHop> legacy;
};

std::string encode_command_dm(const Command& c);   // "x0xtest|cmd|" + base64(JSON)
std::string encode_result_dm(const Result& r);     // "x0xtest|res|" + base64(JSON)
// "x0xtest|hop|<rid>|<tag>|<anchor>|<body>"; ProtocolError when rid, tag or anchor contains '|'.
std::string encode_hop(const Hop& h);
// "x0xtest|<rid>|<digest>|<extra>" (the legacy v0 form, for tests and old senders);
// ProtocolError when rid or digest contains '|' or rid is "cmd"/"res"/"hop".
std::string encode_legacy_hop(const LegacyHop& h);

// Decodes the raw bytes of a DM payload (already base64-decoded from the SSE event).
// Non-"x0xtest|" payloads → kind not_test. Malformed x0xtest frames (bad base64, truncated/invalid JSON,
// too few fields, oversize) → ProtocolError with a clear message; never a crash, never UB.
// Text fields of hop and legacy frames (request_id, tag, anchor, digest, extra) have invalid UTF-8
// replaced by U+FFFD (as the reference runner's decode does); the hop body is kept byte for byte.
DmMessage decode_dm(std::string_view payload);
// A command published as plain JSON on the discover/control topics (payload already base64-decoded).
Command decode_topic_command(std::string_view payload);
// A result published as plain JSON on the legacy results topic.
Result decode_topic_result(std::string_view payload);
// The JSON text of a result as published on the legacy results topic.
std::string encode_topic_result(const Result& r);
std::string encode_topic_command(const Command& c);

// JSON text safe for any content: invalid UTF-8 in strings is replaced, never thrown.
std::string dump_json(const nlohmann::json& j);
// Invalid UTF-8 sequences replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

}  // namespace x0x::runners
