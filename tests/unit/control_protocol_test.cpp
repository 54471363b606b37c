#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "runners/control_protocol.h"

using namespace x0x::runners;
using nlohmann::json;

namespace {

const std::string kAnchor(64, 'a');
const std::string kOther = std::string(63, 'b') + "c";

Command sample_command() {
  Command c;
  c.command_id = "matrix-mesh-1715000000-nyc-sfo";
  c.target_node = "nyc";
  c.action = "send_dm";
  c.anchor_aid = kAnchor;
  c.params = {{"request_id", "mesh-1715000000-nyc-sfo"},
              {"anchor_aid", kAnchor},
              {"recipient_aid", kOther},
              {"payload_b64", x0x::base64_encode("matrix:mesh-1715000000-nyc-sfo")},
              {"digest_marker", "nyc-sfo"},
              {"prefer_raw_quic_if_connected", true}};
  return c;
}

Result sample_result() {
  Result r;
  r.kind = "send_result";
  r.command_id = "matrix-x";
  r.request_id = "mesh-1-a-b";
  r.outcome = "ok";
  r.digest_marker = "nyc-sfo";
  r.details = {{"path", "raw_quic_acked"}, {"retries_used", 0}, {"runner_attempts", 1}};
  r.node = "nyc";
  r.agent_id = kAnchor;
  r.machine_id = kOther;
  r.ts_ms = 1715000000123ULL;
  return r;
}

void require_same(const Command& a, const Command& b) {
  CHECK(a.command_id == b.command_id);
  CHECK(a.target_node == b.target_node);
  CHECK(a.action == b.action);
  CHECK(a.anchor_aid == b.anchor_aid);
  CHECK(a.params == b.params);
  CHECK(a.no_pubsub_after_discover == b.no_pubsub_after_discover);
}

void require_same(const Result& a, const Result& b) {
  CHECK(a.to_json() == b.to_json());
}

// The ProtocolError message of f(), or "" when it did not throw one.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "";
}

std::string cmd_frame(std::string_view json_text) {
  return "x0xtest|cmd|" + x0x::base64_encode(json_text);
}

}  // namespace

TEST_CASE("protocol: topic and prefix constants are the spec's") {
  CHECK(kDiscoverTopic == "x0x.test.discover.v1");
  CHECK(kControlTopic == "x0x.test.control.v1");
  CHECK(kResultsTopic == "x0x.test.results.v1");
  CHECK(kMaxEnvelopeBytes == 1024 * 1024);
}

TEST_CASE("protocol: command JSON round trip and field names") {
  auto c = sample_command();
  c.no_pubsub_after_discover = true;
  json j = c.to_json();
  CHECK(j.at("command_id") == c.command_id);
  CHECK(j.at("target_node") == "nyc");
  CHECK(j.at("action") == "send_dm");
  CHECK(j.at("anchor_aid") == kAnchor);
  CHECK(j.at("params").at("request_id") == "mesh-1715000000-nyc-sfo");
  CHECK(j.at("no_pubsub_after_discover") == true);
  require_same(Command::from_json(j), c);

  Command bare;
  bare.action = "noop_ack";
  json bj = bare.to_json();
  CHECK_FALSE(bj.contains("anchor_aid"));
  CHECK_FALSE(bj.contains("no_pubsub_after_discover"));
  CHECK(bj.at("target_node") == "*");
  CHECK(bj.at("params") == json::object());
}

TEST_CASE("protocol: command defaults for absent and null fields") {
  auto c = Command::from_json(json{{"action", "discover"}});
  CHECK(c.command_id.empty());
  CHECK(c.target_node == "*");
  CHECK(c.anchor_aid.empty());
  CHECK(c.params == json::object());
  CHECK_FALSE(c.no_pubsub_after_discover);

  auto n = Command::from_json(json{{"action", "discover"}, {"params", nullptr}, {"anchor_aid", nullptr},
                                   {"target_node", nullptr}, {"no_pubsub_after_discover", nullptr}});
  CHECK(n.params == json::object());
  CHECK(n.target_node == "*");
  CHECK_FALSE(n.no_pubsub_after_discover);

  // Unknown action is not a codec error; unknown extra fields are tolerated.
  auto u = Command::from_json(json{{"action", "teleport"}, {"future_field", 1}});
  CHECK(u.action == "teleport");
}

