// The per-window gate over real-shaped diagnostics: every rule passes and
// fails with the reference's sentence, exemptions are scenario-scoped, and
// anything not observed (a 503, a null block, a missing snapshot, a scenario
// that did not run) is NO-GO with the reason — never a pass on zeros.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gates/scorer.h"
#include "tests/unit/gate_fixtures.h"

namespace fs = std::filesystem;
using namespace x0x::gates;
using x0x::testing::score;
using nlohmann::json;

using x0x::testing::gate_fixture;
using x0x::testing::ok;

namespace {

const fs::path kRepo = x0x::testing::repo_root();


GateProfile limited() { return load_profile_file(kRepo / "gates" / "profiles" / "limited-production.toml"); }
GateProfile broad() { return load_profile_file(kRepo / "gates" / "profiles" / "broad-launch.toml"); }

// The counters a test sets on one node at one instant; the rest of the body
// is the x0xd example of spec node-api.md §3.
struct Counters {
  long long timed_out = 0, completed = 1000, dropped = 0, produced = 1000, per_peer = 0, high_water = 0;
  int suppressed = 0, scores = 20;
};

std::string fmt_peer(int i) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016x", 0x1f2e0000 + i);
  return buf;
}

json gossip_body(const Counters& c) {
  static const json base = gate_fixture("spec-gossip.json");
  json g = base;
  g["dispatcher"]["pubsub"]["timed_out"] = c.timed_out;
  g["dispatcher"]["pubsub"]["completed"] = c.completed;
  g["recv_pump"]["pubsub"]["dropped_full"] = c.dropped;
  g["recv_pump"]["pubsub"]["produced_total"] = c.produced;
  g["pubsub_stages"]["republish_per_peer_timeout"] = c.per_peer;
  json srow = base["pubsub_stages"]["suppressed_peers"][0], prow = base["pubsub_stages"]["peer_scores"][0];
  json suppressed = json::array(), scores = json::array();
  for (int i = 0; i < c.suppressed; ++i) {
    srow["peer_id"] = fmt_peer(i);
    suppressed.push_back(srow);
  }
  for (int i = 0; i < c.scores; ++i) {
    prow["peer_id"] = fmt_peer(i);
    scores.push_back(prow);
  }
  g["pubsub_stages"]["suppressed_peers"] = suppressed;
  g["pubsub_stages"]["suppressed_peers_by_topic"] = json::object();
  g["pubsub_stages"]["peer_scores"] = scores;
  return g;
}

json connectivity_body(const Counters& c) {
  static const json base = gate_fixture("spec-connectivity.json");
  json j = base;
  j["data_tx"]["data_tx_high_water_count"] = c.high_water;
  return j;
}

// A scenario over a fleet whose nodes all start from the same clean counters.
struct Window {
  ScenarioRun run;
  std::map<std::string, Counters> pre, post;

  Window(std::string scenario, std::vector<std::string> nodes) {
    run.name = std::move(scenario);
    run.nodes = std::move(nodes);
    for (auto& n : run.nodes) {
      pre[n] = Counters{};
      post[n] = Counters{};
      post[n].completed += 100;
      post[n].produced += 100;
    }
    run.phase_a = phase_a({});
  }

  // Phase A over this fleet with the given failed pairs {src, dst, stage}.
  json phase_a(const std::vector<std::array<std::string, 3>>& failed) const {
    json pairs = json::array();
    std::size_t received = 0, send_ok = 0;
    for (auto& s : run.nodes)
      for (auto& d : run.nodes) {
        if (s == d) continue;
        std::string stage;
        for (auto& f : failed)
          if (f[0] == s && f[1] == d) stage = f[2];
        pairs.push_back({{"src", s}, {"dst", d}, {"outcome", stage.empty() ? "delivered" : "failed"},
                         {"stage", stage.empty() ? json(nullptr) : json(stage)}});
        received += stage.empty() || stage == "result lost";
        send_ok += stage.empty() || stage == "not received";
      }
    return {{"expected_pairs", pairs.size()}, {"received", received}, {"send_ok", send_ok}, {"pairs", pairs}};
  }

  ScenarioRun build() const {
    ScenarioRun r = run;
    for (auto& [n, c] : pre) r.pre[n] = {ok(gossip_body(c)), ok(connectivity_body(c))};
    for (auto& [n, c] : post) r.post[n] = {ok(gossip_body(c)), ok(connectivity_body(c))};
    return r;
  }
};

const std::vector<std::string> kThree = {"nyc", "sfo", "helsinki"};
const std::vector<std::string> kSix = {"nyc", "sfo", "helsinki", "nuremberg", "singapore", "sydney"};

std::vector<std::string> messages(const ScenarioVerdict& s) {
  std::vector<std::string> out;
  for (auto& v : s.violations) out.push_back(v.message);
  return out;
}

const RuleOutcome& outcome(const ScenarioVerdict& s, const std::string& rule) {
  for (auto& r : s.rules)
    if (r.rule == rule) return r;
  FAIL("no outcome for " << rule);
  throw std::logic_error("unreachable");
}

const Violation& violation(const ScenarioVerdict& s, const std::string& message) {
  for (auto& v : s.violations)
    if (v.message == message) return v;
  FAIL("no violation " << message);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a clean window passes every limited-production rule", "[gates][scorer]") {
  Window w("baseline", kThree);
  RunVerdict v = score(limited(), {w.build()});
  REQUIRE(v.scenarios.size() == 1);
  const auto& s = v.scenarios[0];
  CHECK(messages(s).empty());
  CHECK(s.status == ScenarioStatus::pass);
  CHECK(v.go());
  std::vector<std::pair<std::string, std::string>> rules;
  for (auto& r : s.rules) rules.emplace_back(r.rule, std::string(to_string(r.status)));
  CHECK(rules == std::vector<std::pair<std::string, std::string>>{{kDispatcherTimedOut, "pass"},
                                                                   {kDroppedFull, "pass"},
                                                                   {kPerPeerTimeout, "pass"},
                                                                   {kSuppressedSteady, "pass"},
                                                                   {kMinPhaseAPairs, "pass"},
                                                                   {kMinPhaseBChecks, "n/a"},
                                                                   {kMaxRecoverySecs, "n/a"},
                                                                   {kMaxPartitionRecoverySecs, "n/a"}});
  CHECK(outcome(s, kDispatcherTimedOut).threshold == "5");
  CHECK(outcome(s, kMinPhaseAPairs).observed == "6");
  CHECK(outcome(s, kMinPhaseAPairs).threshold == "6");
  CHECK(v.nodes == kThree);
  CHECK(v.thresholds == json{{kDispatcherTimedOut, 5}, {kDroppedFull, 0}, {kPerPeerTimeout, 200}, {kSuppressedSteady, 200},
                             {kMinPhaseAPairs, 6}, {kMinPhaseBChecks, 40}, {kMaxRecoverySecs, 90}, {kMaxPartitionRecoverySecs, 90}});
}

