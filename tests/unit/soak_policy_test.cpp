// The soak's judgement (spec gates-and-proofs.md §5.3–§5.6): the dispatcher
// noise policy's verdicts, the window buckets (with our per-pair infra
// attribution), the aggregate Phase A SLO at its boundaries, the overall
// rules, and the burn-rate alerts reported beside them.
#include <catch2/catch.hpp>

#include <cmath>

#include "gates/soak_accounting.h"
#include "gates/soak_policy.h"
#include "tests/unit/soak_fixtures.h"

using namespace x0x::testing::soak;

namespace {

// (timeouts, completions) per counted window, indices from 1.
std::vector<WindowLoad> loads(const std::vector<std::pair<double, double>>& v) {
  std::vector<WindowLoad> out;
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back({static_cast<int>(i + 1), v[i].first, v[i].second, 0, 0, 0});
  return out;
}

const SoakRule& rule(const SoakResult& r, const std::string& name) {
  for (auto& x : r.rules)
    if (x.rule == name) return x;
  FAIL("no rule " << name);
  throw;
}

WindowClass classify(const SoakWindow& w, bool aggregate_ok, WindowAccounting a = {}) {
  return classify_window(w, a, kPairs, aggregate_ok);
}

// A NO-GO window whose Phase A received 5 of 6 with the pair beta→gamma failed.
SoakWindow short_phase_a(int index) {
  SoakWindow w = no_go_window(index, {phase_a_violation("received", 5)});
  w.phase_a_received = 5;
  w.phase_a_failed_pairs = {{"beta", "gamma"}};
  return w;
}

// n GO windows with counters chained, (timeouts, completions) per node per window.
std::vector<SoakWindow> clean_soak(int n, std::pair<double, double> per_node = {0, 100000}) {
  std::vector<SoakWindow> ws;
  for (int i = 1; i <= n; ++i) ws.push_back(go_window(i));
  chain(ws, std::vector<std::pair<double, double>>(n, per_node));
  return ws;
}

}  // namespace

// ---- §5.3 dispatcher noise policy ------------------------------------------

TEST_CASE("noise policy: up to 5 timeouts in all is legacy-count-ok", "[soak][policy][noise]") {
  auto p = dispatcher_noise_policy(loads({{2, 1e6}, {3, 1e6}, {0, 1e6}}));
  CHECK(p.verdict == "legacy-count-ok");
  CHECK(p.passed);
  CHECK(p.total_disp == 5);
  CHECK(p.total_completed == 3e6);
  CHECK(p.max_window_ratio == Approx(3e-6));
  CHECK(p.anomaly_windows.empty());
}

TEST_CASE("noise policy: more than 5 but a fleet rate ≤ 1e-4 is adaptive-rate-ok", "[soak][policy][noise]") {
  auto p = dispatcher_noise_policy(loads({{4, 1e6}, {4, 1e6}, {4, 1e6}}));
  CHECK(p.verdict == "adaptive-rate-ok");
  CHECK(p.passed);
  CHECK(p.total_ratio == Approx(4e-6));
}

TEST_CASE("noise policy: timeouts in windows without completions only show in the fleet rate", "[soak][policy][noise]") {
  // §9.1 item 11: the per-window checks skip a window with 0 completions, the totals do not.
  auto p = dispatcher_noise_policy(loads({{0, 1000}, {10, 0}, {0, 1000}}));
  CHECK(p.verdict == "fleet-rate-high");
  CHECK_FALSE(p.passed);
  CHECK(p.max_window_ratio == 0);
  CHECK(p.anomaly_windows.empty());
  CHECK(p.total_ratio == Approx(10.0 / 2000));
}