TEST_CASE("protocol: command field errors name the field") {
  CHECK(error_of([] { Command::from_json(json{{"command_id", "x"}}); }) == "command: action: missing");
  CHECK(error_of([] { Command::from_json(json{{"action", 5}}); }) == "command: action: expected a string, got number 5");
  CHECK(error_of([] { Command::from_json(json{{"action", ""}}); }) == "command: action: empty");
  CHECK(error_of([] { Command::from_json(json{{"action", "discover"}, {"params", json::array()}}); }) ==
        "command: params: expected an object, got array");
  CHECK(error_of([] { Command::from_json(json{{"action", "discover"}, {"params", "x"}}); }) ==
        "command: params: expected an object, got string \"x\"");
  CHECK(error_of([] { Command::from_json(json{{"action", "discover"}, {"command_id", json::object()}}); }) ==
        "command: command_id: expected a string, got object");
  CHECK(error_of([] { Command::from_json(json{{"action", "discover"}, {"target_node", true}}); }) ==
        "command: target_node: expected a string, got true");
  CHECK(error_of([] { Command::from_json(json{{"action", "discover"}, {"anchor_aid", 1.5}}); }) ==
        "command: anchor_aid: expected a string, got number 1.5");
  CHECK(error_of([] { Command::from_json(json{{"action", "discover"}, {"no_pubsub_after_discover", "yes"}}); }) ==
        "command: no_pubsub_after_discover: expected a boolean, got string \"yes\"");
  CHECK(error_of([] { Command::from_json(json{{"action", "x"}, {"params", {{"anchor_aid", 7}}}}); }) ==
        "command: params.anchor_aid: expected a string, got number 7");
  CHECK(error_of([] { Command::from_json(json::array({1, 2})); }) == "command: expected a JSON object, got array");
  CHECK(error_of([] { Command::from_json(json("discover")); }) ==
        "command: expected a JSON object, got string \"discover\"");
}

TEST_CASE("protocol: reply_to follows anchor_aid, params.anchor_aid, then the source") {
  Command c;
  c.action = "discover";
  CHECK(c.reply_to("") == "");
  CHECK(c.reply_to(kOther) == kOther);
  CHECK(c.reply_to("not-an-agent") == "");
  c.params = {{"anchor_aid", kOther}};
  CHECK(c.reply_to(std::string(64, 'f')) == kOther);
  c.anchor_aid = kAnchor;
  CHECK(c.reply_to(std::string(64, 'f')) == kAnchor);
  // Not 64 hex: skipped.
  c.anchor_aid = "nyc";
  CHECK(c.reply_to("") == kOther);
  c.anchor_aid = std::string(64, 'z');
  c.params = {{"anchor_aid", "short"}};
  CHECK(c.reply_to(kAnchor) == kAnchor);
  CHECK(c.reply_to("") == "");
}

TEST_CASE("protocol: request_id and the no_pubsub flag in either place") {
  Command c;
  c.action = "discover";
  CHECK(c.request_id().empty());
  CHECK_FALSE(c.wants_no_pubsub_after_discover());
  c.params = {{"request_id", "abc"}, {"no_pubsub_after_discover", true}};
  CHECK(c.request_id() == "abc");
  CHECK(c.wants_no_pubsub_after_discover());
  c.params = {{"request_id", 42}, {"no_pubsub_after_discover", false}};
  CHECK(c.request_id() == "42");
  CHECK_FALSE(c.wants_no_pubsub_after_discover());
  c.no_pubsub_after_discover = true;
  CHECK(c.wants_no_pubsub_after_discover());
}