TEST_CASE("every limited-production rule fails with the reference sentence", "[gates][scorer]") {
  Window w("baseline", kThree);
  w.post["nyc"].dropped = 1;
  w.post["nyc"].timed_out = 5;  // at the gate: passes
  w.post["sfo"].timed_out = 7;
  w.post["helsinki"].per_peer = 201;
  w.post["sfo"].suppressed = 201;
  w.post["helsinki"].suppressed = 200;
  RunVerdict v = score(limited(), {w.build()});
  const auto& s = v.scenarios[0];
  // §3.2 order: per node the window rules, then per node the post rules.
  CHECK(messages(s) == std::vector<std::string>{"nyc: recv_pump.dropped_full delta 1 > gate 0",
                                                "sfo: dispatcher_timed_out delta 7 > gate 5",
                                                "helsinki: per_peer_timeout delta 201 > gate 200",
                                                "sfo: suppressed_peers steady 201 > gate 200"});
  CHECK(s.status == ScenarioStatus::fail);
  CHECK_FALSE(v.go());
  const auto& d = violation(s, "sfo: dispatcher_timed_out delta 7 > gate 5");
  CHECK(d.scenario == "baseline");
  CHECK(d.rule == kDispatcherTimedOut);
  CHECK(d.node == "sfo");
  CHECK(d.observed == "7");
  CHECK(d.threshold == "5");
  CHECK(d.evidence == "diagnostics/baseline/sfo-pre.json diagnostics/baseline/sfo-post.json");
  CHECK(violation(s, "sfo: suppressed_peers steady 201 > gate 200").evidence == "diagnostics/baseline/sfo-post.json");
  CHECK(outcome(s, kDispatcherTimedOut).status == RuleStatus::fail);
  CHECK(outcome(s, kDispatcherTimedOut).worst_node == "sfo");
  CHECK(outcome(s, kDispatcherTimedOut).observed == "7");
  CHECK(outcome(s, kDroppedFull).worst_node == "nyc");
  CHECK(outcome(s, kPerPeerTimeout).worst_node == "helsinki");
  CHECK(outcome(s, kSuppressedSteady).observed == "201");
  CHECK(outcome(s, kMinPhaseAPairs).status == RuleStatus::pass);
}

TEST_CASE("every broad-launch rule fails with the reference sentence", "[gates][scorer]") {
  Window w("baseline", kThree);
  w.post["nyc"].timed_out = 1;
  w.post["nyc"].per_peer = 30;  // 30 / 100 completed
  w.post["nyc"].suppressed = 3;  // 3 / 20 score rows
  w.post["sfo"].per_peer = 3;
  w.post["sfo"].completed = w.pre["sfo"].completed;  // 3 / 0: inf
  w.post["helsinki"].completed = w.pre["helsinki"].completed;  // 0 / 0: 0, passes
  w.post["helsinki"].high_water = 2;
  w.post["helsinki"].suppressed = 2;  // 0.100: passes
  ScenarioRun run = w.build();
  run.post["sfo"].connectivity.body["data_tx"]["data_tx_high_water_count"] = nullptr;
  RunVerdict v = score(broad(), {run});
  const auto& s = v.scenarios[0];
  CHECK(messages(s) ==
        std::vector<std::string>{
            "nyc: dispatcher_timed_out delta 1 > gate 0",
            "nyc: per_peer_timeout/dispatcher_completed ratio 0.300 > gate 0.250 (30 / 100)",
            "sfo: per_peer_timeout/dispatcher_completed ratio inf > gate 0.250 (3 / 0)",
            "sfo: data_tx_high_water_count_delta unmeasurable: /diagnostics/connectivity unreachable or missing data_tx "
            "(connectivity post: data_tx.data_tx_high_water_count is null)",
            "helsinki: data_tx saturation delta 2 > gate 0",
            "nyc: suppressed_peers/known_peer_topic_pairs ratio 0.150 > gate 0.120 (3 / 20)"});
  const auto& inf = violation(s, "sfo: per_peer_timeout/dispatcher_completed ratio inf > gate 0.250 (3 / 0)");
  CHECK(inf.observed == "inf");
  CHECK(inf.threshold == "0.250");
  const auto& tx = violation(s, messages(s)[3]);
  CHECK(tx.observed == "unknown");
  CHECK(tx.evidence == "diagnostics_connectivity/baseline/sfo-pre.json diagnostics_connectivity/baseline/sfo-post.json");
  CHECK(outcome(s, kPerPeerTimeoutRatio).worst_node == "sfo");
  CHECK(outcome(s, kPerPeerTimeoutRatio).observed == "inf");
  CHECK(outcome(s, kDataTxHighWater).observed == "unknown");
  CHECK(outcome(s, kSuppressionRatio).observed == "0.150");
  // verdict.json carries the ratios as numbers, "inf" or null.
  json j = v.to_json({run});
  CHECK(j["verdict"] == "NO-GO");
  CHECK(j["blocking"].size() == 6);
  CHECK(j["scenarios"][0]["nodes"]["sfo"]["ratios"]["per_peer_timeout"] == "inf");
  CHECK(j["scenarios"][0]["nodes"]["helsinki"]["ratios"]["per_peer_timeout"] == 0);
  CHECK(j["scenarios"][0]["nodes"]["nyc"]["ratios"]["suppression"] == 0.15);
  CHECK(j["scenarios"][0]["nodes"]["sfo"]["delta"]["data_tx_high_water_count"].is_null());
  CHECK(j["scenarios"][0]["nodes"]["sfo"]["post"]["data_tx_high_water_count"].is_null());
  CHECK(j["scenarios"][0]["nodes"]["sfo"]["pre"]["data_tx_high_water_count"] == 0);
  CHECK(j["thresholds"][kPerPeerTimeoutRatio] == 0.25);
}