TEST_CASE("noise policy: timeouts and no completions at all is an infinite ratio", "[soak][policy][noise]") {
  SECTION("few: still legacy-count-ok") {
    auto p = dispatcher_noise_policy(loads({{3, 0}, {0, 0}}));
    CHECK(std::isinf(p.total_ratio));
    CHECK(p.verdict == "legacy-count-ok");
    CHECK(p.max_window_ratio == 0);  // the window with completions 0 is skipped
  }
  SECTION("many: fleet-rate-high") {
    auto p = dispatcher_noise_policy(loads({{6, 0}}));
    CHECK(std::isinf(p.total_ratio));
    CHECK(p.verdict == "fleet-rate-high");
  }
  SECTION("nothing at all: ratio 0") {
    auto p = dispatcher_noise_policy(loads({{0, 0}}));
    CHECK(p.total_ratio == 0);
    CHECK(p.verdict == "legacy-count-ok");
  }
}

TEST_CASE("noise policy: one window above 1e-4 is window-rate-high even under the count cap", "[soak][policy][noise]") {
  auto p = dispatcher_noise_policy(loads({{0, 1e6}, {2, 10000}, {0, 1e6}}));
  CHECK(p.total_disp <= 5);
  CHECK(p.max_window_ratio == Approx(2e-4));
  CHECK(p.verdict == "window-rate-high");
  CHECK_FALSE(p.passed);
}

TEST_CASE("noise policy: three anomalies in a row are consecutive-anomalies, two are not", "[soak][policy][noise]") {
  // Baseline ratio 1e-5: the threshold is the 5e-5 floor; 9e-5 stays under the 1e-4 window cap.
  SECTION("three") {
    auto p = dispatcher_noise_policy(loads({{1, 1e5}, {1, 1e5}, {9, 1e5}, {9, 1e5}, {9, 1e5}, {1, 1e5}}));
    CHECK(p.max_consecutive_anomalies == 3);
    CHECK(p.anomaly_windows == std::vector<int>{3, 4, 5});
    CHECK(p.verdict == "consecutive-anomalies");
    CHECK_FALSE(p.passed);
  }
  SECTION("two, then a normal window resets the run") {
    auto p = dispatcher_noise_policy(loads({{1, 1e5}, {9, 1e5}, {9, 1e5}, {1, 1e5}, {9, 1e5}, {9, 1e5}}));
    CHECK(p.max_consecutive_anomalies == 2);
    CHECK(p.anomaly_windows == std::vector<int>{2, 3, 5, 6});
    CHECK(p.verdict == "adaptive-rate-ok");  // 38 timeouts in 6e5 completions
  }
  SECTION("a window without completions does not break the run") {
    auto p = dispatcher_noise_policy(loads({{1, 1e5}, {9, 1e5}, {9, 1e5}, {4, 0}, {9, 1e5}}));
    CHECK(p.max_consecutive_anomalies == 3);
    CHECK(p.verdict == "consecutive-anomalies");
  }
}

TEST_CASE("noise policy: the adaptive baseline is the upper median of the earlier normal windows", "[soak][policy][noise]") {
  // Normal ratios 0.5, 1, 2, 2.5 (×1e-5): the upper median 2e-5 puts the threshold at 8e-5
  // (the lower median, 1e-5, would leave it at the 5e-5 floor and make the 7e-5 windows anomalies).
  auto p = dispatcher_noise_policy(loads({{1, 2e5}, {1, 1e5}, {2, 1e5}, {2.5, 1e5}, {7, 1e5}, {7, 1e5}, {7, 1e5}}));
  CHECK(p.anomaly_windows.empty());
  CHECK(p.max_consecutive_anomalies == 0);
  CHECK(p.verdict == "adaptive-rate-ok");
  CHECK(p.total_ratio == Approx(27.5 / 8e5));
}

TEST_CASE("noise policy: an anomaly does not join the baseline", "[soak][policy][noise]") {
  // Window 2 is an anomaly (9e-5 > 4 × 2e-5); had it joined, the upper median of
  // {2e-5, 9e-5} would lift the threshold to 3.6e-4 and window 3 would pass.
  auto p = dispatcher_noise_policy(loads({{2, 1e5}, {9, 1e5}, {9, 1e5}, {0, 1e5}}));
  CHECK(p.anomaly_windows == std::vector<int>{2, 3});
  CHECK(p.max_consecutive_anomalies == 2);
}

// ---- §5.4 classification ----------------------------------------------------

