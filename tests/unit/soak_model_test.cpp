// soak.json (gates/soak_model.h): one spelling per enum value, windows and
// config back from their JSON unchanged on every field ("inf" and unknowns
// included: `proof rescore` re-evaluates what it reads), and errors that name
// the field.
#include <catch2/catch.hpp>

#include <cmath>

#include "gates/soak_accounting.h"
#include "gates/soak_policy.h"
#include "tests/unit/soak_fixtures.h"

using namespace x0x::testing::soak;
using nlohmann::json;

namespace {

void same(const std::optional<AccountingSample>& a, const std::optional<AccountingSample>& b) {
  REQUIRE(a.has_value() == b.has_value());
  if (!a) return;
  CHECK(a->completed == b->completed);
  CHECK(a->timed_out == b->timed_out);
  CHECK(a->dropped_full == b->dropped_full);
  CHECK(a->per_peer_timeout == b->per_peer_timeout);
  CHECK(a->uptime_secs == b->uptime_secs);
  CHECK(a->unix_time == b->unix_time);
}

void same(const NodeWindow& a, const NodeWindow& b) {
  same(a.pre, b.pre);
  same(a.post, b.post);
  CHECK(a.disp_to == b.disp_to);
  CHECK(a.drop_full == b.drop_full);
  CHECK(a.pp_to == b.pp_to);
  CHECK(a.completed == b.completed);
  CHECK(a.suppressed == b.suppressed);
  CHECK(a.suppressed_ratio == b.suppressed_ratio);
  CHECK(a.suppressed_topics == b.suppressed_topics);
  CHECK(a.transport_peers == b.transport_peers);
  CHECK(a.transport_rtt_ms == b.transport_rtt_ms);
  CHECK(a.transport_loss_ppm == b.transport_loss_ppm);
  CHECK(a.workers == b.workers);
  CHECK(a.top_suppressed_topics == b.top_suppressed_topics);
  CHECK(a.phase_a_delivered == b.phase_a_delivered);
  CHECK(a.phase_a_expected == b.phase_a_expected);
  CHECK(a.phase_a_p50_ms == b.phase_a_p50_ms);
  CHECK(a.phase_a_p99_ms == b.phase_a_p99_ms);
  CHECK(a.rss_kb == b.rss_kb);
  CHECK(a.cpu_seconds == b.cpu_seconds);
}

void same(const SoakWindow& a, const SoakWindow& b) {
  CHECK(a.index == b.index);
  CHECK(a.slot_unix == b.slot_unix);
  CHECK(a.start_unix == b.start_unix);
  CHECK(a.end_unix == b.end_unix);
  CHECK(a.state == b.state);
  CHECK(a.verdict == b.verdict);
  CHECK(a.warmup == b.warmup);
  CHECK(a.exit_code == b.exit_code);
  CHECK(a.fleet_epoch == b.fleet_epoch);
  CHECK(a.scenario == b.scenario);
  CHECK(a.note == b.note);
  CHECK(a.phase_a_sent == b.phase_a_sent);
  CHECK(a.phase_a_received == b.phase_a_received);
  CHECK(a.phase_a_expected == b.phase_a_expected);
  CHECK(a.phase_a_p50_ms == b.phase_a_p50_ms);
  CHECK(a.phase_a_p99_ms == b.phase_a_p99_ms);
  CHECK(a.phase_a_failed_pairs == b.phase_a_failed_pairs);
  REQUIRE(a.violations.size() == b.violations.size());
  for (std::size_t i = 0; i < a.violations.size(); ++i) {
    CHECK(a.violations[i].rule == b.violations[i].rule);
    CHECK(a.violations[i].node == b.violations[i].node);
    CHECK(a.violations[i].observed == b.violations[i].observed);
    CHECK(a.violations[i].threshold == b.violations[i].threshold);
    CHECK(a.violations[i].message == b.violations[i].message);
    CHECK(a.violations[i].cls == b.violations[i].cls);
  }
  CHECK(a.node_order == b.node_order);
  REQUIRE(a.nodes.size() == b.nodes.size());
  for (auto& [name, n] : a.nodes) {
    INFO("node " << name);
    REQUIRE(b.nodes.count(name));
    same(n, b.nodes.at(name));
  }
}

// Every field set, none to its default; +inf and unknowns where the schema allows them.
SoakWindow full_window() {
  SoakWindow w = no_go_window(7, {dispatcher_violation("beta", "4"), phase_a_violation("sent", 5)});
  w.violations.push_back({"scenario_errored", "", "unknown", "", "scenario errored: phase A exit code 2", ViolationClass::error});
  w.violations.push_back(drop_violation());
  w.violations.push_back({"max_suppressed_peers_steady", "gamma", "250", "200", "…", ViolationClass::other});
  w.slot_unix = kT0 + 6 * kInterval + 0.5;
  w.end_unix = w.start_unix + 181.25;
  w.exit_code = 1;
  w.fleet_epoch = 2;
  w.scenario = "fanout_burst";
  w.note = "ran late: \"slot 6\" overran";
  w.phase_a_sent = 5;
  w.phase_a_received = -1;
  w.phase_a_expected = 6;
  w.phase_a_p50_ms = 41.5;
  w.phase_a_p99_ms = INFINITY;
  w.phase_a_failed_pairs = {{"beta", "gamma"}, {"gamma", "alpha"}};
  w.node_order = {"gamma", "alpha", "beta"};
  NodeWindow& a = w.nodes["alpha"];
  a.pre = sample(1000.5, 3, 1, 7, kT0 + 10, 3600.25);
  a.post = sample(2000, 4, 1, 9, kT0 + 190, std::nullopt);
  a.disp_to = 1;
  a.drop_full = 0;
  a.pp_to = 2;
  a.completed = 999.5;
  a.suppressed = 3;
  a.suppressed_ratio = INFINITY;
  a.suppressed_topics = 2;
  a.transport_peers = 2;
  a.transport_rtt_ms = 12.125;
  a.transport_loss_ppm = 0;
  a.workers = 4;
  a.top_suppressed_topics = "x0x.a:2 | x0x.b:1";
  a.phase_a_delivered = 2;
  a.phase_a_expected = 2;
  a.phase_a_p50_ms = 30;
  a.phase_a_p99_ms = 80;
  a.rss_kb = 51200;
  a.cpu_seconds = 3.75;
  NodeWindow& b = w.nodes["beta"];  // mostly unknown
  b.post = sample(10, 0, 0, 0, kT0 + 191);
  b.transport_rtt_ms = INFINITY;
  b.phase_a_delivered = 1;
  b.phase_a_expected = 2;
  return w;
}

// Through text, as soak.json is.
json through_text(const json& j) { return json::parse(j.dump(2)); }

}  // namespace