TEST_CASE("exemptions apply to the scenario's roles only, and only to their rules", "[gates][scorer]") {
  SECTION("high_rtt_peer: the target is exempt from dispatcher timeouts and the suppression ratio, not the steady size") {
    Window w("high_rtt_peer", kThree);
    w.run.roles = {{"anchor", {"nyc"}}, {"target", {"sfo"}}};
    w.post["sfo"].timed_out = 50;
    w.post["sfo"].suppressed = 200;
    w.post["sfo"].per_peer = 201;  // not exempt
    w.post["nyc"].timed_out = 6;
    RunVerdict v = score(limited(), {w.build()});
    CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"nyc: dispatcher_timed_out delta 6 > gate 5",
                                                               "sfo: per_peer_timeout delta 201 > gate 200"});
    // The reference's gate: "suppressed_peers size at end of run <= 200" for every node, the target too.
    w.post["sfo"].suppressed = 201;
    w.post["sfo"].per_peer = 0;
    w.post["nyc"].timed_out = 0;
    v = score(limited(), {w.build()});
    CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"sfo: suppressed_peers steady 201 > gate 200"});
    CHECK_FALSE(v.go());
    CHECK(v.scenarios[0].nodes["sfo"]["exempt"] == json{"dispatcher_timeout", "suppression_ratio"});
    // broad: the suppression ratio too.
    w.post["nyc"].timed_out = 0;
    w.post["sfo"].per_peer = 0;
    w.post["sfo"].suppressed = 10;
    w.post["nyc"].suppressed = 10;
    v = score(broad(), {w.build()});
    CHECK(messages(v.scenarios[0]) ==
          std::vector<std::string>{"nyc: suppressed_peers/known_peer_topic_pairs ratio 0.500 > gate 0.120 (10 / 20)"});
  }
  SECTION("partition_recovery: both sides of the pair are exempt from dispatcher timeouts") {
    Window w("partition_recovery", kThree);
    w.run.roles = {{"pair", {"sfo", "helsinki"}}};
    w.run.metrics = {{"partition_recovery_secs", 30}, {"anti_entropy_delta", {{"sfo", 3}, {"helsinki", 0}}}};
    for (auto* n : {"nyc", "sfo", "helsinki"}) w.post[n].timed_out = 9;
    w.post["sfo"].suppressed = 201;  // the pair has no suppression exemption
    RunVerdict v = score(limited(), {w.build()});
    CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"nyc: dispatcher_timed_out delta 9 > gate 5",
                                                               "sfo: suppressed_peers steady 201 > gate 200"});
  }
  SECTION("slow_peer and stale_peer exempt their target") {
    for (auto* scenario : {"slow_peer", "stale_peer"}) {
      INFO(scenario);
      Window w(scenario, kThree);
      w.run.roles = {{"target", {"helsinki"}}};
      w.post["helsinki"].timed_out = 40;
      w.post["helsinki"].suppressed = 300;
      w.post["sfo"].timed_out = 40;
      RunVerdict v = score(limited(), {w.build()});
      CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"sfo: dispatcher_timed_out delta 40 > gate 5",
                                                                 "helsinki: suppressed_peers steady 300 > gate 200"});
    }
  }
  SECTION("an exemption of another scenario does not apply") {
    Window w("baseline", kThree);
    w.run.roles = {{"target", {"sfo"}}};
    w.post["sfo"].timed_out = 7;
    RunVerdict v = score(limited(), {w.build()});
    CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"sfo: dispatcher_timed_out delta 7 > gate 5"});
  }
  SECTION("a literal node name in an operator profile") {
    GateProfile p = parse_profile(
        "name = \"ops\"\n[thresholds]\nmax_dispatcher_timed_out_delta = 0\n"
        "[exemptions.fanout_burst]\ndispatcher_timeout = [\"nyc\"]\n",
        "ops.toml");
    Window w("fanout_burst", kThree);
    w.post["nyc"].timed_out = 3;
    w.post["sfo"].timed_out = 3;
    RunVerdict v = score(p, {w.build()});
    CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"sfo: dispatcher_timed_out delta 3 > gate 0"});
  }
}

TEST_CASE("a counter reset clamps the delta to 0 and is flagged", "[gates][scorer]") {
  Window w("restart_storm", kThree);
  w.run.roles = {{"target", {"sfo", "helsinki"}}};
  w.run.metrics = {{"recovery_secs_per_node", {{"sfo", 12.5}, {"helsinki", 20}}}, {"max_recovery_secs", 20}};
  w.pre["sfo"] = {.timed_out = 4, .completed = 90000, .dropped = 2, .produced = 90000, .per_peer = 500};
  w.post["sfo"] = {.timed_out = 0, .completed = 300, .dropped = 0, .produced = 300, .per_peer = 0};
  RunVerdict v = score(limited(), {w.build()});
  const auto& s = v.scenarios[0];
  CHECK(messages(s).empty());
  CHECK(s.status == ScenarioStatus::pass);
  CHECK(s.nodes["sfo"]["counter_reset"] == true);
  CHECK(s.nodes["nyc"]["counter_reset"] == false);
  CHECK(s.nodes["sfo"]["delta"]["dispatcher_timed_out"] == 0);
  CHECK(s.nodes["sfo"]["delta"]["dispatcher_completed"] == 0);
  CHECK(outcome(s, kMaxRecoverySecs).status == RuleStatus::pass);
  CHECK(outcome(s, kMaxRecoverySecs).worst_node == "helsinki");
  CHECK(outcome(s, kMaxRecoverySecs).observed == "20");
}

