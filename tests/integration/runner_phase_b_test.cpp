// The runner's Phase B actions through a real x0x-test-runner beside a real
// lean node: the command DM goes through the anchor, the runner calls its own
// daemon once and answers with `<action>_result` (spec mesh-protocol.md §2.4).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "harness/runner_session.h"
#include "probes/rest_client.h"
#include "runners/control_protocol.h"
#include "runners/runner.h"
#include "tests/support/files.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;

namespace {

// A session on node 0 (the anchor) with the runner of node 1 discovered.
struct RunnerOnNode1 {
  TestFleet fleet{2, {}, /*runners=*/true};
  std::unique_ptr<harness::RunnerSession> session;
  std::string node, agent;

  RunnerOnNode1() {
    auto& nodes = fleet.mesh().nodes();
    harness::SessionOptions so;
    so.anchor_base_url = nodes[0].api_base;
    so.anchor_token = nodes[0].token;
    node = nodes[1].name;
    so.nodes = {node};
    so.discover = 20s;
    session = std::make_unique<harness::RunnerSession>(so);
    session->discover();
    REQUIRE(session->agents().count(node));
    agent = session->agents().at(node);
  }

  // One command to the runner; its result (REQUIREd to arrive within 15 s).
  runners::Result call(const std::string& action, json params) {
    auto id = runners::make_uuid4();
    auto cmd = session->command(id, node, action, std::move(params));
    auto client = session->client();
    auto d = session->send(client, cmd, agent);
    REQUIRE(d.accepted());
    std::optional<runners::Result> got;
    bool arrived = session->bus().wait_until(harness::SessionClock::now() + 15s, [&](const harness::SessionResults& r) {
      auto it = r.by_request.find(id);
      if (it == r.by_request.end()) return false;
      got = it->second;
      return true;
    });
    REQUIRE(arrived);
    CHECK(got->command_id == id);
    CHECK(got->node == node);
    return *got;
  }
};

}  // namespace

TEST_CASE("runner phase B: a missing param and an HTTP error come back as <action>_result with the reference's outcome") {
  RunnerOnNode1 r;
  auto missing = r.call("contact_add", {{"trust_level", "Known"}});
  CHECK(missing.kind == "contact_add_result");
  CHECK(missing.outcome == json{{"error", "missing required param: agent_id"}});

  // A group nobody created: 404 from the daemon, its body (or {status, reason}) and http_status.
  auto info = r.call("group_info", {{"group_id", std::string(64, '9')}});
  CHECK(info.kind == "group_info_result");
  REQUIRE(info.outcome.is_object());
  CHECK(info.outcome["http_status"] == 404);
  CHECK(info.outcome["error"].is_object());

  // send_dm and the other actions are untouched: an unknown action is still kind "error".
  auto unknown = r.call("group_explode", json::object());
  CHECK(unknown.kind == "error");
  CHECK(unknown.outcome == json{{"error", "unknown action: group_explode"}});
}

TEST_CASE("runner phase B: the contact lifecycle through a real runner against its lean node") {
  RunnerOnNode1 r;
  const std::string peer(64, 'e');
  auto add = r.call("contact_add", {{"agent_id", peer}, {"trust_level", "Known"}, {"label", "phase-b-synthetic"}});
  CHECK(add.kind == "contact_add_result");
  CHECK(add.outcome == "ok");
  CHECK(add.details.value("agent_id", "") == peer);

  auto list = r.call("contact_list", json::object());
  CHECK(list.outcome == "ok");
  bool listed = false;
  for (auto& c : list.details["contacts"])
    if (c.value("agent_id", "") == peer) {
      listed = true;
      CHECK(c.value("trust_level", "") == "known");
      CHECK(c.value("label", "") == "phase-b-synthetic");
    }
  CHECK(listed);

  CHECK(r.call("contact_update", {{"agent_id", peer}, {"trust_level", "Trusted"}}).outcome == "ok");
  CHECK(r.call("contact_update", {{"agent_id", peer}, {"trust_level", "Blocked"}}).outcome == "ok");
  auto blocked = r.call("contact_list", json::object());
  for (auto& c : blocked.details["contacts"])
    if (c.value("agent_id", "") == peer) CHECK(c.value("trust_level", "") == "blocked");

  CHECK(r.call("contact_remove", {{"agent_id", peer}}).outcome == "ok");
  auto again = r.call("contact_remove", {{"agent_id", peer}});
  CHECK(again.kind == "contact_remove_result");
  CHECK(again.outcome == json{{"error", {{"ok", false}, {"error", "contact not found"}}}, {"http_status", 404}});

  auto bad = r.call("contact_update", {{"agent_id", peer}, {"trust_level", "Sideways"}});
  REQUIRE(bad.outcome.is_object());
  CHECK(bad.outcome["http_status"] == 400);
}

TEST_CASE("runner phase B: a result over the durable DM cap still comes back by DM, not flooded over PubSub") {
  RunnerOnNode1 r;
  auto& member = r.fleet.mesh().nodes()[1];
  probes::RestClient rest(member.api_base, member.token);
  const std::string label(1000, 'L');
  for (int i = 0; i < 80; ++i)
    REQUIRE(rest.post("/contacts", json{{"agent_id", random_hex(32)}, {"trust_level", "Known"}, {"label", label}}.dump()).ok());
  auto list = r.call("contact_list", json::object());
  CHECK(list.outcome == "ok");
  CHECK(list.details["contacts"].size() == 80);
  CHECK(list.details.dump().size() > runners::kDurableDmCap);  // a durable DM would be refused (413)
  auto log = slurp(member.runner_log_path);
  CHECK(log.find("falling back to pubsub") == std::string::npos);
}