TEST_CASE("every enum value has one spelling and parses back", "[soak][model]") {
  for (auto s : {WindowState::ran, WindowState::missing, WindowState::skipped, WindowState::interrupted})
    CHECK(parse_window_state(to_string(s)) == s);
  for (auto c : {WindowClass::clean, WindowClass::tolerated_dispatcher, WindowClass::tolerated_phase_a,
                 WindowClass::tolerated_infra_phase_a, WindowClass::effective_failed, WindowClass::warmup, WindowClass::not_counted})
    CHECK(parse_window_class(to_string(c)) == c);
  for (auto c : {ViolationClass::dispatcher, ViolationClass::phase_a, ViolationClass::drop, ViolationClass::error, ViolationClass::other})
    CHECK(parse_violation_class(to_string(c)) == c);
  CHECK(to_string(WindowState::missing) == "missing");
  CHECK(to_string(WindowClass::tolerated_infra_phase_a) == "tolerated_infra_phase_a");
  CHECK(to_string(ViolationClass::phase_a) == "phase_a");
  CHECK_FALSE(parse_window_state("MISSING"));
  CHECK_FALSE(parse_window_class("tolerated"));
  CHECK_FALSE(parse_violation_class(""));
}

TEST_CASE("a window comes back from its JSON unchanged on every field", "[soak][model][json]") {
  SoakWindow w = full_window();
  SECTION("ran, NO-GO") {}
  SECTION("ran, no verdict found") { w.verdict.reset(); }
  SECTION("missing") {
    w.state = WindowState::missing;
    w.verdict.reset();
  }
  SECTION("skipped, warm-up") {
    w.state = WindowState::skipped;
    w.verdict.reset();
    w.warmup = true;
    w.nodes.clear();
    w.node_order.clear();
  }
  SoakWindow back = window_from_json(through_text(window_json(w, nullptr, std::nullopt)));
  same(w, back);
}