TEST_CASE("a missing gated field is unmeasurable and NO-GO with the reason", "[gates][scorer]") {
  Window w("baseline", kThree);
  ScenarioRun run = w.build();
  run.post["sfo"].gossip.body["dispatcher"]["pubsub"].erase("timed_out");
  RunVerdict v = score(limited(), {run});
  const auto& s = v.scenarios[0];
  CHECK(messages(s) ==
        std::vector<std::string>{"sfo: dispatcher_timed_out unmeasurable: gossip post: missing dispatcher.pubsub.timed_out"});
  CHECK(s.violations[0].observed == "unknown");
  CHECK(s.violations[0].threshold == "5");
  CHECK(outcome(s, kDispatcherTimedOut).status == RuleStatus::fail);
  CHECK(outcome(s, kDispatcherTimedOut).worst_node == "sfo");
  CHECK(outcome(s, kDispatcherTimedOut).observed == "unknown");
  CHECK(s.nodes["sfo"]["problems"] == json{"gossip post: missing dispatcher.pubsub.timed_out"});
  CHECK_FALSE(v.go());
}

TEST_CASE("an HTTP 503 error body is unmeasurable, not a pass on zeros", "[gates][scorer]") {
  Window w("baseline", kThree);
  ScenarioRun run = w.build();
  run.post["sfo"].gossip.http_status = 503;
  run.post["sfo"].gossip.body = gate_fixture("gossip-503.json");
  RunVerdict v = score(limited(), {run});
  const auto& s = v.scenarios[0];
  std::string why = "gossip post: HTTP 503: gossip runtime not initialized";
  CHECK(messages(s) == std::vector<std::string>{"sfo: dispatcher_timed_out unmeasurable: " + why,
                                                "sfo: recv_pump.dropped_full unmeasurable: " + why,
                                                "sfo: per_peer_timeout unmeasurable: " + why,
                                                "sfo: suppressed_peers unmeasurable: " + why});
  CHECK(s.nodes["sfo"]["gossip_post_ok"] == false);
  CHECK(s.nodes["sfo"]["post"]["dispatcher_timed_out"].is_null());
  CHECK(s.nodes["sfo"]["delta"]["dispatcher_timed_out"].is_null());
  CHECK(s.violations[0].evidence == "diagnostics/baseline/sfo-pre.json diagnostics/baseline/sfo-post.json");
  CHECK_FALSE(v.go());
  // broad: the ratios are unmeasurable too.
  v = score(broad(), {run});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"sfo: dispatcher_timed_out unmeasurable: " + why,
                                                             "sfo: recv_pump.dropped_full unmeasurable: " + why,
                                                             "sfo: per_peer_timeout/dispatcher_completed ratio unmeasurable: " + why,
                                                             "sfo: suppressed_peers/known_peer_topic_pairs ratio unmeasurable: " + why});
}

TEST_CASE("a null dispatcher block is unmeasurable", "[gates][scorer]") {
  Window w("baseline", kThree);
  ScenarioRun run = w.build();
  run.pre["helsinki"].gossip.body["dispatcher"] = nullptr;
  RunVerdict v = score(limited(), {run});
  const auto& s = v.scenarios[0];
  CHECK(messages(s) == std::vector<std::string>{"helsinki: dispatcher_timed_out unmeasurable: gossip pre: dispatcher is null",
                                                "helsinki: recv_pump.dropped_full unmeasurable: gossip pre: dispatcher is null",
                                                "helsinki: per_peer_timeout unmeasurable: gossip pre: dispatcher is null"});
  CHECK(s.nodes["helsinki"]["gossip_pre_ok"] == false);
  CHECK_FALSE(v.go());
}

TEST_CASE("a node without a snapshot fails every rule that needs it", "[gates][scorer]") {
  SECTION("no post snapshot") {
    Window w("baseline", kThree);
    w.post.erase("sfo");
    RunVerdict v = score(limited(), {w.build()});
    const auto& s = v.scenarios[0];
    CHECK(messages(s) == std::vector<std::string>(4, "sfo: no post snapshot"));
    std::vector<std::string> rules;
    for (auto& x : s.violations) {
      rules.push_back(x.rule);
      CHECK(x.node == "sfo");
      CHECK(x.observed == "unknown");
    }
    CHECK(rules == std::vector<std::string>{kDispatcherTimedOut, kDroppedFull, kPerPeerTimeout, kSuppressedSteady});
    CHECK(s.violations[0].evidence == "diagnostics/baseline/sfo-pre.json scenarios/baseline/scenario.json");
    CHECK(s.nodes["sfo"]["has_post"] == false);
    CHECK_FALSE(v.go());
  }
  SECTION("no snapshot at all") {
    Window w("baseline", kThree);
    w.pre.erase("nyc");
    w.post.erase("nyc");
    RunVerdict v = score(limited(), {w.build()});
    CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"nyc: no pre or post snapshot", "nyc: no pre or post snapshot",
                                                               "nyc: no pre or post snapshot", "nyc: no post snapshot"});
  }
}

TEST_CASE("a missing pre snapshot is unknown, not the node's lifetime totals", "[gates][scorer]") {
  SECTION("never fetched") {
    Window w("baseline", kThree);
    w.pre.erase("sfo");
    w.post["sfo"] = {.timed_out = 4, .completed = 900000, .dropped = 15282, .produced = 900000, .per_peer = 15282, .suppressed = 3};
    RunVerdict v = score(limited(), {w.build()});
    const auto& s = v.scenarios[0];
    // The X0X-0024 false alarm ("singapore +4 / +15282") cannot happen: no delta is claimed.
    CHECK(messages(s) == std::vector<std::string>(3, "sfo: no pre snapshot"));
    CHECK(s.nodes["sfo"]["delta"]["recv_pump_dropped_full"].is_null());
    CHECK(outcome(s, kSuppressedSteady).status == RuleStatus::pass);  // a post value still scores
    CHECK_FALSE(v.go());
  }
  SECTION("fetch failed") {
    Window w("baseline", kThree);
    ScenarioRun run = w.build();
    run.pre["sfo"].gossip = RawFetch{};
    run.pre["sfo"].gossip.error = "timed out after 12000 ms";
    RunVerdict v = score(limited(), {run});
    CHECK(messages(v.scenarios[0])[0] == "sfo: dispatcher_timed_out unmeasurable: gossip pre: not fetched: timed out after 12000 ms");
    CHECK(v.scenarios[0].violations[0].evidence == "scenarios/baseline/scenario.json diagnostics/baseline/sfo-post.json");
  }
}

