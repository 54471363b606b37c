#include "runners/control_protocol.h"

#include <cmath>
#include <limits>

#include "core/encoding.h"

namespace x0x::runners {

using nlohmann::json;

namespace {

// The base64 length of a kMaxEnvelopeBytes JSON body: the largest accepted base64 text.
constexpr std::size_t kMaxB64Bytes = 4 * ((kMaxEnvelopeBytes + 2) / 3);

std::string describe(const json& v) {
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s.size() > 40) s = s.substr(0, 40) + "…";
    return "string \"" + sanitize_utf8(s) + "\"";
  }
  if (v.is_number_float()) return "number " + v.dump();
  if (v.is_number()) return "number " + v.dump();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.type_name();
}

[[noreturn]] void fail(std::string_view ctx, std::string_view field, std::string_view problem) {
  std::string m(ctx);
  m += ": ";
  if (!field.empty()) {
    m += field;
    m += ": ";
  }
  m += problem;
  throw ProtocolError(m);
}

const json* find(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> opt_string(const json& j, const char* key, std::string_view ctx) {
  const json* v = find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) fail(ctx, key, "expected a string, got " + describe(*v));
  return v->get<std::string>();
}

// Rejects JSON nested deeper than kMaxJsonDepth before nlohmann parses it: its
// parser is iterative, but copying and dumping a value recurse.
void check_depth(std::string_view text, std::string_view ctx) {
  int depth = 0;
  bool in_string = false, escape = false;
  for (char c : text) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        fail(ctx, "", "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

json parse_json_text(std::string_view text, std::string_view ctx) {
  if (text.empty()) fail(ctx, "", "empty JSON body");
  if (text.size() > kMaxEnvelopeBytes)
    fail(ctx, "", "JSON body of " + std::to_string(text.size()) + " bytes exceeds the " +
                      std::to_string(kMaxEnvelopeBytes) + "-byte limit");
  check_depth(text, ctx);
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at …" → "parse error at …"
    if (auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos)
      what = what.substr(p + 2);
    fail(ctx, "", "invalid JSON: " + what);
  }
}

json decode_b64_json(std::string_view b64, std::string_view ctx) {
  if (b64.empty()) fail(ctx, "", "empty body");
  if (b64.size() > kMaxB64Bytes)
    fail(ctx, "", "base64 body of " + std::to_string(b64.size()) + " bytes exceeds the " +
                      std::to_string(kMaxB64Bytes) + "-byte limit");
  auto raw = base64_decode(b64);
  if (!raw) fail(ctx, "", "bad base64 body (standard alphabet with padding expected)");
  return parse_json_text(*raw, ctx);
}

std::string checked_dump(const json& j, std::string_view ctx) {
  auto s = dump_json(j);
  if (s.size() > kMaxEnvelopeBytes)
    fail(ctx, "", "encoded JSON of " + std::to_string(s.size()) + " bytes exceeds the " +
                      std::to_string(kMaxEnvelopeBytes) + "-byte limit");
  return s;
}

void no_bar(std::string_view v, std::string_view ctx, std::string_view field) {
  if (v.find('|') != std::string_view::npos) fail(ctx, field, "must not contain '|'");
}

// Splits s at the next '|': returns the field and advances s past the separator;
// nullopt (s unchanged) when there is no further '|'.
std::optional<std::string_view> take_field(std::string_view& s) {
  auto p = s.find('|');
  if (p == std::string_view::npos) return std::nullopt;
  auto f = s.substr(0, p);
  s.remove_prefix(p + 1);
  return f;
}

}  // namespace

bool is_agent_id(std::string_view s) { return s.size() == 64 && is_hex(s, 64); }

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0;
  static constexpr std::string_view kRepl = "\xEF\xBF\xBD";
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    if (len == 0) {
      out += kRepl;
      ++i;
      continue;
    }
    std::size_t k = 1;
    for (; k < len && i + k < n; ++k) {
      unsigned char b = p[i + k];
      unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (b < l || b > h) break;
    }
    if (k == len) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += kRepl;  // one replacement for the maximal invalid prefix
      i += k;
    }
  }
  return out;
}

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---------------------------------------------------------------- Command

json Command::to_json() const {
  json j = {{"command_id", command_id},
            {"target_node", target_node},
            {"action", action},
            {"params", params.is_null() ? json::object() : params}};
  if (!anchor_aid.empty()) j["anchor_aid"] = anchor_aid;
  if (no_pubsub_after_discover) j["no_pubsub_after_discover"] = *no_pubsub_after_discover;
  return j;
}