TEST_CASE("violation classes come from the rule name", "[soak][policy][classify]") {
  CHECK(classify_rule("max_dispatcher_timed_out_delta", false) == ViolationClass::dispatcher);
  CHECK(classify_rule("min_phase_a_pairs", false) == ViolationClass::phase_a);
  CHECK(classify_rule("max_recv_pump_dropped_full_delta", false) == ViolationClass::drop);
  CHECK(classify_rule("scenario_errored", false) == ViolationClass::error);
  CHECK(classify_rule("min_phase_a_pairs", true) == ViolationClass::error);
  CHECK(classify_rule("max_per_peer_timeout_delta", false) == ViolationClass::other);
  CHECK(classify_rule("", false) == ViolationClass::other);
}

TEST_CASE("classification: GO is clean, dispatcher-only NO-GO is tolerated while drops stay 0", "[soak][policy][classify]") {
  CHECK(classify(go_window(1), false) == WindowClass::clean);
  SoakWindow w = no_go_window(1, {dispatcher_violation("alpha"), dispatcher_violation("beta", "1")});
  CHECK(classify(w, false) == WindowClass::tolerated_dispatcher);
  SECTION("a continuous drop makes it a failure") {
    WindowAccounting a;
    a.has_data = true;
    a.max_drop = 1;
    CHECK(classify(w, true, a) == WindowClass::effective_failed);
  }
  SECTION("without accounting, the scenario's drop decides") {
    w.nodes["gamma"].drop_full = 2;
    CHECK(classify(w, true) == WindowClass::effective_failed);
  }
  SECTION("the continuous accounting overrides the scenario's drop") {
    w.nodes["gamma"].drop_full = 2;
    WindowAccounting a;
    a.has_data = true;
    CHECK(classify(w, false, a) == WindowClass::tolerated_dispatcher);
  }
}

TEST_CASE("classification: a Phase A tail is tolerated when the aggregate holds", "[soak][policy][classify]") {
  SoakWindow w = short_phase_a(1);
  CHECK(classify(w, true) == WindowClass::tolerated_phase_a);
  w.violations.push_back(dispatcher_violation());
  CHECK(classify(w, true) == WindowClass::tolerated_phase_a);  // not only dispatcher, and the counts are short
  CHECK(classify(w, false) == WindowClass::effective_failed);  // no transport degraded either
}

TEST_CASE("classification: a malformed Phase A violation is not a Phase A tail", "[soak][policy][classify]") {
  SoakWindow w = short_phase_a(1);
  SECTION("observed disagrees with the window's count") { w.violations = {phase_a_violation("received", 4)}; }
  SECTION("observed unknown") { w.violations[0].observed = "unknown"; }
  SECTION("observed not below the bar") { w.violations = {phase_a_violation("received", 5, 5)}; }
  SECTION("the sentence names sent, the count is received's") { w.violations = {phase_a_violation("sent", 5)}; }
  CHECK(classify(w, true) == WindowClass::effective_failed);
}

TEST_CASE("classification: a Phase A error counts as a tail only while the counts are short", "[soak][policy][classify]") {
  WindowViolation error{"scenario_errored", "", "unknown", "", "scenario errored: phase A exit code 1", ViolationClass::error};
  SoakWindow w = no_go_window(1, {error});
  CHECK(classify(w, true) == WindowClass::effective_failed);  // 6/6: the error is something else
  w.phase_a_sent = 3;
  CHECK(classify(w, true) == WindowClass::tolerated_phase_a);
  w.violations[0].message = "scenario errored: ssh timed out";
  CHECK(classify(w, true) == WindowClass::effective_failed);
}