TEST_CASE("a scenario that did not run is NOT RUN and the run is NO-GO", "[gates][scorer]") {
  Window clean("baseline", kThree);
  ScenarioRun skipped;
  skipped.name = "high_rtt_peer";
  skipped.index = 1;
  skipped.status = RunStatus::not_run;
  skipped.reason = "pass --allow-netem to enable";
  skipped.nodes = kThree;
  RunVerdict v = score(limited(), {clean.build(), skipped});
  REQUIRE(v.scenarios.size() == 2);
  CHECK(v.scenarios[0].status == ScenarioStatus::pass);
  const auto& s = v.scenarios[1];
  CHECK(s.status == ScenarioStatus::not_run);
  CHECK(s.reason == "pass --allow-netem to enable");
  REQUIRE(s.violations.size() == 1);
  CHECK(s.violations[0].rule == "scenario_not_run");
  CHECK(s.violations[0].message == "high_rtt_peer: not run: pass --allow-netem to enable");
  CHECK(s.rules.size() == 8);
  for (auto& r : s.rules) CHECK(r.status == RuleStatus::not_run);
  CHECK_FALSE(v.go());
  json j = v.to_json({clean.build(), skipped});
  CHECK(j["verdict"] == "NO-GO");
  CHECK(j["scenarios"][1]["status"] == "NOT RUN");
  CHECK(j["blocking"][0]["message"] == "high_rtt_peer: not run: pass --allow-netem to enable");
}

TEST_CASE("an errored scenario fails with the error first and is still scored", "[gates][scorer]") {
  Window w("fanout_burst", kThree);
  w.run.status = RunStatus::errored;
  w.run.reason = "burst publish: HTTP 500 on message 17";
  w.post["sfo"].timed_out = 7;
  RunVerdict v = score(limited(), {w.build()});
  const auto& s = v.scenarios[0];
  CHECK(s.status == ScenarioStatus::error);
  CHECK(to_string(s.status) == "ERROR");
  CHECK(messages(s) == std::vector<std::string>{"scenario errored: burst publish: HTTP 500 on message 17",
                                                "sfo: dispatcher_timed_out delta 7 > gate 5"});
  CHECK(s.violations[0].rule == "scenario_errored");
  CHECK(outcome(s, kMinPhaseAPairs).status == RuleStatus::not_applicable);
  CHECK_FALSE(v.go());
}

TEST_CASE("a Phase A shortfall names the node in the most failed pairs", "[gates][scorer]") {
  Window w("baseline", kSix);
  w.run.phase_a = w.phase_a({{"nyc", "sydney", "send failed"},
                             {"sydney", "nyc", "not received"},
                             {"sydney", "sfo", "not received"},
                             {"helsinki", "sfo", "not received"}});
  RunVerdict v = score(limited(), {w.build()});
  const auto& s = v.scenarios[0];
  std::string pairs = "; failed pairs: nyc→sydney (send failed), helsinki→sfo (not received), sydney→nyc (not received), "
                      "sydney→sfo (not received)";
  CHECK(messages(s) == std::vector<std::string>{"phase A received 26 < gate 30" + pairs, "phase A sent 29 < gate 30" + pairs});
  for (auto& x : s.violations) {
    CHECK(x.node == "sydney");
    CHECK(x.rule == kMinPhaseAPairs);
    CHECK(x.threshold == "30");
    CHECK(x.evidence == "scenarios/baseline/phase-a.json");
  }
  CHECK(s.violations[0].observed == "26");
  CHECK(outcome(s, kMinPhaseAPairs).worst_node == "sydney");
  CHECK(outcome(s, kMinPhaseAPairs).observed == "26");

  SECTION("ties go to fleet order, not to the sender") {
    w.run.phase_a = w.phase_a({{"sfo", "nyc", "not received"}});
    v = score(limited(), {w.build()});
    CHECK(v.scenarios[0].violations.at(0).node == "nyc");
    CHECK(messages(v.scenarios[0]) ==
          std::vector<std::string>{"phase A received 29 < gate 30; failed pairs: sfo→nyc (not received)"});
  }
  SECTION("at most ten failed pairs are listed") {
    std::vector<std::array<std::string, 3>> failed = {{"nyc", "sfo", "not received"}};
    for (auto& other : kSix)
      if (other != "singapore") {
        failed.push_back({"singapore", other, "runner not discovered"});
        failed.push_back({other, "singapore", "runner not discovered"});
      }
    w.run.phase_a = w.phase_a(failed);
    v = score(limited(), {w.build()});
    std::string listed =
        "; failed pairs: nyc→sfo (not received), nyc→singapore (runner not discovered), sfo→singapore (runner not discovered), "
        "helsinki→singapore (runner not discovered), nuremberg→singapore (runner not discovered), "
        "singapore→nyc (runner not discovered), singapore→sfo (runner not discovered), "
        "singapore→helsinki (runner not discovered), singapore→nuremberg (runner not discovered), "
        "singapore→sydney (runner not discovered), and 1 more";
    CHECK(messages(v.scenarios[0]) ==
          std::vector<std::string>{"phase A received 19 < gate 30" + listed, "phase A sent 20 < gate 30" + listed});
    CHECK(v.scenarios[0].violations[0].node == "singapore");
  }
}