Command Command::from_json(const json& j) {
  constexpr std::string_view ctx = "command";
  if (!j.is_object()) fail(ctx, "", "expected a JSON object, got " + describe(j));
  Command c;
  c.command_id = opt_string(j, "command_id", ctx).value_or("");
  c.target_node = opt_string(j, "target_node", ctx).value_or("*");
  if (c.target_node.empty()) c.target_node = "*";
  if (!j.contains("action") || j["action"].is_null()) fail(ctx, "action", "missing");
  c.action = *opt_string(j, "action", ctx);
  if (c.action.empty()) fail(ctx, "action", "empty");
  c.anchor_aid = opt_string(j, "anchor_aid", ctx).value_or("");
  if (const json* p = find(j, "params")) {
    if (!p->is_object()) fail(ctx, "params", "expected an object, got " + describe(*p));
    c.params = *p;
    if (auto it = c.params.find("anchor_aid"); it != c.params.end() && !it->is_null() && !it->is_string())
      fail(ctx, "params.anchor_aid", "expected a string, got " + describe(*it));
  }
  if (const json* f = find(j, "no_pubsub_after_discover")) {
    if (!f->is_boolean()) fail(ctx, "no_pubsub_after_discover", "expected a boolean, got " + describe(*f));
    c.no_pubsub_after_discover = f->get<bool>();
  }
  return c;
}

std::string Command::reply_to(std::string_view source) const {
  if (is_agent_id(anchor_aid)) return anchor_aid;
  if (auto it = params.find("anchor_aid"); params.is_object() && it != params.end() && it->is_string() &&
                                           is_agent_id(it->get_ref<const std::string&>()))
    return it->get<std::string>();
  if (is_agent_id(source)) return std::string(source);
  return {};
}

std::string Command::request_id() const {
  if (!params.is_object()) return {};
  auto it = params.find("request_id");
  if (it == params.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return {};
}

bool Command::wants_no_pubsub_after_discover() const {
  if (no_pubsub_after_discover.value_or(false)) return true;
  if (!params.is_object()) return false;
  auto it = params.find("no_pubsub_after_discover");
  return it != params.end() && json_truthy(*it);
}

bool json_truthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.get<std::int64_t>() != 0;
  if (v.is_number_float()) return v.get<double>() != 0.0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  if (v.is_array() || v.is_object()) return !v.empty();
  return false;
}

// ---------------------------------------------------------------- Result

json Result::error_outcome(json error, std::optional<int> http_status) {
  json o = {{"error", std::move(error)}};
  if (http_status) o["http_status"] = *http_status;
  return o;
}

json Result::to_json() const {
  auto opt = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
  return {{"kind", kind},
          {"command_id", opt(command_id)},
          {"request_id", opt(request_id)},
          {"outcome", outcome},
          {"digest_marker", opt(digest_marker)},
          {"details", details.is_null() ? json::object() : details},
          {"node", node},
          {"agent_id", agent_id},
          {"machine_id", machine_id},
          {"ts_ms", ts_ms}};
}

Result Result::from_json(const json& j) {
  constexpr std::string_view ctx = "result";
  if (!j.is_object()) fail(ctx, "", "expected a JSON object, got " + describe(j));
  Result r;
  if (!j.contains("kind") || j["kind"].is_null()) fail(ctx, "kind", "missing");
  r.kind = *opt_string(j, "kind", ctx);
  if (r.kind.empty()) fail(ctx, "kind", "empty");
  r.command_id = opt_string(j, "command_id", ctx);
  r.request_id = opt_string(j, "request_id", ctx);
  r.digest_marker = opt_string(j, "digest_marker", ctx);

  const json* o = find(j, "outcome");
  if (!o) fail(ctx, "outcome", "missing");
  if (o->is_string()) {
    if (o->get_ref<const std::string&>() != "ok")
      fail(ctx, "outcome", "expected \"ok\" or an object with \"error\", got " + describe(*o));
  } else if (o->is_object()) {
    if (!o->contains("error")) fail(ctx, "outcome", "object without \"error\"");
    if (auto it = o->find("http_status"); it != o->end() && !it->is_null()) {
      if (!it->is_number_integer()) fail(ctx, "outcome.http_status", "expected an integer, got " + describe(*it));
    }
  } else {
    fail(ctx, "outcome", "expected \"ok\" or an object with \"error\", got " + describe(*o));
  }
  r.outcome = *o;

  if (const json* d = find(j, "details")) {
    if (!d->is_object()) fail(ctx, "details", "expected an object, got " + describe(*d));
    r.details = *d;
  }
  r.node = opt_string(j, "node", ctx).value_or("");
  r.agent_id = opt_string(j, "agent_id", ctx).value_or("");
  r.machine_id = opt_string(j, "machine_id", ctx).value_or("");
  if (const json* t = find(j, "ts_ms")) {
    if (t->is_number_unsigned()) {
      r.ts_ms = t->get<std::uint64_t>();
    } else if (t->is_number_integer()) {
      fail(ctx, "ts_ms", "expected a non-negative integer, got " + describe(*t));
    } else if (t->is_number_float()) {
      double d = t->get<double>();
      if (!std::isfinite(d) || d < 0 || d >= 1.8e19)
        fail(ctx, "ts_ms", "expected a non-negative integer, got " + describe(*t));
      r.ts_ms = static_cast<std::uint64_t>(d);
    } else {
      fail(ctx, "ts_ms", "expected a non-negative integer, got " + describe(*t));
    }
  }
  return r;
}