TEST_CASE("protocol: result JSON has every field, null for unset optionals") {
  Result r;
  r.kind = "runner_ready";
  r.details = {{"started_at_ms", 1}};
  json j = r.to_json();
  for (const char* k : {"kind", "command_id", "request_id", "outcome", "digest_marker", "details", "node",
                        "agent_id", "machine_id", "ts_ms"})
    CHECK(j.contains(k));
  CHECK(j.size() == 10);
  CHECK(j["command_id"].is_null());
  CHECK(j["request_id"].is_null());
  CHECK(j["digest_marker"].is_null());
  CHECK(j["outcome"] == "ok");
  CHECK(r.ok());
  require_same(Result::from_json(j), r);

  auto s = sample_result();
  require_same(Result::from_json(s.to_json()), s);

  Result e = s;
  e.outcome = Result::error_outcome({{"ok", false}, {"error", "peer_disconnected"}}, 502);
  CHECK_FALSE(e.ok());
  auto back = Result::from_json(e.to_json());
  CHECK(back.outcome.at("http_status") == 502);
  CHECK(back.outcome.at("error").at("error") == "peer_disconnected");
  CHECK_FALSE(back.ok());
}

TEST_CASE("protocol: result field errors") {
  auto base = sample_result().to_json();
  auto with = [&](const char* k, json v) {
    json j = base;
    j[k] = std::move(v);
    return j;
  };
  CHECK(error_of([&] { json j = base; j.erase("kind"); Result::from_json(j); }) == "result: kind: missing");
  CHECK(error_of([&] { json j = base; j.erase("outcome"); Result::from_json(j); }) == "result: outcome: missing");
  CHECK(error_of([&] { Result::from_json(with("kind", 3)); }) == "result: kind: expected a string, got number 3");
  CHECK(error_of([&] { Result::from_json(with("outcome", "fine")); }) ==
        "result: outcome: expected \"ok\" or an object with \"error\", got string \"fine\"");
  CHECK(error_of([&] { Result::from_json(with("outcome", json::object())); }) ==
        "result: outcome: object without \"error\"");
  CHECK(error_of([&] { Result::from_json(with("outcome", {{"error", "x"}, {"http_status", "502"}})); }) ==
        "result: outcome.http_status: expected an integer, got string \"502\"");
  CHECK(error_of([&] { Result::from_json(with("outcome", 1)); }) ==
        "result: outcome: expected \"ok\" or an object with \"error\", got number 1");
  CHECK(error_of([&] { Result::from_json(with("details", json::array())); }) ==
        "result: details: expected an object, got array");
  CHECK(error_of([&] { Result::from_json(with("ts_ms", -5)); }) ==
        "result: ts_ms: expected a non-negative integer, got number -5");
  CHECK(error_of([&] { Result::from_json(with("ts_ms", "now")); }) ==
        "result: ts_ms: expected a non-negative integer, got string \"now\"");
  CHECK(error_of([&] { Result::from_json(with("request_id", 12)); }) ==
        "result: request_id: expected a string, got number 12");
  CHECK(error_of([&] { Result::from_json(json(nullptr)); }) == "result: expected a JSON object, got null");
  // Tolerated: null optionals, null details, float ts_ms (Python time arithmetic).
  auto r = Result::from_json(with("details", nullptr));
  CHECK(r.details == json::object());
  CHECK(Result::from_json(with("ts_ms", 1715000000123.0)).ts_ms == 1715000000123ULL);
}

TEST_CASE("protocol: command and result DM framings round trip") {
  auto c = sample_command();
  auto frame = encode_command_dm(c);
  REQUIRE(frame.rfind("x0xtest|cmd|", 0) == 0);
  // The body is base64 of the JSON envelope, as the Python orchestrator writes it.
  auto inner = x0x::base64_decode(std::string_view(frame).substr(12));
  REQUIRE(inner);
  CHECK(json::parse(*inner) == c.to_json());
  auto m = decode_dm(frame);
  REQUIRE(m.kind == DmKind::command);
  REQUIRE(m.command);
  require_same(*m.command, c);
  CHECK_FALSE(m.result);

  auto r = sample_result();
  auto rf = encode_result_dm(r);
  REQUIRE(rf.rfind("x0xtest|res|", 0) == 0);
  auto rm = decode_dm(rf);
  REQUIRE(rm.kind == DmKind::result);
  REQUIRE(rm.result);
  require_same(*rm.result, r);

  // A Python-written command (json.dumps with spaces, fields in any order).
  std::string py =
      R"({"params": {"request_id": "u1", "anchor_aid": ")" + kAnchor +
      R"(", "no_pubsub_after_discover": false}, "target_node": "*", "action": "discover", "command_id": "u1", "anchor_aid": ")" +
      kAnchor + R"(", "no_pubsub_after_discover": false})";
  auto pm = decode_dm(cmd_frame(py));
  REQUIRE(pm.kind == DmKind::command);
  CHECK(pm.command->action == "discover");
  CHECK(pm.command->no_pubsub_after_discover == false);
  CHECK(pm.command->reply_to("") == kAnchor);
}