TEST_CASE("the Phase A bar is n times n-1 of the scored fleet", "[gates][scorer]") {
  Window six("baseline", kSix);
  RunVerdict v = score(limited(), {six.build()});
  CHECK(v.go());
  CHECK(v.thresholds[kMinPhaseAPairs] == 30);
  CHECK(outcome(v.scenarios[0], kMinPhaseAPairs).threshold == "30");
  six.run.phase_a = six.phase_a({{"nyc", "sfo", "not received"}});
  v = score(limited(), {six.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"phase A received 29 < gate 30; failed pairs: nyc→sfo (not received)"});

  std::vector<std::string> five(kSix.begin(), kSix.end() - 1);
  Window w5("baseline", five);
  v = score(broad(), {w5.build()});
  CHECK(v.go());
  CHECK(v.thresholds[kMinPhaseAPairs] == 20);
  CHECK(outcome(v.scenarios[0], kMinPhaseAPairs).observed == "20");
  w5.run.phase_a = w5.phase_a({{"sfo", "nyc", "send failed"}});
  v = score(broad(), {w5.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"phase A received 19 < gate 20; failed pairs: sfo→nyc (send failed)",
                                                             "phase A sent 19 < gate 20; failed pairs: sfo→nyc (send failed)"});
}

TEST_CASE("Phase A that was asked for but not observed fails", "[gates][scorer]") {
  Window w("baseline", kThree);
  w.run.phase_a = nullptr;
  RunVerdict v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"phase A not observed"});
  CHECK(v.scenarios[0].violations[0].observed == "unknown");
  CHECK_FALSE(v.go());
  // fanout_burst does not run Phase A: the rule does not apply.
  Window f("fanout_burst", kThree);
  f.run.phase_a = nullptr;
  v = score(limited(), {f.build()});
  CHECK(v.go());
  CHECK(outcome(v.scenarios[0], kMinPhaseAPairs).status == RuleStatus::not_applicable);
}

TEST_CASE("restart recovery: the slowest node against max_recovery_secs, never = fail", "[gates][scorer]") {
  Window w("restart_storm", kThree);
  w.run.metrics = {{"recovery_secs_per_node", {{"sfo", 95.5}, {"helsinki", 31}}}, {"max_recovery_secs", 95.5}};
  RunVerdict v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"restart recovery 95.5s > gate 90s"});
  CHECK(v.scenarios[0].violations[0].node == "sfo");
  CHECK(v.scenarios[0].violations[0].evidence == "scenarios/restart_storm/scenario.json");

  w.run.metrics = {{"recovery_secs_per_node", {{"sfo", 12}, {"helsinki", 31}}}, {"max_recovery_secs", 31}};
  CHECK(score(limited(), {w.build()}).go());
  v = score(broad(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"restart recovery 31s > gate 30s"});
  CHECK(v.scenarios[0].violations[0].node == "helsinki");

  w.run.metrics = {{"recovery_secs_per_node", {{"sfo", -1}, {"helsinki", 10}}}, {"max_recovery_secs", 10}};
  v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"restart recovery never > gate 90s: sfo did not recover"});
  CHECK(v.scenarios[0].violations[0].observed == "never");
  CHECK(outcome(v.scenarios[0], kMaxRecoverySecs).observed == "never");

  w.run.metrics = json::object();
  v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"restart recovery unmeasurable: missing metrics.max_recovery_secs"});
}

namespace {
// A Phase B report over `nodes` (the first is the anchor): the strict 10n+10
// checks, every one passed except `failed` {label, node, stage}.
json phase_b_report(const std::vector<std::string>& nodes, const std::vector<std::array<std::string, 3>>& failed) {
  json checks = json::array();
  std::size_t passed = 0;
  const std::size_t total = 10 * nodes.size() + 10;
  for (std::size_t i = 0; i < total; ++i) {
    const auto& node = nodes[i % nodes.size()];
    checks.push_back({{"label", fmt_peer(static_cast<int>(i)) + " check"}, {"node", node}, {"area", "join"}, {"outcome", "pass"},
                      {"stage", nullptr}, {"detail", nullptr}});
    ++passed;
  }
  for (std::size_t i = 0; i < failed.size(); ++i) {
    auto& c = checks[i];
    c["label"] = failed[i][0];
    c["node"] = failed[i][1];
    c["outcome"] = "fail";
    c["stage"] = failed[i][2];
    c["detail"] = "what was missing";
    --passed;
  }
  return {{"expected_checks", total}, {"passed_checks", passed}, {"anchor", nodes.front()}, {"nodes", nodes}, {"checks", checks}};
}
}  // namespace

TEST_CASE("phase_b: every check passed is PASS, a shortfall lists the failed checks", "[gates][scorer]") {
  Window w("phase_b", kThree);
  w.run.phase_a = nullptr;
  w.run.phase_b = phase_b_report(kThree, {});
  RunVerdict v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]).empty());
  CHECK(outcome(v.scenarios[0], kMinPhaseBChecks).status == RuleStatus::pass);
  CHECK(outcome(v.scenarios[0], kMinPhaseBChecks).observed == "40");
  CHECK(outcome(v.scenarios[0], kMinPhaseBChecks).threshold == "40");
  CHECK(outcome(v.scenarios[0], kMinPhaseAPairs).status == RuleStatus::not_applicable);
  CHECK(v.go());

  w.run.phase_b = phase_b_report(kThree, {{"sfo joins via invite", "sfo", "not converged"},
                                          {"nyc sees sfo's reply in /messages cache", "sfo", "not converged"},
                                          {"helsinki sees self in roster", "helsinki", "action error"}});
  v = score(broad(), {w.build()});
  REQUIRE(v.scenarios[0].violations.size() == 1);
  auto& viol = v.scenarios[0].violations[0];
  CHECK(viol.rule == kMinPhaseBChecks);
  CHECK(viol.node == "sfo");  // the node with the most failed checks
  CHECK(viol.observed == "37");
  CHECK(viol.threshold == "40");
  CHECK(viol.evidence == "scenarios/phase_b/phase-b.json");
  CHECK(viol.message ==
        "phase B checks passed 37 < gate 40; failed checks: sfo joins via invite (not converged: what was missing), "
        "nyc sees sfo's reply in /messages cache (not converged: what was missing), helsinki sees self in roster (action "
        "error: what was missing)");
  CHECK_FALSE(v.go());

  // Counted from the checks themselves, not the report's summary counts.
  w.run.phase_b["passed_checks"] = 40;
  CHECK_FALSE(score(limited(), {w.build()}).go());
}