TEST_CASE("classification: infra tolerance needs a degraded endpoint on every failed pair (ours)", "[soak][policy][classify]") {
  SoakWindow w = short_phase_a(1);  // beta→gamma failed
  SECTION("an endpoint's loss ≥ 5000 ppm") {
    w.nodes["gamma"].transport_loss_ppm = 5000;
    CHECK(classify(w, false) == WindowClass::tolerated_infra_phase_a);
  }
  SECTION("an endpoint's RTT ≥ 2000 ms") {
    w.nodes["beta"].transport_rtt_ms = 2000;
    CHECK(classify(w, false) == WindowClass::tolerated_infra_phase_a);
    w.nodes["beta"].transport_rtt_ms = 1999;
    CHECK(classify(w, false) == WindowClass::effective_failed);
  }
  SECTION("a degraded node off the failed pairs does not excuse them (the reference's rule would)") {
    w.nodes["alpha"].transport_loss_ppm = 20000;
    CHECK(classify(w, false) == WindowClass::effective_failed);
    w.phase_a_failed_pairs.clear();  // no pairs recorded: the reference's any-node rule
    CHECK(classify(w, false) == WindowClass::tolerated_infra_phase_a);
  }
  SECTION("one failed pair without a degraded endpoint is enough to refuse") {
    w.nodes["gamma"].transport_loss_ppm = 9000;
    w.phase_a_failed_pairs.push_back({"alpha", "beta"});
    CHECK(classify(w, false) == WindowClass::effective_failed);
  }
  SECTION("unknown transport is not degraded") {
    w.phase_a_failed_pairs.clear();
    CHECK(classify(w, false) == WindowClass::effective_failed);
  }
}

TEST_CASE("classification: everything else is effective_failed: warm-up and empty slots are not counted",
          "[soak][policy][classify]") {
  CHECK(classify(no_go_window(1, {}), true) == WindowClass::effective_failed);  // NO-GO, nothing parsed
  CHECK(classify(no_go_window(1, {drop_violation()}), true) == WindowClass::effective_failed);
  CHECK(classify(no_go_window(1, {dispatcher_violation(), drop_violation()}), true) == WindowClass::effective_failed);
  CHECK(classify(missing_window(1), true) == WindowClass::effective_failed);
  SoakWindow unknown = go_window(1);
  unknown.verdict.reset();  // ran, no verdict found: the reference's "?"
  CHECK(classify(unknown, true) == WindowClass::effective_failed);
  SoakWindow warm = no_go_window(1, {drop_violation()});
  warm.warmup = true;
  CHECK(classify(warm, true) == WindowClass::warmup);
  CHECK(classify(skipped_window(2), true) == WindowClass::not_counted);
  SoakWindow interrupted = go_window(3);
  interrupted.state = WindowState::interrupted;
  CHECK(classify(interrupted, true) == WindowClass::not_counted);
}

// ---- §5.5 aggregate Phase A ---------------------------------------------------

TEST_CASE("aggregate Phase A: PASS at 98 %, INFRA-DEGRADED down to 70 % with an infra window, else FAIL",
          "[soak][policy][aggregate]") {
  SoakWindow w = go_window(1);
  w.phase_a_expected = 100;
  w.phase_a_sent = 100;
  auto with = [&](long received, std::size_t tolerated_phase_a, std::size_t infra) {
    w.phase_a_received = received;
    return aggregate_phase_a(config(1), {w}, tolerated_phase_a, infra);
  };
  auto g = with(98, 0, 0);
  CHECK(g.target == 100);
  CHECK(g.recv_ratio == 0.98);
  CHECK(g.ok);
  CHECK(g.pass);
  CHECK(g.status == "PASS");
  g = with(97, 0, 0);
  CHECK_FALSE(g.ok);
  CHECK_FALSE(g.pass);
  CHECK(g.status == "FAIL");
  g = with(97, 0, 1);
  CHECK(g.infra_degraded);
  CHECK(g.pass);
  CHECK(g.status == "INFRA-DEGRADED (tolerated, ≥ 70% floor)");
  CHECK(with(70, 0, 1).status == "INFRA-DEGRADED (tolerated, ≥ 70% floor)");
  CHECK(with(69, 0, 1).status == "FAIL");
  CHECK(with(97, 1, 1).status == "FAIL");  // a tolerated Phase A window rules the infra pass out
  w.phase_a_sent = 69;
  CHECK(with(100, 0, 1).status == "FAIL");  // both ratios must hold the floor
}