TEST_CASE("window JSON: the timeline's columns, inf as a string, unknown as null", "[soak][model][json]") {
  SoakWindow w = full_window();
  auto accounting = account_windows({w});
  json j = through_text(window_json(w, &accounting[0], WindowClass::effective_failed));
  CHECK(j["dir"] == "windows/007");
  CHECK(j["verdict"] == "NO-GO");
  CHECK(j["state"] == "ran");
  CHECK(j["phase_a"]["sent"] == 5);
  CHECK(j["phase_a"]["received"].is_null());
  CHECK(j["phase_a"]["p99_ms"] == "inf");
  CHECK(j["phase_a"]["failed_pairs"] == json::parse(R"([["beta","gamma"],["gamma","alpha"]])"));
  CHECK(j["violations"][2]["class"] == "error");
  CHECK(j["nodes"]["alpha"]["suppressed_ratio"] == "inf");
  CHECK(j["nodes"]["alpha"]["post"]["uptime_secs"].is_null());
  CHECK(j["nodes"]["beta"]["pre"].is_null());
  CHECK(j["nodes"]["gamma"]["disp_to"].is_null());
  CHECK(j["scenario_summary"]["max_transport_rtt_ms"] == "inf");
  CHECK(j["scenario_summary"]["max_suppressed_ratio"] == "inf");
  CHECK(j["scenario_summary"]["sum_disp_to_delta"] == 1);
  CHECK(j["scenario_summary"]["max_workers"] == 4);
  CHECK(j["scenario_summary"]["max_transport_loss_ppm"] == 0);
  CHECK(j["scenario_summary"]["max_drop_full_delta"] == 0);
  CHECK(j["scenario_summary"]["top_suppressed_topics"] == "x0x.a:2 | x0x.b:1");
  CHECK(j["scenario_summary"]["violations"] == 5);
  CHECK(j["continuous"]["has_data"] == true);
  CHECK(j["continuous"]["gaps"] == json::parse(R"(["beta:baseline"])"));
  CHECK(j["continuous"]["nodes"]["alpha"]["disp"] == 1);
  CHECK(j["continuous"]["nodes"]["alpha"]["from_unix"] == kT0 + 10);
  CHECK(j["class"] == "effective_failed");

  json bare = window_json(w, nullptr, std::nullopt);
  CHECK_FALSE(bare.contains("continuous"));
  CHECK_FALSE(bare.contains("class"));
  w.state = WindowState::missing;
  CHECK(window_json(w, nullptr, std::nullopt)["verdict"] == "MISSING");
  w.state = WindowState::skipped;
  CHECK(window_json(w, nullptr, std::nullopt)["verdict"] == "SKIPPED");
  w.state = WindowState::interrupted;
  CHECK(window_json(w, nullptr, std::nullopt)["verdict"] == "INTERRUPTED");
  w.state = WindowState::ran;
  w.verdict.reset();
  CHECK(window_json(w, nullptr, std::nullopt)["verdict"] == "?");
}