TEST_CASE("phase_b not observed, or without its checks, fails, and elsewhere the rule is n/a", "[gates][scorer]") {
  Window w("phase_b", kThree);
  w.run.phase_b = nullptr;
  RunVerdict v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"phase B not observed"});
  CHECK(outcome(v.scenarios[0], kMinPhaseBChecks).observed == "unknown");
  w.run.phase_b = {{"expected_checks", 40}, {"passed_checks", 40}};
  v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"phase B unmeasurable: missing phase_b.checks"});
  CHECK(v.scenarios[0].violations[0].evidence == "scenarios/phase_b/phase-b.json");

  Window b("baseline", kThree);
  b.run.phase_b = phase_b_report(kThree, {{"sfo joins via invite", "sfo", "not converged"}});
  v = score(limited(), {b.build()});
  CHECK(outcome(v.scenarios[0], kMinPhaseBChecks).status == RuleStatus::not_applicable);
  CHECK(v.go());
}

TEST_CASE("partition recovery against max_partition_recovery_secs", "[gates][scorer]") {
  Window w("partition_recovery", kThree);
  w.run.roles = {{"pair", {"sfo", "helsinki"}}};
  const json moved = {{"sfo", 4}, {"helsinki", 2}};
  w.run.metrics = {{"partition_recovery_secs", 45}, {"anti_entropy_delta", moved}};
  RunVerdict v = score(limited(), {w.build()});
  CHECK(v.go());
  CHECK(outcome(v.scenarios[0], kMaxPartitionRecoverySecs).observed == "45");
  CHECK(outcome(v.scenarios[0], kMaxRecoverySecs).status == RuleStatus::not_applicable);
  w.run.metrics = {{"partition_recovery_secs", 91}, {"anti_entropy_delta", moved}};
  CHECK(messages(score(broad(), {w.build()}).scenarios[0]) == std::vector<std::string>{"partition recovery 91s > gate 90s"});
  w.run.metrics = {{"partition_recovery_secs", -1}, {"anti_entropy_delta", moved}};
  CHECK(messages(score(limited(), {w.build()}).scenarios[0]) ==
        std::vector<std::string>{"partition recovery never > gate 90s: the pair did not return to baseline"});
  w.run.metrics = {{"anti_entropy_delta", moved}};
  CHECK(messages(score(limited(), {w.build()}).scenarios[0]) ==
        std::vector<std::string>{"partition recovery unmeasurable: missing metrics.partition_recovery_secs"});
}

TEST_CASE("partition recovery fails when neither side's anti-entropy counter moved", "[gates][scorer]") {
  Window w("partition_recovery", kThree);
  w.run.roles = {{"pair", {"sfo", "helsinki"}}};
  w.run.metrics = {{"partition_recovery_secs", 12}, {"anti_entropy_delta", {{"sfo", 0}, {"helsinki", 0}}}};
  RunVerdict v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"no anti_entropy traffic observed during partition/heal window"});
  CHECK(outcome(v.scenarios[0], kPartitionAntiEntropy).status == RuleStatus::fail);
  CHECK(v.scenarios[0].violations[0].node == "sfo");
  CHECK_FALSE(v.go());
  // One side moving is enough, as in the reference.
  w.run.metrics["anti_entropy_delta"]["helsinki"] = 1;
  v = score(limited(), {w.build()});
  CHECK(v.go());
  CHECK(outcome(v.scenarios[0], kPartitionAntiEntropy).observed == "1");
  // A side that could not be read is not "moved" (fail closed).
  w.run.metrics["anti_entropy_delta"] = {{"sfo", nullptr}, {"helsinki", 0}};
  CHECK(messages(score(limited(), {w.build()}).scenarios[0]) ==
        std::vector<std::string>{"partition anti-entropy unmeasurable: a side's anti_entropy counter could not be read"});
  // Other scenarios do not have the rule.
  Window b("baseline", kThree);
  auto bv = score(limited(), {b.build()});  // kept: a range-for over a temporary's member would dangle
  REQUIRE_FALSE(bv.scenarios[0].rules.empty());
  for (auto& r : bv.scenarios[0].rules) CHECK(r.rule != kPartitionAntiEntropy);
}

TEST_CASE("under a peer fault Phase A is scored without the target's pairs, which are reported apart", "[gates][scorer]") {
  for (auto* scenario : {"stale_peer", "slow_peer"}) {
    INFO(scenario);
    Window w(scenario, kSix);
    w.run.roles = {{"anchor", {"nyc"}}, {"target", {"sydney"}}};
    // Every pair of the stalled node fails, as a stale peer must.
    std::vector<std::array<std::string, 3>> failed;
    for (auto& n : kSix)
      if (n != "sydney") {
        failed.push_back({n, "sydney", "not received"});
        failed.push_back({"sydney", n, "send failed"});
      }
    w.run.phase_a = w.phase_a(failed);
    RunVerdict v = score(limited(), {w.build()});
    const auto& s = v.scenarios[0];
    CHECK(messages(s).empty());
    CHECK(v.go());
    CHECK(outcome(s, kMinPhaseAPairs).threshold == "20");  // (n-1)(n-2)
    CHECK(outcome(s, kMinPhaseAPairs).observed == "20");
    REQUIRE(s.phase_a_excluded);
    CHECK(s.phase_a_excluded->nodes == std::vector<std::string>{"sydney"});
    CHECK(s.phase_a_excluded->pairs == 10);
    CHECK(s.phase_a_excluded->delivered == 0);
    CHECK(s.warnings.empty());
    auto j = v.to_json({w.build()});
    CHECK(j["scenarios"][0]["phase_a_excluded"]["pairs"] == 10);

    // A pair without the target that fails still fails the rule, against (n-1)(n-2).
    failed.push_back({"sfo", "helsinki", "not received"});
    w.run.phase_a = w.phase_a(failed);
    v = score(limited(), {w.build()});
    CHECK(messages(v.scenarios[0]) ==
          std::vector<std::string>{"phase A received 19 < gate 20 (pairs without target sydney); failed pairs: sfo→helsinki (not received)"});

    // Every target pair delivered: the fault did not bite, which is flagged (not blocking).
    w.run.phase_a = w.phase_a({});
    v = score(limited(), {w.build()});
    CHECK(v.go());
    REQUIRE(v.scenarios[0].warnings.size() == 1);
    CHECK(v.scenarios[0].warnings[0].find("the fault did not bite: all 10 Phase A pairs of target sydney") == 0);
  }
  // baseline scores every pair.
  Window b("baseline", kSix);
  b.run.roles = {{"target", {"sydney"}}};
  b.run.phase_a = b.phase_a({{"sfo", "sydney", "not received"}});
  CHECK(messages(score(limited(), {b.build()}).scenarios[0]) ==
        std::vector<std::string>{"phase A received 29 < gate 30; failed pairs: sfo→sydney (not received)"});
}