TEST_CASE("aggregate Phase A: N per data row, MISSING and warm-up rows out, unknown counts as 0", "[soak][policy][aggregate]") {
  SoakWindow a = go_window(1), b = go_window(2), warm = go_window(3);
  a.phase_a_expected = 0;  // falls back to the config's n(n−1)
  b.phase_a_expected = 12;
  b.phase_a_sent = 12;
  b.phase_a_received = -1;
  warm.warmup = true;
  auto g = aggregate_phase_a(config(3), {a, b, missing_window(4), warm, skipped_window(5)}, 0, 0);
  CHECK(g.target == kPairs + 12);
  CHECK(g.sent == 6 + 12);
  CHECK(g.received == 6);
  CHECK_FALSE(g.ok);
  CHECK(aggregate_phase_a(config(1), {missing_window(1)}, 0, 0).status == "FAIL");  // target 0
}

// ---- §5.6 the overall verdict -------------------------------------------------

TEST_CASE("a clean soak is GO, its rules in the reference's order", "[soak][policy][overall]") {
  auto r = evaluate_soak(config(24), clean_soak(24, {1, 1000000}));
  std::vector<std::string> names;
  for (auto& x : r.rules) names.push_back(x.rule);
  CHECK(names == std::vector<std::string>{"windows_ran", "no_missing_windows", "no_effective_failed", "no_unaccounted_gaps",
                                          "dispatcher_noise_policy", "cumulative_drop_full", "aggregate_phase_a"});
  for (auto& x : r.rules) CHECK(x.passed);
  CHECK(r.overall_pass);
  CHECK(rule(r, "windows_ran").detail == "24 windows ran");
  CHECK(r.noise.verdict == "adaptive-rate-ok");  // 72 timeouts in 7.2e7 completions
  CHECK(r.cumulative_disp == 72);
  CHECK(r.cumulative_completed == 72e6);
  CHECK(r.aggregate.status == "PASS");
  CHECK(r.classes == std::vector<WindowClass>(24, WindowClass::clean));
}

TEST_CASE("MISSING windows make the soak NO-GO", "[soak][policy][overall]") {
  auto ws = clean_soak(6);
  ws[2] = missing_window(3);
  ws[4] = missing_window(5);
  auto r = evaluate_soak(config(6), ws);
  CHECK_FALSE(r.overall_pass);
  CHECK(r.missing == std::vector<int>{3, 5});
  CHECK(r.effective_failed == std::vector<int>{3, 5});
  CHECK_FALSE(rule(r, "no_missing_windows").passed);
  CHECK(rule(r, "no_missing_windows").detail == "missing: 3,5");
  CHECK(rule(r, "no_effective_failed").detail == "effective failed: 3,5");
  CHECK(r.aggregate.target == 4 * kPairs);  // MISSING rows are not data rows
  CHECK(r.aggregate.pass);
}

TEST_CASE("no window that ran is NO-GO", "[soak][policy][overall]") {
  auto r = evaluate_soak(config(2), {skipped_window(1), skipped_window(2)});
  CHECK_FALSE(rule(r, "windows_ran").passed);
  CHECK(rule(r, "windows_ran").detail == "0 windows ran");
  CHECK_FALSE(r.overall_pass);
  CHECK(r.skipped == std::vector<int>{1, 2});
}

