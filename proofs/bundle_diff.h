// `x0xctl proof diff A B`: what changed from one proof bundle to another (last
// night's run against tonight's). Pure: the bundles' JSON in (verdict.json of a
// gate bundle, soak.json of a soak bundle), a structured diff out; reading the
// files is proofs/bundle_read.h's job, printing the renderers' below.
//
// The JSON is a bundle's, so it is input: a field of the wrong type is skipped
// (as absent), never trusted and never a crash.
#pragma once
#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace x0x::proofs {

enum class BundleKind { gate, soak };  // "gate", "soak"
std::string_view to_string(BundleKind k);

// soak.json ("kind": "soak" and a "windows" array) or a gate verdict.json
// ("verdict" and a "scenarios" array); nullopt for anything else.
std::optional<BundleKind> bundle_kind(const nlohmann::json& doc);

// Two documents that cannot be compared: not a bundle's JSON, or a gate
// bundle against a soak bundle. A usage error (exit 2), not a regression.
struct DiffUsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// One named value on both sides, rendered ("" = absent on that side).
struct ValueChange {
  std::string name, a, b;
  bool changed() const { return a != b; }
};

// A rule whose status, observed value or threshold differs (a worst-node
// change alone, with the same observed value, is not a change: it only names
// another node with the same value). scope: the scenario, or "soak".
struct RuleChange {
  std::string scope, rule;
  std::string status_a, status_b;  // "" = the rule is absent on that side
  std::string worst_a, worst_b, observed_a, observed_b, threshold_a, threshold_b;  // gate rules
  std::string detail_a, detail_b;                                                  // soak rules
  bool regressed = false;  // good (pass, n/a) in A, anything else in B
  bool recovered = false;  // the other way round
};

// A blocking violation on one side only, keyed by (scenario, rule, node).
struct ViolationChange {
  std::string scenario, rule, node, observed, threshold, message;
};

enum class PairChangeKind { newly_failed, recovered, latency_shift, only_a, only_b };
std::string_view to_string(PairChangeKind k);  // "newly_failed", "recovered", "latency_shift", "only_a", "only_b"

// One Phase A pair (src → dst). outcome: "delivered", else the failing stage
// (or "failed"); "" when absent on that side. Latency only when delivered.
struct PairChange {
  std::string src, dst;
  PairChangeKind kind = PairChangeKind::latency_shift;
  std::string outcome_a, outcome_b;
  std::optional<double> latency_a, latency_b;  // ms
};

// Latency over a side's delivered pairs (nearest-rank percentiles).
struct LatencySide {
  std::size_t pairs = 0, delivered = 0;
  std::optional<double> p50, p99;
};

struct PhaseADiff {
  bool in_a = false, in_b = false;  // the scenario recorded a Phase A on that side
  LatencySide a, b;
  std::vector<PairChange> pairs;  // failures and recoveries first, then latency shifts (largest first), then one-sided
  bool has_changes() const;       // a pair changed, the delivered count, or the fleet p50/p99 shifted
};

// A latency (a pair's, the fleet's p50 or p99) shifted when it moved by more
// than max(50 % of A's, 5 ms); known on one side only is a shift too.
inline constexpr double kLatencyShiftRatio = 0.5, kLatencyShiftMinMs = 5.0;
bool latency_shifted(std::optional<double> a, std::optional<double> b);

// One counter of one node's scenario delta (verdict nodes[node].delta).
struct CounterChange {
  std::string node, counter;
  std::optional<double> a, b;  // nullopt: unknown (null) or absent on that side
  double magnitude() const;    // |b − a|; +inf when one side is unknown
};

struct ScenarioDiff {
  std::string name;
  std::string status_a, status_b;
  std::vector<RuleChange> rules;            // changed rules only, in A's rule order, then B-only rules
  std::optional<PhaseADiff> phase_a;        // when either side recorded a Phase A
  std::vector<CounterChange> counters;      // changed counters only, largest change first
  std::vector<std::string> nodes_only_a, nodes_only_b;  // nodes scored on one side only (their counters are not listed)
  bool has_changes() const;
};

struct GateDiff {
  std::vector<ScenarioDiff> scenarios;                    // scenarios in both, in A's order
  std::vector<std::string> scenarios_only_a, scenarios_only_b;
  std::vector<ViolationChange> violations_appeared;       // blocking in B, not in A
  std::vector<ViolationChange> violations_disappeared;    // blocking in A, not in B
};

// Per node, the soak's continuous accounting summed over its counted windows
// (windows[].continuous.nodes[node], warm-up windows excluded as in the
// soak's cumulative totals).
struct NodeTotalsChange {
  std::string node;
  static constexpr std::array<const char*, 4> kFields = {"disp", "drop", "pp", "completed"};
  std::array<std::optional<double>, 4> a, b;  // nullopt: the node has no accounting on that side
};

struct WindowClassChange {
  int index = 0;
  std::string a, b;  // the window's "class" ("" if it has none)
};

// A soak's Phase A over its counted windows that ran.
struct SoakPhaseASide {
  long sent = 0, received = 0, expected = 0, failed_pairs = 0;
  int windows = 0;                            // counted windows with a Phase A
  std::optional<double> p99_median, p99_max, p99_last;
  std::optional<double> p99_slope_ms_per_window;  // least squares over the windows' p99
};

struct SoakDiff {
  std::vector<RuleChange> rules;
  std::vector<ValueChange> policy;         // every policy value compared; changed() tells which moved
  std::vector<ValueChange> class_counts;   // windows per class, every class seen on either side
  bool same_windows = false;               // both soaks have the same window indexes
  std::vector<WindowClassChange> window_classes;  // only when same_windows; changed windows only
  std::vector<NodeTotalsChange> node_totals;      // nodes whose totals differ
  SoakPhaseASide phase_a_a, phase_a_b;
};

struct BundleDiff {
  BundleKind kind = BundleKind::gate;
  std::string label_a = "A", label_b = "B";  // where the bundles came from (paths), for the renderers
  ValueChange verdict{"verdict", "", ""};
  std::vector<ValueChange> settings;  // gate, gate source, fleet (gate); gate, variant, windows… (soak): changed only
  std::optional<GateDiff> gate;       // kind == gate
  std::optional<SoakDiff> soak;       // kind == soak
  std::vector<std::string> notes;     // said by the caller: "A: bundle NOT ok: …"
  std::vector<std::string> regressions;  // why B is worse than A; empty: no regression

  bool regressed() const { return !regressions.empty(); }
  bool has_changes() const;  // false: the renderers say "no differences"
  nlohmann::json to_json() const;
};

// Throws DiffUsageError when either is not a bundle document or their kinds differ.
BundleDiff diff_bundles(const nlohmann::json& a, const nlohmann::json& b);
GateDiff diff_gate(const nlohmann::json& a, const nlohmann::json& b);
SoakDiff diff_soak(const nlohmann::json& a, const nlohmann::json& b);

// Plain text, aligned columns; "no differences" when nothing changed.
std::string render_diff_text(const BundleDiff& d);
// A self-contained page (inline CSS, no script, no URL): changed rules
// highlighted, new failures red, recoveries green; bundle text escaped.
std::string render_diff_html(const BundleDiff& d);

}  // namespace x0x::proofs