TEST_CASE("a window that did not settle fails closed, naming each node and what was pending", "[gates][scorer]") {
  Window w("fanout_burst", kThree);
  auto run = w.build();
  run.settle.recorded = true;
  run.settle.max_secs = 30;
  run.settle.waited_secs = 30.2;
  run.settle.settled = true;
  CHECK(score(limited(), {run}).go());
  run.settle.settled = false;
  run.settle.pending = {{"sfo", {"dispatcher pubsub: received 120 > completed 100 + timed_out 0", "data_tx: 3 frames in flight"}}};
  RunVerdict v = score(limited(), {run});
  CHECK_FALSE(v.go());
  CHECK(messages(v.scenarios[0]) ==
        std::vector<std::string>{"sfo: work still pending when the window closed after 30.2s: dispatcher pubsub: received 120 > "
                                 "completed 100 + timed_out 0; data_tx: 3 frames in flight"});
  CHECK(v.scenarios[0].violations[0].rule == kWindowSettled);
  CHECK(v.scenarios[0].violations[0].evidence == "scenarios/fanout_burst/scenario.json");
  auto j = v.to_json({run});
  CHECK(j["scenarios"][0]["settle"]["settled"] == false);
  // Bundles from before windows settled have no record: nothing to score.
  run.settle = {};
  CHECK(score(limited(), {run}).go());
}

TEST_CASE("an operator profile applies only the rules it has", "[gates][scorer]") {
  GateProfile p = parse_profile("name = \"dispatcher-only\"\n[thresholds]\nmax_dispatcher_timed_out_delta = 0\n", "ops.toml");
  Window w("baseline", kThree);
  w.run.phase_a = nullptr;  // no Phase A rule: not needed
  w.post["sfo"].dropped = 9;
  w.post["sfo"].per_peer = 900;
  w.post["sfo"].suppressed = 900;
  w.post["sfo"].high_water = 9;
  RunVerdict v = score(p, {w.build()});
  CHECK(v.go());
  REQUIRE(v.scenarios[0].rules.size() == 1);
  CHECK(v.scenarios[0].rules[0].rule == kDispatcherTimedOut);
  CHECK(v.thresholds == json{{kDispatcherTimedOut, 0}});
  w.post["nyc"].timed_out = 1;
  CHECK(messages(score(p, {w.build()}).scenarios[0]) == std::vector<std::string>{"nyc: dispatcher_timed_out delta 1 > gate 0"});
}

TEST_CASE("no scenarios, or a scenario with no nodes, is NO-GO", "[gates][scorer]") {
  RunVerdict v = score(limited(), {});
  CHECK_FALSE(v.go());
  CHECK(v.to_json({})["verdict"] == "NO-GO");
  Window w("fanout_burst", {});
  v = score(limited(), {w.build()});
  CHECK(messages(v.scenarios[0]) == std::vector<std::string>{"fanout_burst: no nodes were scored"});
  CHECK_FALSE(v.go());
}

TEST_CASE("verdict.json carries what the renderers need", "[gates][scorer]") {
  Window w("fanout_burst", kThree);
  w.run.metrics = {{"burst_messages", 200}};
  w.run.faults = {{"sfo", "delay", "1500ms", 10, 20}};
  w.run.started_unix = 100;
  w.run.ended_unix = 160;
  w.post["sfo"].timed_out = 7;
  ScenarioRun run = w.build();
  RunVerdict v = score(limited(), {run});
  json j = v.to_json({run});
  CHECK(j["gate"] == "limited-production");
  CHECK(j["gate_source"] == (kRepo / "gates" / "profiles" / "limited-production.toml").string());
  CHECK(j["nodes"] == json(kThree));
  json s = j["scenarios"][0];
  CHECK(s["name"] == "fanout_burst");
  CHECK(s["status"] == "FAIL");
  CHECK(s["metrics"] == w.run.metrics);
  CHECK(s["faults"] == json::array({{{"node", "sfo"}, {"kind", "delay"}, {"detail", "1500ms"}, {"start_unix", 10.0}, {"end_unix", 20.0}}}));
  CHECK(s["started_unix"] == 100.0);
  CHECK(s["violations"][0] == json{{"scenario", "fanout_burst"}, {"rule", kDispatcherTimedOut}, {"node", "sfo"},
                                   {"observed", "7"}, {"threshold", "5"},
                                   {"message", "sfo: dispatcher_timed_out delta 7 > gate 5"},
                                   {"evidence", "diagnostics/fanout_burst/sfo-pre.json diagnostics/fanout_burst/sfo-post.json"}});
  CHECK(s["rules"][0] == json{{"rule", kDispatcherTimedOut}, {"status", "fail"}, {"worst_node", "sfo"}, {"observed", "7"}, {"threshold", "5"}});
  json node = s["nodes"]["sfo"];
  for (auto* key : {"pre", "post", "delta", "ratios", "text", "gossip_pre_ok", "gossip_post_ok", "conn_pre_ok", "conn_post_ok",
                    "counter_reset", "problems"})
    CHECK(node.contains(key));
  CHECK(node["delta"]["dispatcher_timed_out"] == 7);
  CHECK(node["post"]["pubsub_workers"] == 8);
  CHECK(node["text"]["transport_peers_top3"] == "<64hex>(rtt=84ms,loss=0ppm,idle=80ms)");
  CHECK(node["conn_post_ok"] == true);
}
