// The soak certifier's data (spec gates-and-proofs.md §5): one record per
// window slot, read from the window's gate bundle (verdict.json and its raw
// snapshots: typed violations, never the reference's prose), and the
// certifier's results. Pure data; soak_accounting.h and soak_policy.h compute
// on it, proofs/ renders it, harness/soak_loop.h fills it.
//
// soak.json (SoakResult::to_json) is the contract between them: renderers,
// `proof rescore` and `proof diff` read only that JSON.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/status.h"

namespace x0x::gates::soak {

// What happened in one slot of the wall-clock schedule.
//   ran: the window's gate run wrote a verdict (GO or NO-GO);
//   missing: the window started but wrote no verdict (killed, crashed, timed out): the reference's MISSING;
//   skipped: the slot's time passed without a window (the orchestrator was down, or the
//            previous window overran it); not a failure by itself, the accounting bridges it;
//   interrupted: abandoned by SIGINT/SIGTERM; recorded, never counted.
enum class WindowState { ran, missing, skipped, interrupted };  // "ran", "missing", "skipped", "interrupted"

// A window's bucket (§5.4), plus ours: warm-up windows and slots with no window.
enum class WindowClass {
  clean,                    // verdict GO
  tolerated_dispatcher,     // tolerated_dispatcher_windows
  tolerated_phase_a,        // tolerated_phase_a_windows
  tolerated_infra_phase_a,  // tolerated_infra_phase_a_windows
  effective_failed,         // effective_failed (MISSING included)
  warmup,                   // ours: ran, not counted
  not_counted,              // ours: skipped or interrupted slots
};  // "clean", "tolerated_dispatcher", "tolerated_phase_a", "tolerated_infra_phase_a", "effective_failed", "warmup", "not_counted"

// What a violation is about, from its rule name (not its sentence).
enum class ViolationClass { dispatcher, phase_a, drop, error, other };  // "dispatcher", "phase_a", "drop", "error", "other"

std::string_view to_string(WindowState s);
std::string_view to_string(WindowClass c);
std::string_view to_string(ViolationClass c);
std::optional<WindowState> parse_window_state(std::string_view s);
std::optional<WindowClass> parse_window_class(std::string_view s);
std::optional<ViolationClass> parse_violation_class(std::string_view s);

struct WindowViolation {
  std::string rule, node, observed, threshold, message;  // as in verdict.json "blocking"
  ViolationClass cls = ViolationClass::other;
};

// The four counters of the continuous accounting (§5.2) on one node at one
// instant, plus the node's uptime (ours: tells a restart from a wrap).
struct AccountingSample {
  double completed = 0, timed_out = 0, dropped_full = 0, per_peer_timeout = 0;
  std::optional<double> uptime_secs;
  double unix_time = 0;
};

// One node in one window: the scenario-level facts (verdict.json nodes[]),
// the raw samples for the accounting, Phase A per node, and the host facts.
struct NodeWindow {
  std::optional<AccountingSample> pre, post;  // nullopt: not fetched or not parseable
  // Scenario window deltas / post values (nullopt = unknown): the timeline's scenario columns.
  std::optional<double> disp_to, drop_full, pp_to, completed, suppressed, suppressed_ratio, suppressed_topics,
      transport_peers, transport_rtt_ms, transport_loss_ppm, workers;
  std::string top_suppressed_topics;  // the node's top-3 text
  // Phase A with this node as the sender (delivered of expected), and its latency.
  long phase_a_delivered = 0, phase_a_expected = 0;
  std::optional<double> phase_a_p50_ms, phase_a_p99_ms;
  // From the window's harvest facts (x0x-lean-node / x0xd process).
  std::optional<double> rss_kb, cpu_seconds;
};

struct SoakWindow {
  int index = 0;               // 1-based slot number: windows/NNN
  double slot_unix = 0;        // when the schedule meant it to start
  double start_unix = 0, end_unix = 0;  // 0 when it never started
  WindowState state = WindowState::skipped;
  std::optional<Verdict> verdict;  // nullopt unless state == ran
  bool warmup = false;         // runs and is recorded, never counted
  int exit_code = -1;          // the window's gate run exit code (the reference drops it: §9.3 item 18)
  int fleet_epoch = 0;         // +1 each time the soak itself started a fresh fleet (embedded default, resumed)
  std::string scenario;        // "baseline" (combined, fixed-roster) or "fanout_burst" (pubsub-pressure)
  std::string note;            // why missing/skipped/interrupted
  // Phase A over the window's scored fleet (-1 = unknown, the reference's "?").
  long phase_a_sent = -1, phase_a_received = -1, phase_a_expected = 0;
  std::optional<double> phase_a_p50_ms, phase_a_p99_ms;
  std::vector<std::pair<std::string, std::string>> phase_a_failed_pairs;  // (src, dst)
  std::vector<WindowViolation> violations;  // verdict.json "blocking", in order
  std::map<std::string, NodeWindow> nodes;  // by node name
  std::vector<std::string> node_order;      // fleet order
};

// §5.2 for one window: the previous post (or this pre) → this post, per node.
struct NodeAccounting {
  double disp = 0, drop = 0, pp = 0, completed = 0;
  double from_unix = 0, to_unix = 0;  // the span these deltas cover (idle time included)
};
struct WindowAccounting {
  bool has_data = false;  // false: no snapshot on disk, consumers fall back to scenario fields (§5.2)
  double max_disp = 0, sum_disp = 0, max_drop = 0, sum_drop = 0, max_pp = 0, sum_pp = 0, sum_completed = 0;
  std::vector<std::string> gaps;         // "<node>:post", ":baseline", ":pre", ":counter_reset", ":fleet_restarted"
  std::vector<std::string> unaccounted;  // the gaps nothing bridged (post, baseline, counter_reset)
  std::map<std::string, NodeAccounting> nodes;
};

// §5.3, with every reported field.
struct NoisePolicy {
  bool passed = false;
  std::string verdict;  // legacy-count-ok, adaptive-rate-ok, fleet-rate-high, window-rate-high, consecutive-anomalies
  double total_disp = 0, total_completed = 0, total_ratio = 0, max_window_ratio = 0;
  int max_consecutive_anomalies = 0;
  std::vector<int> anomaly_windows;
};

// §5.5.
struct AggregatePhaseA {
  long target = 0, sent = 0, received = 0;
  double sent_ratio = 0, recv_ratio = 0;
  bool ok = false, infra_degraded = false, pass = false;
  std::string status;  // "PASS", "INFRA-DEGRADED (tolerated, ≥ 70% floor)", "FAIL"
};

// Multi-window, multi-burn-rate alerts (Google SRE workbook ch. 5, table 5-8)
// on the dispatcher timeout ratio, with the soak's whole length standing for
// the SLO period: each alert's long window is the same fraction of the soak as
// 1 h / 6 h / 3 d are of 30 days, its short window 1/12 of that, both rounded up
// to whole windows.
struct BurnAlert {
  std::string name;        // "page-fast", "page-slow", "ticket"
  double burn_threshold = 0;   // 14.4, 6, 1
  int long_windows = 1, short_windows = 1;
  std::vector<int> fired_windows;    // windows at whose end both burn rates were above the threshold
  std::vector<int> guarded_windows;  // would have fired, held back by the low-volume guard
  double max_long_burn = 0;          // the largest long-window burn rate seen
};
struct BurnRate {
  double budget_ratio = 1e-4;          // the SLO's allowed timeouts per completion (the fleet rate cap)
  long min_timeouts = 2;               // low-volume guard: an alert needs at least this many timeouts
  double min_completions = 100;        //   and this many completions in its long window
  double budget_consumed = 0;          // total timeouts / (budget_ratio × total completions); inf if no completions and timeouts
  std::vector<BurnAlert> alerts;
  bool any_fired() const;
};

// One conjunct of §5.6 (and ours), a JUnit case each.
struct SoakRule {
  std::string rule;    // "windows_ran", "no_missing_windows", "no_effective_failed", "no_unaccounted_gaps",
                       // "dispatcher_noise_policy", "cumulative_drop_full", "aggregate_phase_a"
  bool passed = false;
  std::string detail;  // observed values, the windows involved
};

// The certifier's whole result.
struct SoakResult {
  std::vector<WindowClass> classes;         // per window, same order as the windows
  std::vector<WindowAccounting> accounting; // per window
  NoisePolicy noise;
  AggregatePhaseA aggregate;
  BurnRate burn;
  std::vector<SoakRule> rules;
  std::vector<int> tolerated_dispatcher, tolerated_phase_a, tolerated_infra, effective_failed, missing, skipped,
      unaccounted_gap_windows, warmup;
  double cumulative_disp = 0, cumulative_drop = 0, cumulative_completed = 0, cumulative_pp = 0;
  bool overall_pass = false;
};

// The soak's settings, as recorded (soak.json "config").
struct SoakConfig {
  std::string gate, gate_source, variant = "combined";
  double duration_secs = 0, interval_secs = 0;
  int warmup_windows = 1, target_windows = 0;  // counted windows: max(1, floor(duration / interval))
  long expected_pairs = 0;                     // n(n−1) from the inventory (§5.5), never a token-file line count
  std::vector<std::string> nodes;
  double started_unix = 0;                     // slot k starts at started_unix + (k−1) × interval
};

// Windows classified, accounted and judged (§5.2–§5.6 plus the burn rate).
// Pure: the same windows give the same result (proof rescore relies on it).
SoakResult evaluate_soak(const SoakConfig& config, const std::vector<SoakWindow>& windows);

// soak.json (written by harness/soak_loop, read by proofs/ and `proof diff`):
// {"kind":"soak", "schema":1, "tool_version", "config": config_json, "state":"running|complete|interrupted",
//  "verdict":"GO"|"NO-GO"|"INTERRUPTED" (INTERRUPTED: the soak did not finish; "partial_verdict" then says
//  what the finished windows gave), "windows":[window_json…], "policy":…, "rules":[…] (result_json),
//  "gaps":[{"from_unix","to_unix","slots":[int…],"why"}] (orchestrator down: killed, rebooted),
//  "warnings":[string…]}
//
// window_json: {"index", "dir":"windows/NNN", "slot_unix", "start_unix", "end_unix", "state",
//  "verdict":"GO"|"NO-GO"|"MISSING"|"SKIPPED"|"INTERRUPTED" (the timeline's verdict column),
//  "warmup", "exit_code", "fleet_epoch", "scenario", "note",
//  "phase_a":{"sent":n|null, "received":n|null, "expected":n, "p50_ms":x|null, "p99_ms":x|null, "failed_pairs":[[src,dst]…]},
//  "violations":[{"rule","node","observed","threshold","message","class"}], "node_order":[…],
//  "nodes":{name:{"pre":sample|null, "post":sample|null, "disp_to", "drop_full", "pp_to", "completed",
//           "suppressed", "suppressed_ratio", "suppressed_topics", "transport_peers", "transport_rtt_ms",
//           "transport_loss_ppm", "workers" (each number|"inf"|null), "top_suppressed_topics":text,
//           "phase_a_delivered", "phase_a_expected", "phase_a_p50_ms", "phase_a_p99_ms", "rss_kb", "cpu_seconds"}},
//     sample = {"completed","timed_out","dropped_full","per_peer_timeout","uptime_secs"|null,"unix_time"},
//  "scenario_summary":{the reference's scenario columns of timeline.csv, §5.1 step 3: "max_disp_to_delta",
//     "sum_disp_to_delta", "max_drop_full_delta", "sum_drop_full_delta", "max_pp_to_delta", "max_suppressed",
//     "max_suppressed_ratio", "max_suppressed_topics", "top_suppressed_topics" (text), "max_transport_peers",
//     "max_transport_rtt_ms", "max_transport_loss_ppm", "max_workers", "violations" — number|"inf"|null},
//  "continuous" (only with an accounting): {"has_data", "max_disp", "sum_disp", "max_drop", "sum_drop", "max_pp",
//     "sum_pp", "sum_completed", "gaps":[…], "unaccounted":[…], "nodes":{name:{"disp","drop","pp","completed","from_unix","to_unix"}}},
//  "class" (only with a class): to_string(WindowClass)}
//
// result_json: {"policy":{"dispatcher_noise":{"passed","verdict","total_disp","total_completed","total_ratio",
//     "max_window_ratio","max_consecutive_anomalies","anomaly_windows":[…]},
//   "aggregate_phase_a":{"target","sent","received","sent_ratio","recv_ratio","ok","infra_degraded","pass","status"},
//   "burn_rate":{"budget_ratio","min_timeouts","min_completions","budget_consumed","any_fired",
//     "alerts":[{"name","burn_threshold","long_windows","short_windows","fired_windows","guarded_windows","max_long_burn"}]},
//   "tolerated_dispatcher_windows", "tolerated_phase_a_windows", "tolerated_infra_phase_a_windows",
//   "effective_failed", "missing_windows", "skipped_windows", "unaccounted_gap_windows", "warmup_windows" ([int…] each),
//   "cumulative":{"dispatcher_timeouts","drop_full","completions","timeout_ratio","per_peer_ratio"},
//   "overall_pass"},
//  "rules":[{"rule","status":"pass"|"fail","detail"}]}
// Ratios that are +inf are the string "inf".
nlohmann::json window_json(const SoakWindow& w, const WindowAccounting* a, std::optional<WindowClass> c);
nlohmann::json config_json(const SoakConfig& c);
nlohmann::json result_json(const SoakResult& r);  // "policy" and "rules"
// Back from soak.json (proof rescore re-evaluates the recorded windows); throws std::runtime_error naming the field.
SoakWindow window_from_json(const nlohmann::json& j);
SoakConfig config_from_json(const nlohmann::json& j);

}  // namespace x0x::gates::soak