TEST_CASE("the warm-up window runs but counts nowhere: its successor bridges from its post", "[soak][policy][overall]") {
  auto ws = clean_soak(4, {0, 1000});
  ws[0] = no_go_window(1, {drop_violation()});
  ws[0].warmup = true;
  ws[0].nodes["beta"].drop_full = 7;
  for (auto& n : ws[0].node_order) {
    ws[0].nodes[n].pre.reset();  // a baseline gap, in the warm-up only
    ws[0].nodes[n].post = sample(900, 0, 0, 0, ws[0].end_unix);
  }
  ws[1].nodes["alpha"].pre.reset();  // bridged from the warm-up's post
  SECTION("clean after it") {
    auto r = evaluate_soak(config(3, 1), ws);
    CHECK(r.classes[0] == WindowClass::warmup);
    CHECK(r.warmup == std::vector<int>{1});
    CHECK(r.effective_failed.empty());
    CHECK(r.accounting[0].unaccounted.size() == 3);
    CHECK(r.unaccounted_gap_windows.empty());
    CHECK(r.accounting[1].gaps == std::vector<std::string>{"alpha:pre"});
    CHECK(r.cumulative_drop == 0);
    CHECK(r.aggregate.target == 3 * kPairs);
    CHECK(rule(r, "windows_ran").detail == "3 windows ran");
    CHECK(r.overall_pass);
  }
  SECTION("a gap in the successor counts") {
    ws[1].nodes["beta"].post->timed_out = -1;  // below the warm-up's post: a reset
    auto r = evaluate_soak(config(3, 1), ws);
    CHECK(r.unaccounted_gap_windows == std::vector<int>{2});
    CHECK(rule(r, "no_unaccounted_gaps").detail == "unaccounted gaps: 2 (beta:counter_reset)");
    CHECK_FALSE(r.overall_pass);
  }
}

TEST_CASE("a skipped slot is bridged: not counted, not a failure", "[soak][policy][overall]") {
  auto ws = clean_soak(4, {0, 1000});
  ws[1] = skipped_window(2);
  for (auto& [name, n] : ws[2].nodes) n.pre = sample(0, 0);  // the pre says nothing: the post bridges from window 1
  auto r = evaluate_soak(config(4), ws);
  CHECK(r.classes[1] == WindowClass::not_counted);
  CHECK(r.skipped == std::vector<int>{2});
  CHECK(r.overall_pass);
  CHECK(r.accounting[2].sum_completed == 3 * 2000);  // window 1's post → window 3's post
  CHECK(rule(r, "windows_ran").detail == "3 windows ran");
}

TEST_CASE("a fresh fleet started by the soak is accounted: a fleet that restarted by itself is not", "[soak][policy][overall]") {
  auto ws = clean_soak(3, {0, 1000});
  for (auto& [name, n] : ws[2].nodes) {  // counters from 0 again
    n.pre = sample(0, 0, 0, 0, ws[2].start_unix);
    n.post = sample(1000, 0, 0, 0, ws[2].end_unix);
  }
  SECTION("soak-started: a later fleet epoch") {
    ws[2].fleet_epoch = 1;
    auto r = evaluate_soak(config(3), ws);
    CHECK(r.accounting[2].gaps.size() == 3);
    CHECK(r.unaccounted_gap_windows.empty());
    CHECK(r.overall_pass);
  }
  SECTION("by itself: counter resets") {
    auto r = evaluate_soak(config(3), ws);
    CHECK(r.unaccounted_gap_windows == std::vector<int>{3});
    CHECK(rule(r, "no_unaccounted_gaps").detail == "unaccounted gaps: 3 (alpha:counter_reset;beta:counter_reset;gamma:counter_reset)");
    CHECK_FALSE(r.overall_pass);
  }
}

TEST_CASE("tolerated windows keep the soak GO: the buckets are listed", "[soak][policy][overall]") {
  SECTION("dispatcher tail") {
    auto ws = clean_soak(3, {0, 1000000});
    ws[1].verdict = Verdict::no_go;
    ws[1].violations = {dispatcher_violation()};
    auto r = evaluate_soak(config(3), ws);
    CHECK(r.tolerated_dispatcher == std::vector<int>{2});
    CHECK(r.overall_pass);
  }
  SECTION("Phase A tail under a healthy aggregate") {
    auto ws = clean_soak(1);
    ws[0].verdict = Verdict::no_go;
    ws[0].phase_a_expected = 100;
    ws[0].phase_a_sent = 100;
    ws[0].phase_a_received = 99;
    ws[0].violations = {phase_a_violation("received", 99, 100)};
    auto r = evaluate_soak(config(1), ws);
    CHECK(r.tolerated_phase_a == std::vector<int>{1});
    CHECK(r.aggregate.status == "PASS");
    CHECK(r.overall_pass);
  }
  SECTION("infra-degraded Phase A: the aggregate passes on the 70 % floor") {
    auto ws = clean_soak(2);
    ws[1].verdict = Verdict::no_go;
    ws[1].phase_a_received = 5;
    ws[1].phase_a_failed_pairs = {{"beta", "gamma"}};
    ws[1].violations = {phase_a_violation("received", 5)};
    ws[1].nodes["gamma"].transport_rtt_ms = 2500;
    auto r = evaluate_soak(config(2), ws);
    CHECK(r.tolerated_infra == std::vector<int>{2});
    CHECK(r.aggregate.status == "INFRA-DEGRADED (tolerated, ≥ 70% floor)");
    CHECK(r.overall_pass);
    ws[1].nodes["gamma"].transport_rtt_ms = 10;
    ws[1].nodes["alpha"].transport_rtt_ms = 2500;  // off the failed pair
    r = evaluate_soak(config(2), ws);
    CHECK(r.effective_failed == std::vector<int>{2});
    CHECK(r.aggregate.status == "FAIL");
    CHECK_FALSE(r.overall_pass);
  }
}