TEST_CASE("protocol: hop framing round trip") {
  Hop h{"mesh-1-nyc-sfo", "nyc-sfo", kAnchor, "matrix:mesh-1-nyc-sfo"};
  auto f = encode_hop(h);
  CHECK(f == "x0xtest|hop|mesh-1-nyc-sfo|nyc-sfo|" + kAnchor + "|matrix:mesh-1-nyc-sfo");
  auto m = decode_dm(f);
  REQUIRE(m.kind == DmKind::hop);
  REQUIRE(m.hop);
  CHECK(m.hop->request_id == h.request_id);
  CHECK(m.hop->tag == h.tag);
  CHECK(m.hop->anchor_aid == h.anchor_aid);
  CHECK(m.hop->body == h.body);

  // The body is the rest: '|' and binary bytes survive.
  Hop b{"r", "t", "", std::string("a|b|\0\xff\xfe|", 8)};
  auto bm = decode_dm(encode_hop(b));
  REQUIRE(bm.kind == DmKind::hop);
  CHECK(bm.hop->anchor_aid.empty());
  CHECK(bm.hop->body == b.body);

  // Five fields: no body at all.
  auto five = decode_dm("x0xtest|hop|r|t|" + kAnchor);
  REQUIRE(five.kind == DmKind::hop);
  CHECK(five.hop->anchor_aid == kAnchor);
  CHECK(five.hop->body.empty());

  // Empty fields stay empty (null on the result side).
  auto empty = decode_dm("x0xtest|hop||||");
  REQUIRE(empty.kind == DmKind::hop);
  CHECK(empty.hop->request_id.empty());
  CHECK(empty.hop->tag.empty());

  CHECK(error_of([] { encode_hop({"a|b", "t", "", ""}); }) == "hop: request_id: must not contain '|'");
  CHECK(error_of([] { encode_hop({"a", "t|", "", ""}); }) == "hop: tag: must not contain '|'");
}

TEST_CASE("protocol: legacy v0 framing round trip") {
  LegacyHop l{"mesh-1-a-b", "abc", "extra|more"};
  auto f = encode_legacy_hop(l);
  CHECK(f == "x0xtest|mesh-1-a-b|abc|extra|more");
  auto m = decode_dm(f);
  REQUIRE(m.kind == DmKind::legacy);
  REQUIRE(m.legacy);
  CHECK(m.legacy->request_id == "mesh-1-a-b");
  CHECK(m.legacy->digest == "abc");
  CHECK(m.legacy->extra == "extra|more");

  auto three = decode_dm("x0xtest|rid|dig");
  REQUIRE(three.kind == DmKind::legacy);
  CHECK(three.legacy->digest == "dig");
  CHECK(three.legacy->extra.empty());

  auto trailing = decode_dm("x0xtest|rid|");
  REQUIRE(trailing.kind == DmKind::legacy);
  CHECK(trailing.legacy->request_id == "rid");
  CHECK(trailing.legacy->digest.empty());

  CHECK_FALSE(error_of([] { encode_legacy_hop({"cmd", "x", ""}); }).empty());
}

TEST_CASE("protocol: topic command and result round trip") {
  auto c = sample_command();
  auto tc = encode_topic_command(c);
  CHECK(tc.front() == '{');  // plain JSON, no prefix
  require_same(decode_topic_command(tc), c);

  auto r = sample_result();
  auto tr = encode_topic_result(r);
  CHECK(tr.front() == '{');
  require_same(decode_topic_result(tr), r);

  CHECK(error_of([] { decode_topic_command(""); }) == "topic command: empty JSON body");
  CHECK(error_of([] { decode_topic_command("[1]"); }) == "command: expected a JSON object, got array");
  CHECK(error_of([] { decode_topic_result(R"({"kind":"ack")"); }).rfind("topic result: invalid JSON: ", 0) == 0);
  CHECK(error_of([] { decode_topic_command(cmd_frame(R"({"action":"discover"})")); })
            .rfind("topic command: invalid JSON", 0) == 0);
}

