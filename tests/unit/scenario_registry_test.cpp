// The scenario registry: one entry per scenario, and what a request is
// refused for before any work starts.
#include <catch2/catch.hpp>

#include "gates/profile.h"
#include "harness/gate_run.h"
#include "harness/scenario_registry.h"
#include "orchestrator/control/inventory.h"

using namespace x0x::harness;

namespace {
const FleetShape kFleet{{"nyc", "sfo", "helsinki", "nuremberg"}, "nyc"};

std::string problem(const std::string& scenario, const ScenarioOptions& o) { return scenario_usage_problem(scenario, o, kFleet); }
}  // namespace

TEST_CASE("the registry lists every scenario once, in the reference's order then ours", "[scenarios]") {
  CHECK(scenario_names() == std::vector<std::string>{"baseline", "fanout_burst", "restart_storm", "high_rtt_peer",
                                                     "partition_recovery", "slow_peer", "stale_peer", "phase_b"});
  for (auto& s : scenario_registry()) {
    INFO(s.name);
    CHECK(s.body != nullptr);
    CHECK(s.check);
    CHECK(s.roles);
    CHECK_FALSE(s.summary.empty());
  }
}

TEST_CASE("a destructive scenario without its opt-in, or with bad parameters, is a usage problem", "[scenarios]") {
  ScenarioOptions o;
  CHECK(problem("baseline", o).empty());
  CHECK(problem("fanout_burst", o).empty());
  CHECK(problem("nope", o).find("unknown scenario 'nope'") == 0);
  CHECK(problem("restart_storm", o) == "restart_storm is destructive: pass --allow-restart-storm to run it");
  CHECK(problem("high_rtt_peer", o) == "high_rtt_peer is destructive: pass --allow-netem to run it");
  CHECK(problem("partition_recovery", o) == "partition_recovery is destructive: pass --allow-iptables to run it");
  CHECK(problem("stale_peer", o) == "stale_peer is destructive: pass --allow-peer-faults to run it");
  o.allow_restart_storm = o.allow_netem = o.allow_iptables = o.allow_peer_faults = true;
  CHECK(problem("restart_storm", o).empty());
  CHECK(problem("high_rtt_peer", o) == "high_rtt_peer: --target-node is required with --allow-netem");
  CHECK(problem("stale_peer", o).empty());  // the last non-anchor node by default
  o.target_node = "nyc";
  CHECK(problem("high_rtt_peer", o) == "high_rtt_peer: --target-node must be a non-anchor node");
  o.target_node = "tokyo";
  CHECK(problem("slow_peer", o) == "slow_peer: unknown --target-node tokyo");
  o.target_node = "sfo";
  CHECK(problem("high_rtt_peer", o).empty());
  CHECK(problem("partition_recovery", o) == "partition_recovery: --partition-pair must be two node names, e.g. sfo,sydney");
  o.partition_pair = {"nyc", "sfo"};
  CHECK(problem("partition_recovery", o) == "partition_recovery: --partition-pair must not include the anchor");
  o.partition_pair = {"sfo", "sfo"};
  CHECK(problem("partition_recovery", o) == "partition_recovery: --partition-pair nodes must be distinct");
  o.partition_pair = {"sfo", "tokyo"};
  CHECK(problem("partition_recovery", o) == "partition_recovery: unknown partition node(s): tokyo");
  o.partition_pair = {"sfo", "helsinki"};
  CHECK(problem("partition_recovery", o).empty());
}

TEST_CASE("each scenario's roles name the nodes it acts on", "[scenarios]") {
  ScenarioOptions o;
  o.restart_count = 2;
  o.partition_pair = {"sfo", "helsinki"};
  CHECK(find_scenario("stale_peer")->roles(o, kFleet) == Roles{{"target", {"nuremberg"}}});
  CHECK(find_scenario("restart_storm")->roles(o, kFleet) == Roles{{"target", {"sfo", "helsinki"}}});
  CHECK(find_scenario("partition_recovery")->roles(o, kFleet) == Roles{{"pair", {"sfo", "helsinki"}}});
  o.target_node = "sfo";
  CHECK(find_scenario("high_rtt_peer")->roles(o, kFleet) == Roles{{"target", {"sfo"}}});
  CHECK(find_scenario("baseline")->roles(o, kFleet).empty());
}