TEST_CASE("cumulative drop-full gates the soak: totals fall back to the scenario fields", "[soak][policy][overall]") {
  SECTION("continuous") {
    auto ws = clean_soak(2, {0, 1000});
    ws[1].nodes["beta"].post->dropped_full += 1;
    auto r = evaluate_soak(config(2), ws);
    CHECK(r.cumulative_drop == 1);
    CHECK_FALSE(rule(r, "cumulative_drop_full").passed);
    CHECK(r.classes[1] == WindowClass::clean);  // a GO window with a drop the gate did not see
  }
  SECTION("scenario fallback: sums for timeouts and drops, the max for per-peer timeouts") {
    SoakWindow w = go_window(1);
    w.nodes["alpha"].disp_to = 2;
    w.nodes["beta"].disp_to = 1;
    w.nodes["gamma"].disp_to = -4;  // clamped
    w.nodes["alpha"].pp_to = 5;
    w.nodes["beta"].pp_to = 9;
    w.nodes["beta"].drop_full = 1;
    auto r = evaluate_soak(config(1), {w});
    CHECK_FALSE(r.accounting[0].has_data);
    CHECK(r.cumulative_disp == 3);
    CHECK(r.cumulative_pp == 9);
    CHECK(r.cumulative_drop == 1);
    CHECK(r.cumulative_completed == 0);
    CHECK_FALSE(rule(r, "cumulative_drop_full").passed);
    CHECK(r.noise.verdict == "legacy-count-ok");
  }
}

// ---- burn rate (ours, reported) -----------------------------------------------

TEST_CASE("burn-rate alert windows scale with the soak", "[soak][policy][burn]") {
  CHECK(alert_windows(24, 1.0 / 720) == 1);
  CHECK(alert_windows(24, 6.0 / 720) == 1);
  CHECK(alert_windows(24, 72.0 / 720) == 3);
  CHECK(alert_windows(24, 72.0 / 720 / 12) == 1);
  CHECK(alert_windows(20, 72.0 / 720) == 2);  // a whole number of windows stays
  CHECK(alert_windows(25, 72.0 / 720) == 3);  // 2.5 rounds up
  CHECK(alert_windows(1440, 1.0 / 720) == 2);
  CHECK(alert_windows(1440, 72.0 / 720 / 12) == 12);
  CHECK(alert_windows(0, 0.1) == 1);
}

