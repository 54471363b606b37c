// The runner's Phase B actions without a process: params → the daemon call
// (method, path, body) of spec mesh-protocol.md §2.4, and a daemon reply → the
// result's outcome and details.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "probes/rest_client.h"
#include "runners/phase_b_actions.h"

using namespace x0x::runners;
using nlohmann::json;

namespace {

const std::string kAid(64, 'e');
const std::string kGid = std::string(32, 'a') + std::string(32, 'b');

std::string call_text(std::string_view action, const json& params) {
  auto c = phase_b_call(action, params);
  return std::string(method_name(c.method)) + " " + c.path + (c.body ? " " + c.body->dump() : "");
}

}  // namespace

TEST_CASE("phase B actions: every action of the table maps to its daemon call") {
  CHECK(call_text("contact_list", json::object()) == "GET /contacts");
  CHECK(call_text("contact_add", {{"agent_id", kAid}, {"trust_level", "Known"}, {"label", "phase-b-synthetic"}}) ==
        "POST /contacts " + json{{"agent_id", kAid}, {"label", "phase-b-synthetic"}, {"trust_level", "Known"}}.dump());
  CHECK(call_text("contact_update", {{"agent_id", kAid}, {"trust_level", "Blocked"}}) ==
        "PATCH /contacts/" + kAid + " {\"trust_level\":\"Blocked\"}");
  CHECK(call_text("contact_remove", {{"agent_id", kAid}}) == "DELETE /contacts/" + kAid);
  CHECK(call_text("group_create", {{"name", "G"}, {"description", "d"}, {"preset", "public_open"}}) ==
        "POST /groups {\"description\":\"d\",\"name\":\"G\",\"preset\":\"public_open\"}");
  CHECK(call_text("group_list", json::object()) == "GET /groups");
  CHECK(call_text("group_info", {{"group_id", kGid}}) == "GET /groups/" + kGid);
  CHECK(call_text("group_invite", {{"group_id", kGid}}) == "POST /groups/" + kGid + "/invite {}");
  CHECK(call_text("group_invite", {{"group_id", kGid}, {"expiry_secs", 60}}) ==
        "POST /groups/" + kGid + "/invite {\"expiry_secs\":60}");
  CHECK(call_text("group_join", {{"invite", "x0x://invite/abc"}}) == "POST /groups/join {\"invite\":\"x0x://invite/abc\"}");
  CHECK(call_text("group_members", {{"group_id", kGid}}) == "GET /groups/" + kGid + "/members");
  CHECK(call_text("group_send_message", {{"group_id", kGid}, {"body", "hi"}}) ==
        "POST /groups/" + kGid + "/send {\"body\":\"hi\",\"kind\":\"chat\"}");
  CHECK(call_text("group_messages", {{"group_id", kGid}}) == "GET /groups/" + kGid + "/messages");
  CHECK(call_text("group_state_commits", {{"group_id", kGid}}) == "GET /groups/" + kGid + "/state/commits?from_revision=0");
  CHECK(call_text("group_state_commits", {{"group_id", kGid}, {"from_revision", "3"}, {"limit", 10}}) ==
        "GET /groups/" + kGid + "/state/commits?from_revision=3&limit=10");
  CHECK(call_text("group_set_display_name", {{"group_id", kGid}, {"name", "Nyc"}}) ==
        "PUT /groups/" + kGid + "/display-name {\"name\":\"Nyc\"}");
  CHECK(call_text("group_leave", {{"group_id", kGid}}) == "DELETE /groups/" + kGid);
}

TEST_CASE("phase B actions: defaults of the reference (trust Unknown, description empty, kind chat) and the result kind") {
  auto add = phase_b_call("contact_add", {{"agent_id", kAid}});
  CHECK(*add.body == json{{"agent_id", kAid}, {"trust_level", "Unknown"}});  // no label key when none given
  auto create = phase_b_call("group_create", {{"name", "G"}});
  CHECK(*create.body == json{{"name", "G"}, {"description", ""}});  // no preset key: the daemon's default
  CHECK(phase_b_result_kind("group_join") == "group_join_result");
  CHECK(is_phase_b_action("group_state_commits"));
  CHECK_FALSE(is_phase_b_action("send_dm"));
  CHECK_FALSE(is_phase_b_action("group_delete_everything"));
}

