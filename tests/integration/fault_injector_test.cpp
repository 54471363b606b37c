// The fault injector on a local fleet of real lean nodes: faults go through
// /lean/faults under a lease, revert removes exactly that kind and verifies,
// a partition really cuts the two nodes apart and heals, the anchor is never
// a target, clear leaves every node clean.
#include <catch2/catch.hpp>

#include <set>

#include "core/encoding.h"
#include "orchestrator/faults/fault_injector.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using namespace x0x::orchestrator;
using nlohmann::json;

namespace {

const char* kShortBudgets = "[lean]\ndm_ack_timeout_ms = 3000\n";

// The inventory of a TestFleet, as `x0xctl verify` builds it for a local fleet.
Fleet fleet_of(TestFleet& tf) {
  Fleet f;
  f.path = "test-fleet.toml";
  for (auto& n : tf.mesh().nodes())
    f.hosts.push_back(Host::local(n.name, n.api_base.substr(7), (n.data_dir / "api-token").string(), n.dir.string()));
  f.anchor = f.hosts.front().name;
  return f;
}

FaultRequest request(std::string kind, const Fleet& f, std::size_t target, std::vector<std::size_t> peers = {}) {
  FaultRequest r;
  r.kind = std::move(kind);
  r.target = f.hosts[target].name;
  for (auto p : peers) r.peers.push_back(f.hosts[p].name);
  r.lease = std::chrono::seconds(60);
  r.run_id = "test";
  return r;
}

json active(TestFleet& tf, std::size_t i) { return tf.get(i, "/lean/faults")["active"]; }

bool dm_delivered(TestFleet& tf, std::size_t from, std::size_t to) {
  auto r = tf.post_raw(from, "/direct/send", {{"agent_id", tf.agent_id(to)}, {"payload", base64_encode("hi")}});
  return r.status == 200 && r.json().value("ok", false);
}

}  // namespace

TEST_CASE("fault injector: a local delay is held by the node under the lease and revert removes it", "[faults]") {
  TestFleet tf(4);
  auto fleet = fleet_of(tf);
  auto inj = make_fault_injector(fleet);
  auto req = request("delay", fleet, 1);
  req.delay_ms = 400;
  req.jitter_ms = 20;
  auto f = inj->apply(req);
  CHECK(f.mechanism == "lean-api");
  CHECK(f.id == "test-" + fleet.hosts[1].name + "-delay");
  CHECK(f.expires_unix > f.applied_unix + 55);

  auto a = active(tf, 1);
  REQUIRE(a.contains("delay"));
  CHECK(a["delay"]["delay_ms"] == 400);
  CHECK(a["delay"]["jitter_ms"] == 20);
  CHECK(a["delay"]["lease_secs"] == 60);
  // The other ends of the target's links take the same delay, only towards
  // the target (as netem on its interface delays the acks they wait for).
  for (std::size_t i : {0, 2, 3}) {
    auto end = active(tf, i);
    REQUIRE(end.contains("delay"));
    CHECK(end["delay"]["delay_ms"] == 400);
    auto peers = end["delay"]["peers"].get<std::set<std::string>>();
    CHECK(peers == std::set<std::string>{tf.agent_id(1), tf.get(1, "/agent")["machine_id"].get<std::string>()});
  }

  // The same kind twice on one node would overwrite the first: refused.
  CHECK_THROWS_WITH(inj->apply(req), Catch::Contains("already active"));

  auto r = inj->revert(f);
  INFO(r.dump(2));
  CHECK(r["clean"] == true);
  for (std::size_t i = 0; i < tf.size(); ++i) CHECK(active(tf, i).empty());
  CHECK(inj->revert(f)["clean"] == true);  // idempotent
}

TEST_CASE("fault injector: reverting one kind leaves the node's other faults armed", "[faults]") {
  TestFleet tf(3);
  auto fleet = fleet_of(tf);
  auto inj = make_fault_injector(fleet);
  auto stale = inj->apply(request("stale", fleet, 2));
  auto loss_req = request("loss", fleet, 2, {1});
  loss_req.loss = 0.5;
  auto loss = inj->apply(loss_req);
  auto a = active(tf, 2);
  REQUIRE(a.contains("stale"));
  REQUIRE(a.contains("loss"));
  CHECK(a["loss"]["peers"].size() == 2);  // machine id and agent id of node 1
  CHECK(inj->revert(loss)["clean"] == true);
  a = active(tf, 2);
  CHECK_FALSE(a.contains("loss"));
  CHECK(a.contains("stale"));
  CHECK(inj->revert(stale)["clean"] == true);
  CHECK(active(tf, 2).empty());
}