TEST_CASE("scenarios declare their own rules, exemptions and Phase A exclusions", "[scenarios]") {
  CHECK(scenario_scoring("restart_storm").rules == std::set<std::string>{x0x::gates::kMaxRecoverySecs});
  CHECK(scenario_scoring("partition_recovery").rules ==
        std::set<std::string>{x0x::gates::kMaxPartitionRecoverySecs, x0x::gates::kPartitionAntiEntropy});
  CHECK(scenario_scoring("partition_recovery").exemptions.at(x0x::gates::kExemptDispatcherTimeout) == std::vector<std::string>{"pair"});
  for (auto* s : {"high_rtt_peer", "slow_peer", "stale_peer"}) {
    INFO(s);
    auto sc = scenario_scoring(s);
    CHECK(sc.phase_a_excluded_role == "target");
    CHECK(sc.exemptions.at(x0x::gates::kExemptDispatcherTimeout) == std::vector<std::string>{"target"});
    CHECK(sc.exemptions.at(x0x::gates::kExemptSuppressionRatio) == std::vector<std::string>{"target"});
  }
  CHECK(scenario_scoring("baseline").rules.empty());
  CHECK(scenario_scoring("nope").rules.empty());
}

TEST_CASE("settle bounds come from the profile, else the scenario's default", "[scenarios]") {
  auto profile = x0x::gates::parse_profile("name = \"x\"\n[settle.fanout_burst]\nmin_settle_secs = 2\nmax_settle_secs = 9\n", "x.toml");
  auto b = settle_bounds(*find_scenario("fanout_burst"), profile);
  CHECK(b.min_secs == 2);
  CHECK(b.max_secs == 9);
  b = settle_bounds(*find_scenario("high_rtt_peer"), profile);
  CHECK(b.min_secs == 0);
  CHECK(b.max_secs == 150);
}

TEST_CASE("a gate request lists every usage problem at once", "[scenarios]") {
  ScenarioOptions o;
  auto problems = gate_usage_problems({"baseline", "stale_peer", "baseline", "nope"}, o, kFleet, "/nonexistent-x0x-dir");
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "--scenarios: stale_peer is destructive: pass --allow-peer-faults to run it");
  CHECK(problems[1] == "--scenarios: baseline is listed twice (one bundle folder per scenario)");
  CHECK(problems[2].find("--scenarios: unknown scenario 'nope'") == 0);
  auto anchorless = gate_usage_problems({"baseline"}, o, FleetShape{{"a", "b"}, "c"}, "/nonexistent-x0x-dir");
  CHECK(anchorless == std::vector<std::string>{"--anchor c: not a host of the fleet"});
}

TEST_CASE("a scenario whose faults the inventory's [chaos] policy refuses is a usage problem", "[scenarios]") {
  x0x::orchestrator::Fleet inventory;
  inventory.path = "ops/fleet.toml";
  inventory.chaos_configured = true;
  inventory.chaos_allow = {"high_rtt_peer", "iptables"};
  FleetShape shape = kFleet;
  shape.inventory = &inventory;
  ScenarioOptions o;
  o.allow_netem = o.allow_iptables = o.allow_peer_faults = o.allow_restart_storm = true;
  o.target_node = "sfo";
  o.partition_pair = {"sfo", "helsinki"};
  CHECK(scenario_usage_problem("high_rtt_peer", o, shape).empty());       // allowed by its scenario name
  CHECK(scenario_usage_problem("partition_recovery", o, shape).empty());  // by its mechanism family
  CHECK(scenario_usage_problem("stale_peer", o, shape) ==
        "stale_peer: 'stale' is not in ops/fleet.toml [chaos] allow (empty = every destructive operation refused)");
  CHECK(scenario_usage_problem("restart_storm", o, shape).find("restart_storm: 'restart' is not in ops/fleet.toml [chaos] allow") == 0);
  CHECK(scenario_usage_problem("baseline", o, shape).empty());
}
