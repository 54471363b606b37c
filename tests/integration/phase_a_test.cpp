// Phase A end to end: lean nodes, a real x0x-test-runner beside each, the
// orchestrator driving them through the anchor's API.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <set>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "harness/phase_a.h"
#include "orchestrator/lifecycle/local_mesh.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;

namespace {

harness::PhaseAOptions options_for(TestFleet& fleet) {
  harness::PhaseAOptions o;
  auto& anchor = fleet.mesh().nodes()[0];
  o.anchor_base_url = anchor.api_base;
  o.anchor_token = anchor.token;
  for (auto& n : fleet.mesh().nodes()) o.nodes.push_back(n.name);
  o.discover = 20s;
  o.settle = 30s;
  return o;
}

std::vector<const harness::PairResult*> failed(const harness::PhaseAReport& rep) {
  std::vector<const harness::PairResult*> out;
  for (auto& p : rep.pairs)
    if (!p.delivered()) out.push_back(&p);
  return out;
}

}  // namespace

TEST_CASE("phase A: a local fleet of 6 delivers 30/30") {
  TestFleet fleet(6, {}, /*runners=*/true);
  auto rep = harness::run_phase_a(options_for(fleet));
  INFO(rep.to_json().dump(2));
  CHECK(rep.expected_pairs == 30);
  CHECK(rep.delivered_pairs == 30);
  CHECK(rep.send_ok == 30);
  CHECK(rep.received == 30);
  CHECK(rep.passed());
  CHECK(rep.verdict() == "Phase A: 30/30 delivered");
  auto j = rep.to_json()["phase_a"];
  CHECK(j["expected_pairs"] == 30);
  CHECK(j["pairs"].size() == 30);
  for (auto& p : j["pairs"]) {
    CHECK(p["outcome"] == "delivered");
    CHECK(p["stage"].is_null());
    CHECK(p["latency_ms"].get<double>() >= 0);
  }
}

TEST_CASE("phase A: on nodes named node-1 … node-4 every pair carries its own marker, and the receipts carry it back") {
  TestFleet fleet(4, {}, /*runners=*/true, {"node-1", "node-2", "node-3", "node-4"});
  auto rep = harness::run_phase_a(options_for(fleet));
  INFO(rep.to_json().dump(2));
  CHECK(rep.delivered_pairs == 12);
  std::set<std::string> markers;
  for (auto& p : rep.pairs) markers.insert(p.marker);
  CHECK(markers.size() == 12);  // the reference's src[:3]-dst[:3] is "nod-nod" for all twelve
}

TEST_CASE("phase A: two runs back to back (same second) both deliver every pair") {
  TestFleet fleet(3, {}, /*runners=*/true);
  // Start just after a second boundary so that both runs (each well under a
  // second on a formed local mesh) usually share it, as with the reference's
  // per-second run token, whose command ids the runners then drop as repeats.
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::this_thread::sleep_for(std::chrono::seconds(1) - (now % std::chrono::seconds(1)));
  auto first = harness::run_phase_a(options_for(fleet));
  auto second = harness::run_phase_a(options_for(fleet));
  INFO(first.to_json().dump(2) << second.to_json().dump(2));
  CHECK(first.verdict() == "Phase A: 6/6 delivered");
  CHECK(second.verdict() == "Phase A: 6/6 delivered");
}

TEST_CASE("phase A: a partition between two nodes fails exactly their two directed pairs") {
  TestFleet fleet(6, {}, true);
  // sfo (1) refuses helsinki (2); the anchor (nyc) still reaches both.
  fleet.post(1, "/lean/faults", {{"partition", {fleet.agent_id(2)}}, {"lease_secs", 120}});
  REQUIRE(eventually([&] { return fleet.peers(1) == 4 && fleet.peers(2) == 4; }));
  auto rep = harness::run_phase_a(options_for(fleet));
  INFO(rep.to_json().dump(2));
  auto f = failed(rep);
  REQUIRE(f.size() == 2);
  std::set<std::pair<std::string, std::string>> pairs;
  for (auto* p : f) {
    pairs.insert({p->src, p->dst});
    CHECK((p->stage == harness::PairStage::send_failed || p->stage == harness::PairStage::not_received));
  }
  CHECK(pairs == std::set<std::pair<std::string, std::string>>{{"sfo", "helsinki"}, {"helsinki", "sfo"}});
  CHECK_FALSE(rep.passed());
  CHECK(rep.delivered_pairs == 28);
  fleet.client(1).del("/lean/faults");
}

TEST_CASE("phase A: a runner killed before discovery fails its 10 pairs as not discovered") {
  TestFleet fleet(6, {}, true);
  fleet.mesh().kill_runner(3);
  auto o = options_for(fleet);
  o.discover = 3s;
  auto rep = harness::run_phase_a(o);
  INFO(rep.to_json().dump(2));
  auto f = failed(rep);
  CHECK(rep.expected_pairs == 30);  // strict: the missing runner is not a smaller matrix
  REQUIRE(f.size() == 10);
  for (auto* p : f) {
    CHECK(p->stage == harness::PairStage::not_discovered);
    CHECK((p->src == "nuremberg" || p->dst == "nuremberg"));
  }
  CHECK(rep.missing == std::vector<std::string>{"nuremberg"});

  o.allow_missing = true;  // the opt-out runs the smaller matrix, and says so
  auto smaller = harness::run_phase_a(o);
  CHECK(smaller.expected_pairs == 20);
  CHECK(smaller.delivered_pairs == 20);
  CHECK(smaller.to_json()["phase_a"]["allow_missing"] == true);
}

TEST_CASE("phase A: a daemon restarted under its runner — the runner reconnects and the matrix is whole") {
  TestFleet fleet(6, {}, true);
  fleet.mesh().stop_node(2);
  fleet.mesh().restart_node(2);
  REQUIRE(fleet.mesh().nodes()[2].runner_running);
  REQUIRE(fleet.mesh().wait_mesh_formed(30s));
  auto rep = harness::run_phase_a(options_for(fleet));
  INFO(rep.to_json().dump(2));
  CHECK(rep.delivered_pairs == 30);
}