TEST_CASE("protocol: non-test DMs are not_test") {
  CHECK(decode_dm("").kind == DmKind::not_test);
  CHECK(decode_dm("hello").kind == DmKind::not_test);
  CHECK(decode_dm("x0xtest").kind == DmKind::not_test);
  CHECK(decode_dm("X0XTEST|cmd|e30=").kind == DmKind::not_test);
  CHECK(decode_dm(std::string("\0x0xtest|cmd|", 13)).kind == DmKind::not_test);
}

TEST_CASE("protocol: malformed and hostile DMs are ProtocolErrors with clear messages") {
  auto err = [](std::string_view payload) { return error_of([&] { decode_dm(payload); }); };

  // Too few fields.
  CHECK(err("x0xtest|").find("too few '|' fields") != std::string::npos);
  CHECK(err("x0xtest|cmd").find("too few '|' fields") != std::string::npos);
  CHECK(err("x0xtest|legacyonly").find("too few '|' fields") != std::string::npos);
  CHECK(err("x0xtest|hop|rid").find("dm hop: too few '|' fields") == 0);
  CHECK(err("x0xtest|hop|rid|tag").find("dm hop: too few '|' fields") == 0);

  // Empty body / bad base64.
  CHECK(err("x0xtest|cmd|") == "dm cmd: empty body");
  CHECK(err("x0xtest|res|") == "dm res: empty body");
  CHECK(err("x0xtest|cmd|!!!notbase64!!!").rfind("dm cmd: bad base64 body", 0) == 0);
  CHECK(err("x0xtest|cmd|e30").rfind("dm cmd: bad base64 body", 0) == 0);          // missing padding
  CHECK(err("x0xtest|cmd|e30=|extra").rfind("dm cmd: bad base64 body", 0) == 0);   // '|' inside
  CHECK(err("x0xtest|res|e3 0=").rfind("dm res: bad base64 body", 0) == 0);         // whitespace

  // Truncated / invalid JSON, JSON that is not an object, wrong types.
  CHECK(err(cmd_frame(R"({"action": "disc)")).rfind("dm cmd: invalid JSON: ", 0) == 0);
  CHECK(err(cmd_frame(R"({"action": "discover",)")).rfind("dm cmd: invalid JSON: ", 0) == 0);
  CHECK(err(cmd_frame("not json at all")).rfind("dm cmd: invalid JSON: ", 0) == 0);
  CHECK(err(cmd_frame("\xff\xfe{\"action\":1}")).rfind("dm cmd: invalid JSON: ", 0) == 0);
  CHECK(err(cmd_frame(R"({"action": "a\udc00"})")).rfind("dm cmd: invalid JSON: ", 0) == 0);  // lone surrogate
  CHECK(err(cmd_frame("[]")) == "command: expected a JSON object, got array");
  CHECK(err(cmd_frame("42")) == "command: expected a JSON object, got number 42");
  CHECK(err(cmd_frame("null")) == "command: expected a JSON object, got null");
  CHECK(err(cmd_frame(R"({"action": ["discover"]})")) == "command: action: expected a string, got array");
  CHECK(err(cmd_frame(R"({"action": "discover", "params": 1})")) ==
        "command: params: expected an object, got number 1");
  CHECK(err("x0xtest|res|" + x0x::base64_encode(R"({"kind":"ack","outcome":[]})")) ==
        "result: outcome: expected \"ok\" or an object with \"error\", got array");
  CHECK(err("x0xtest|res|" + x0x::base64_encode("\"ok\"")) == "result: expected a JSON object, got string \"ok\"");

  // Oversize: JSON over 1 MiB, and base64 over its encoded size, refused before decoding.
  std::string big = R"({"action":"noop_ack","params":{"pad":")" + std::string(kMaxEnvelopeBytes, 'x') + "\"}}";
  CHECK(err(cmd_frame(big)).find("exceeds the") != std::string::npos);
  std::string huge_b64 = "x0xtest|cmd|" + std::string(2 * kMaxEnvelopeBytes, 'A');
  CHECK(err(huge_b64).rfind("dm cmd: base64 body of ", 0) == 0);
  CHECK(err(huge_b64).find("exceeds the") != std::string::npos);
  std::string just_under = R"({"action":"noop_ack","params":{"pad":")";
  just_under += std::string(kMaxEnvelopeBytes - just_under.size() - 3, 'y') + "\"}}";
  REQUIRE(just_under.size() == kMaxEnvelopeBytes);
  CHECK(decode_dm(cmd_frame(just_under)).kind == DmKind::command);

  // Deep nesting is refused (stack safety), also when the body is small.
  std::string deep = R"({"action":"x","params":{"p":)" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  CHECK(err(cmd_frame(deep)).find("nested deeper than 64") != std::string::npos);
  // Brackets inside strings do not count.
  std::string brackets = R"({"action":"x","params":{"p":")" + std::string(1000, '[') + "\\\"" + "\"}}";
  CHECK(decode_dm(cmd_frame(brackets)).kind == DmKind::command);
}