TEST_CASE("burn-rate alerts on a 24-window soak", "[soak][policy][burn]") {
  std::vector<std::pair<double, double>> v(24, {0, 1e5});
  v[9] = {200, 1e5};  // window 10: 2e-3, burn 20
  v[14] = {80, 1e5};  // window 15: 8e-4, burn 8
  v[19] = {1, 10};    // window 20: 1 timeout in 10 completions, burn 1000
  BurnRate b = burn_rate(loads(v), 24);
  REQUIRE(b.alerts.size() == 3);
  auto& fast = b.alerts[0];
  auto& slow = b.alerts[1];
  auto& ticket = b.alerts[2];
  CHECK(fast.name == "page-fast");
  CHECK(fast.burn_threshold == 14.4);
  CHECK(fast.long_windows == 1);
  CHECK(fast.short_windows == 1);
  CHECK(fast.fired_windows == std::vector<int>{10});
  CHECK(fast.guarded_windows == std::vector<int>{20});
  CHECK(fast.max_long_burn == Approx(1000));
  CHECK(slow.name == "page-slow");
  CHECK(slow.burn_threshold == 6);
  CHECK(slow.fired_windows == std::vector<int>{10, 15});
  CHECK(slow.guarded_windows == std::vector<int>{20});
  CHECK(ticket.name == "ticket");
  CHECK(ticket.burn_threshold == 1);
  CHECK(ticket.long_windows == 3);
  CHECK(ticket.short_windows == 1);
  CHECK(ticket.fired_windows == std::vector<int>{10, 15});  // not 11: the short window has cooled
  CHECK(ticket.guarded_windows.empty());                     // window 20's long window has 2e5 completions
  CHECK(ticket.max_long_burn == Approx(200.0 / 3e5 / 1e-4));
  CHECK(b.any_fired());
  CHECK(b.budget_consumed == Approx(281 / (1e-4 * (23 * 1e5 + 10))));
}

TEST_CASE("burn rate: the low-volume guard holds back 1 timeout in 10 completions", "[soak][policy][burn]") {
  BurnRate b = burn_rate(loads({{1, 10}}), 24);
  for (auto& a : b.alerts) {
    CHECK(a.fired_windows.empty());
    CHECK(a.guarded_windows == std::vector<int>{1});
  }
  CHECK_FALSE(b.any_fired());
  CHECK(b.budget_consumed == Approx(1000));
  b = burn_rate(loads({{2, 100}}), 24);  // at the guard: fires
  CHECK(b.alerts[0].fired_windows == std::vector<int>{1});
}

TEST_CASE("burn rate: timeouts without completions burn infinitely, still guarded", "[soak][policy][burn]") {
  BurnRate b = burn_rate(loads({{5, 0}}), 24);
  CHECK(std::isinf(b.budget_consumed));
  CHECK(std::isinf(b.alerts[0].max_long_burn));
  CHECK(b.alerts[0].guarded_windows == std::vector<int>{1});
  CHECK_FALSE(b.any_fired());
  CHECK(burn_rate(loads({{0, 0}}), 24).budget_consumed == 0);
}

TEST_CASE("burn rate is reported, the reference policy decides the verdict", "[soak][policy][burn]") {
  // 3 timeouts in a window without completions: legacy-count-ok for §5.3 (the window is
  // skipped), but the ticket alert's 3-window look-back sees 3 in 150 completions.
  std::vector<std::pair<double, double>> v(24, {0, 100000});
  v[7] = {0, 50};
  v[8] = {0, 0};
  v[9] = {1, 0};
  auto ws = clean_soak(24);
  chain(ws, v);
  auto r = evaluate_soak(config(24), ws);
  CHECK(r.noise.verdict == "legacy-count-ok");
  CHECK(r.burn.alerts[2].fired_windows == std::vector<int>{10});
  CHECK(r.burn.any_fired());
  CHECK(r.overall_pass);
}

TEST_CASE("pubsub-pressure soak: every window must be GO (no tolerance) and no Phase A is aggregated", "[soak][policy][overall]") {
  auto ws = clean_soak(3, {0, 1000000});
  for (auto& w : ws) {
    w.phase_a_sent = w.phase_a_received = -1;  // fanout_burst windows run no Phase A
    w.phase_a_expected = 0;
  }
  auto c = config(3);
  c.variant = "pubsub-pressure";
  auto r = evaluate_soak(c, ws);
  CHECK(r.aggregate.pass);
  CHECK(r.aggregate.status.rfind("N/A", 0) == 0);
  CHECK(r.overall_pass);
  ws[1].verdict = Verdict::no_go;
  ws[1].violations = {dispatcher_violation()};  // tolerated in the combined soak, not here
  r = evaluate_soak(c, ws);
  CHECK(r.effective_failed == std::vector<int>{2});
  CHECK_FALSE(r.overall_pass);
}