// ---------------------------------------------------------------- framings

std::string encode_command_dm(const Command& c) {
  return std::string(kCmdPrefix) + base64_encode(checked_dump(c.to_json(), "command"));
}

std::string encode_result_dm(const Result& r) {
  return std::string(kResPrefix) + base64_encode(checked_dump(r.to_json(), "result"));
}

std::string encode_hop(const Hop& h) {
  no_bar(h.request_id, "hop", "request_id");
  no_bar(h.tag, "hop", "tag");
  no_bar(h.anchor_aid, "hop", "anchor_aid");
  std::string s(kHopPrefix);
  s += h.request_id;
  s += '|';
  s += h.tag;
  s += '|';
  s += h.anchor_aid;
  s += '|';
  s += h.body;
  return s;
}

std::string encode_legacy_hop(const LegacyHop& h) {
  no_bar(h.request_id, "legacy dm", "request_id");
  no_bar(h.digest, "legacy dm", "digest");
  if (h.request_id == "cmd" || h.request_id == "res" || h.request_id == "hop")
    fail("legacy dm", "request_id", "\"" + h.request_id + "\" is a reserved marker");
  std::string s(kTestPrefix);
  s += h.request_id;
  s += '|';
  s += h.digest;
  s += '|';
  s += h.extra;
  return s;
}

std::string encode_topic_result(const Result& r) { return checked_dump(r.to_json(), "result"); }
std::string encode_topic_command(const Command& c) { return checked_dump(c.to_json(), "command"); }

DmMessage decode_dm(std::string_view payload) {
  DmMessage m;
  if (payload.substr(0, kTestPrefix.size()) != kTestPrefix) return m;  // not_test
  std::string_view rest = payload.substr(kTestPrefix.size());
  auto marker = take_field(rest);
  if (!marker)
    fail("dm", "", "x0xtest frame with too few '|' fields (" + std::to_string(payload.size()) +
                       " bytes; need at least x0xtest|<marker>|…)");
  if (*marker == "cmd") {
    m.kind = DmKind::command;
    m.command = Command::from_json(decode_b64_json(rest, "dm cmd"));
  } else if (*marker == "res") {
    m.kind = DmKind::result;
    m.result = Result::from_json(decode_b64_json(rest, "dm res"));
  } else if (*marker == "hop") {
    // x0xtest|hop|rid|tag|anchor[|body]: at least 5 fields, the body is the rest.
    auto rid = take_field(rest);
    auto tag = rid ? take_field(rest) : std::nullopt;
    if (!rid || !tag) fail("dm hop", "", "too few '|' fields (need x0xtest|hop|<rid>|<tag>|<anchor>|<body>)");
    Hop h;
    h.request_id = sanitize_utf8(*rid);
    h.tag = sanitize_utf8(*tag);
    if (auto anchor = take_field(rest)) {
      h.anchor_aid = sanitize_utf8(*anchor);
      h.body = std::string(rest);
    } else {
      h.anchor_aid = sanitize_utf8(rest);  // 5 fields: no body
    }
    m.kind = DmKind::hop;
    m.hop = std::move(h);
  } else {
    // Legacy v0: x0xtest|<rid>|<digest>[|extra…].
    LegacyHop l;
    l.request_id = sanitize_utf8(*marker);
    if (auto digest = take_field(rest)) {
      l.digest = sanitize_utf8(*digest);
      l.extra = sanitize_utf8(rest);
    } else {
      l.digest = sanitize_utf8(rest);
    }
    m.kind = DmKind::legacy;
    m.legacy = std::move(l);
  }
  return m;
}

Command decode_topic_command(std::string_view payload) {
  return Command::from_json(parse_json_text(payload, "topic command"));
}

Result decode_topic_result(std::string_view payload) {
  return Result::from_json(parse_json_text(payload, "topic result"));
}

}  // namespace x0x::runners