TEST_CASE("protocol: binary garbage never crashes the decoder") {
  // Deterministic pseudo-random payloads, raw and behind every prefix.
  std::uint64_t s = 0x9E3779B97F4A7C15ULL;
  auto next = [&] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  const std::string prefixes[] = {"", "x0xtest|", "x0xtest|cmd|", "x0xtest|res|", "x0xtest|hop|", "x0xtest|a|"};
  int decoded = 0, errors = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string junk(next() % 200, '\0');
    for (auto& c : junk) c = static_cast<char>(next() & 0xFF);
    const auto& pre = prefixes[i % 6];
    for (std::string p : {pre + junk, pre + x0x::base64_encode(junk)}) {
      try {
        auto m = decode_dm(p);
        ++decoded;
        // Whatever decoded must re-encode as JSON without throwing.
        if (m.hop) (void)dump_json(json{{"r", m.hop->request_id}, {"t", m.hop->tag}, {"a", m.hop->anchor_aid}});
        if (m.legacy) (void)json{{"r", m.legacy->request_id}, {"d", m.legacy->digest}}.dump();
      } catch (const ProtocolError& e) {
        ++errors;
        CHECK(std::string(e.what()).size() > 5);
      }
    }
  }
  CHECK(decoded + errors == 6000);
  CHECK(errors > 0);
}

TEST_CASE("protocol: invalid UTF-8 in hop fields is replaced, never thrown later") {
  std::string f = "x0xtest|hop|r\xff" "id|t\xc3|" + kAnchor + "|\xff\xfe";
  auto m = decode_dm(f);
  REQUIRE(m.kind == DmKind::hop);
  CHECK(m.hop->request_id == "r\xEF\xBF\xBD" "id");
  CHECK(m.hop->tag == "t\xEF\xBF\xBD");
  CHECK(m.hop->body == "\xff\xfe");  // body kept byte for byte
  Result r;
  r.kind = "received_dm";
  r.request_id = m.hop->request_id;
  r.digest_marker = m.hop->tag;
  CHECK_NOTHROW(encode_result_dm(r));
  // Valid multi-byte UTF-8 is kept as is.
  CHECK(sanitize_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(sanitize_utf8("\xed\xa0\x80") != "\xed\xa0\x80");  // encoded surrogate is invalid
  // dump_json never throws on invalid UTF-8.
  CHECK_NOTHROW(dump_json(json{{"x", std::string("\xff")}}));
}

TEST_CASE("protocol: is_agent_id") {
  CHECK(is_agent_id(kAnchor));
  CHECK(is_agent_id(std::string(64, 'F')));
  CHECK_FALSE(is_agent_id(std::string(63, 'a')));
  CHECK_FALSE(is_agent_id(std::string(65, 'a')));
  CHECK_FALSE(is_agent_id(std::string(64, 'g')));
  CHECK_FALSE(is_agent_id(""));
}