TEST_CASE("window JSON errors name the field", "[soak][model][json]") {
  json j = window_json(full_window(), nullptr, std::nullopt);
  auto fails_naming = [](const json& bad, const std::string& field) {
    try {
      window_from_json(bad);
      FAIL("accepted: " << field);
    } catch (const std::runtime_error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(field) != std::string::npos);
    }
  };
  json bad = j;
  bad["nodes"]["alpha"]["pre"].erase("completed");
  fails_naming(bad, "window 7: nodes.alpha.pre.completed: missing");
  bad = j;
  bad["nodes"]["alpha"]["transport_rtt_ms"] = "fast";
  fails_naming(bad, "nodes.alpha.transport_rtt_ms");
  bad = j;
  bad["state"] = "done";
  fails_naming(bad, "state");
  bad = j;
  bad["violations"][1]["class"] = "tail";
  fails_naming(bad, "violations[1].class");
  bad = j;
  bad["phase_a"]["failed_pairs"][0] = json::array({"beta"});
  fails_naming(bad, "phase_a.failed_pairs[0]");
  bad = j;
  bad.erase("index");
  fails_naming(bad, "index: missing");
  bad = j;
  bad["exit_code"] = 1.5;
  fails_naming(bad, "exit_code");
  fails_naming(json::array(), "(top level)");
}

TEST_CASE("the config comes back from its JSON", "[soak][model][json]") {
  SoakConfig c = config(24, 1);
  c.variant = "fixed-roster";
  c.duration_secs = 43200.5;
  SoakConfig back = config_from_json(through_text(config_json(c)));
  CHECK(back.gate == c.gate);
  CHECK(back.gate_source == c.gate_source);
  CHECK(back.variant == c.variant);
  CHECK(back.duration_secs == c.duration_secs);
  CHECK(back.interval_secs == c.interval_secs);
  CHECK(back.warmup_windows == c.warmup_windows);
  CHECK(back.target_windows == c.target_windows);
  CHECK(back.expected_pairs == c.expected_pairs);
  CHECK(back.nodes == c.nodes);
  CHECK(back.started_unix == c.started_unix);
  json bad = config_json(c);
  bad.erase("interval_secs");
  CHECK_THROWS_WITH(config_from_json(bad), Catch::Contains("interval_secs"));
}

TEST_CASE("result JSON: the policy, the lists, the rules: an infinite ratio is \"inf\"", "[soak][model][json]") {
  SoakWindow w = go_window(1);
  w.nodes["alpha"].pre = sample(0, 0);
  w.nodes["alpha"].post = sample(0, 3);  // 3 timeouts, no completions
  SoakWindow gone = missing_window(2);
  auto r = evaluate_soak(config(2), {w, gone});
  json j = through_text(result_json(r));
  auto& p = j["policy"];
  CHECK(p["dispatcher_noise"]["verdict"] == "legacy-count-ok");
  CHECK(p["dispatcher_noise"]["total_ratio"] == "inf");
  CHECK(p["dispatcher_noise"]["total_disp"] == 3);
  CHECK(p["dispatcher_noise"]["anomaly_windows"] == json::array());
  CHECK(p["aggregate_phase_a"]["status"] == "PASS");
  CHECK(p["aggregate_phase_a"]["target"] == kPairs);
  CHECK(p["burn_rate"]["budget_consumed"] == "inf");
  CHECK(p["burn_rate"]["any_fired"] == false);
  CHECK(p["burn_rate"]["alerts"].size() == 3);
  CHECK(p["burn_rate"]["alerts"][0]["name"] == "page-fast");
  CHECK(p["burn_rate"]["alerts"][0]["guarded_windows"] == json::array({1}));
  CHECK(p["burn_rate"]["alerts"][0]["max_long_burn"] == "inf");
  CHECK(p["missing_windows"] == json::array({2}));
  CHECK(p["effective_failed"] == json::array({2}));
  CHECK(p["unaccounted_gap_windows"] == json::array({2}));
  CHECK(p["skipped_windows"] == json::array());
  CHECK(p["cumulative"]["dispatcher_timeouts"] == 3);
  CHECK(p["cumulative"]["timeout_ratio"] == "inf");
  CHECK(p["cumulative"]["per_peer_ratio"] == 0);
  CHECK(p["overall_pass"] == false);
  REQUIRE(j["rules"].size() == 7);
  CHECK(j["rules"][0] == json{{"rule", "windows_ran"}, {"status", "pass"}, {"detail", "1 window ran"}});
  CHECK(j["rules"][1]["status"] == "fail");
  CHECK(j["rules"][1]["detail"] == "missing: 2");
}