TEST_CASE("phase B actions: a missing or malformed required param is named") {
  CHECK_THROWS_WITH(phase_b_call("contact_add", json::object()), "missing required param: agent_id");
  CHECK_THROWS_WITH(phase_b_call("contact_update", {{"agent_id", kAid}}), "missing required param: trust_level");
  CHECK_THROWS_WITH(phase_b_call("group_join", {{"invite", nullptr}}), "missing required param: invite");
  CHECK_THROWS_WITH(phase_b_call("group_send_message", {{"group_id", kGid}}), "missing required param: body");
  CHECK_THROWS_WITH(phase_b_call("group_members", {{"group_id", json::array()}}), "group_id: expected a string, got array");
  CHECK_THROWS_WITH(phase_b_call("group_members", {{"group_id", ""}}), "missing required param: group_id");
  CHECK_THROWS_WITH(phase_b_call("group_state_commits", {{"group_id", kGid}, {"limit", "ten"}}), "limit: not an integer: ten");
}

TEST_CASE("phase B actions: hostile ids cannot leave their path segment") {
  CHECK(phase_b_call("contact_remove", {{"agent_id", "../groups/x?y=1"}}).path == "/contacts/..%2Fgroups%2Fx%3Fy%3D1");
  CHECK(phase_b_call("group_leave", {{"group_id", "a b#c"}}).path == "/groups/a%20b%23c");
}

TEST_CASE("phase B actions: 2xx gives ok and the whole body as details") {
  auto o = phase_b_outcome(201, R"({"ok":true,"group_id":"g1","chat_topic":"t"})");
  CHECK(o.ok());
  CHECK(o.outcome == "ok");
  REQUIRE(o.details);
  CHECK(*o.details == json{{"ok", true}, {"group_id", "g1"}, {"chat_topic", "t"}});
  auto empty = phase_b_outcome(204, "");
  CHECK(empty.ok());
  CHECK(*empty.details == json::object());
}

TEST_CASE("phase B actions: an HTTP error gives the parsed error body and http_status, without details") {
  auto o = phase_b_outcome(404, R"({"ok":false,"error":"contact not found"})");
  CHECK_FALSE(o.ok());
  CHECK(o.outcome == json{{"error", {{"ok", false}, {"error", "contact not found"}}}, {"http_status", 404}});
  CHECK_FALSE(o.details);
  // A body that is not JSON (axum's plain-text extractor errors, an empty 404): {status, reason}.
  auto plain = phase_b_outcome(422, "Failed to deserialize the JSON body");
  CHECK(plain.outcome == json{{"error", {{"status", 422}, {"reason", "Failed to deserialize the JSON body"}}}, {"http_status", 422}});
  auto empty = phase_b_outcome(404, "");
  CHECK(empty.outcome == json{{"error", {{"status", 404}, {"reason", "Not Found"}}}, {"http_status", 404}});
}

TEST_CASE("phase B actions: a 2xx whose body is not JSON is an error that says so") {
  auto o = phase_b_outcome(200, "<html>");
  CHECK_FALSE(o.ok());
  CHECK(o.outcome["error"].get<std::string>().find("not JSON") != std::string::npos);
  CHECK_FALSE(o.outcome.contains("http_status"));
}

TEST_CASE("phase B actions: a missing param or an unreachable daemon is {error: message}, never a throw") {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  x0x::probes::RestClient rest("http://127.0.0.1:1", "t", std::chrono::seconds(2));
  auto missing = run_phase_b_action(rest, "contact_add", json::object());
  CHECK(missing.outcome == json{{"error", "missing required param: agent_id"}});
  CHECK_FALSE(missing.details);
  auto down = run_phase_b_action(rest, "contact_list", json::object());
  REQUIRE(down.outcome.is_object());
  CHECK(down.outcome["error"].is_string());
  CHECK_FALSE(down.outcome.contains("http_status"));
}