TEST_CASE("fault injector: a partition cuts two lean nodes apart and heals after revert", "[faults]") {
  TestFleet tf(4, kShortBudgets);
  REQUIRE(tf.mesh().wait_mesh_formed(std::chrono::seconds(30)));
  auto fleet = fleet_of(tf);
  auto inj = make_fault_injector(fleet);
  REQUIRE(dm_delivered(tf, 1, 2));

  auto f = inj->apply(request("partition", fleet, 1, {2}));
  REQUIRE(eventually([&] { return tf.peers(1) == 2 && tf.peers(2) == 2; }));
  CHECK_FALSE(dm_delivered(tf, 1, 2));
  CHECK_FALSE(dm_delivered(tf, 2, 1));
  CHECK(dm_delivered(tf, 1, 3));  // only that pair is cut

  auto r = inj->revert(f);
  INFO(r.dump(2));
  CHECK(r["clean"] == true);
  REQUIRE(eventually([&] { return tf.peers(1) == 3 && tf.peers(2) == 3; }, std::chrono::seconds(30)));
  CHECK(eventually([&] { return dm_delivered(tf, 1, 2) && dm_delivered(tf, 2, 1); }, std::chrono::seconds(30)));
}

TEST_CASE("fault injector: the anchor is never a target and bad requests are refused", "[faults]") {
  TestFleet tf(3);
  auto fleet = fleet_of(tf);
  auto inj = make_fault_injector(fleet);
  CHECK_THROWS_AS(inj->apply(request("stall", fleet, 0)), FaultError);
  CHECK_THROWS_WITH(inj->apply(request("stall", fleet, 0)), Catch::Contains("anchor"));
  CHECK_THROWS_WITH(inj->restart(fleet.hosts[0].name), Catch::Contains("anchor"));
  CHECK(active(tf, 0).empty());

  CHECK_THROWS_WITH(inj->apply(request("partition", fleet, 1)), Catch::Contains("needs the peers"));
  CHECK_THROWS_WITH(inj->apply(request("loss", fleet, 1)), Catch::Contains("ratio"));
  CHECK_THROWS_WITH(inj->apply(request("melt", fleet, 1)), Catch::Contains("unknown fault kind"));
  auto r = request("stall", fleet, 1);
  r.target = "nowhere";
  CHECK_THROWS_WITH(inj->apply(r), Catch::Contains("not a host"));
  r = request("stall", fleet, 1);
  r.lease = std::chrono::seconds(0);
  CHECK_THROWS_WITH(inj->apply(r), Catch::Contains("lease"));
  // A local host restarts only through the process that supervises it.
  CHECK_THROWS_WITH(inj->restart(fleet.hosts[1].name), Catch::Contains("supervises"));
  for (std::size_t i = 0; i < tf.size(); ++i) CHECK(active(tf, i).empty());
}

TEST_CASE("fault injector: a forbidden network or an operation outside [chaos] allow is refused", "[faults]") {
  TestFleet tf(2);
  auto fleet = fleet_of(tf);
  fleet.chaos_configured = true;
  fleet.chaos_allow = {"netem"};
  auto inj = make_fault_injector(fleet);
  CHECK_THROWS_WITH(inj->apply(request("stall", fleet, 1)), Catch::Contains("[chaos] allow"));
  auto d = request("delay", fleet, 1);
  d.delay_ms = 100;
  auto f = inj->apply(d);  // netem covers delay
  CHECK(inj->revert(f)["clean"] == true);

  fleet.network = "prod";
  fleet.chaos_forbid_networks = {"prod"};
  auto forbidden = make_fault_injector(fleet);
  CHECK_THROWS_WITH(forbidden->apply(d), Catch::Contains("forbid_networks"));
  CHECK(active(tf, 1).empty());
}

TEST_CASE("fault injector: clear on every host leaves every /lean/faults empty", "[faults]") {
  TestFleet tf(4);
  auto fleet = fleet_of(tf);
  auto inj = make_fault_injector(fleet);
  inj->apply(request("stall", fleet, 1));
  inj->apply(request("stale", fleet, 2));
  auto slow = inj->apply(request("slow", fleet, 3));
  CHECK(active(tf, 3)["delay"]["delay_ms"] == 300);
  CHECK(inj->status({})[3]["faults"].size() == 1);

  auto res = inj->clear({});
  INFO(res.dump(2));
  REQUIRE(res.size() == 4);
  for (auto& h : res) CHECK(h["clean"] == true);
  CHECK(res[1]["removed"] == json::array({"lean stall_dispatcher"}));
  for (std::size_t i = 0; i < tf.size(); ++i) CHECK(active(tf, i).empty());
  for (auto& h : inj->status({})) CHECK(h["faults"].empty());
  CHECK(inj->clear({})[0]["clean"] == true);  // idempotent
  CHECK(inj->revert(slow)["clean"] == true);  // already gone is fine
}

TEST_CASE("fault injector: dry run reads but applies nothing", "[faults]") {
  TestFleet tf(3);
  auto fleet = fleet_of(tf);
  FaultInjectorOptions o;
  o.dry_run = true;
  auto inj = make_fault_injector(fleet, o);
  auto f = inj->apply(request("partition", fleet, 1, {2}));
  REQUIRE(f.revert_plan["would_run"].size() == 1);
  auto line = f.revert_plan["would_run"][0].get<std::string>();
  CHECK_THAT(line, Catch::Contains("POST") && Catch::Contains(tf.machine_id(2)) && Catch::Contains(tf.agent_id(2)));
  CHECK(active(tf, 1).empty());
}
