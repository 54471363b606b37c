// render_diff_text: what `x0xctl proof diff` prints. Text from the bundles
// passes through printable(), so a hostile name cannot drive the terminal.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/text.h"
#include "proofs/bundle_diff.h"
#include "proofs/diff_values.h"

namespace x0x::proofs {

namespace {

using diff_values::short_number;

std::string p(const std::string& s) { return printable(s); }
std::string or_dash(const std::string& s) { return s.empty() ? "-" : p(s); }
// "a -> b", or just "a" when they are equal.
std::string arrow(const std::string& a, const std::string& b) { return a == b ? or_dash(a) : or_dash(a) + " -> " + or_dash(b); }
std::string arrow(std::optional<double> a, std::optional<double> b) { return arrow(short_number(a), short_number(b)); }

std::size_t width(const std::string& s) {  // code points, so "→" in a name counts once
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Aligned columns, two spaces apart, indented; right-aligned where asked.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right = {}) : right_(std::move(right)) {
    rows_.push_back(std::move(header));
  }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostringstream& out) const {
    std::vector<std::size_t> w;
    for (auto& r : rows_)
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (w.size() <= i) w.push_back(0);
        w[i] = std::max(w[i], width(r[i]));
      }
    for (auto& r : rows_) {
      std::string line = "  ";
      for (std::size_t i = 0; i < r.size(); ++i) {
        std::string pad(w[i] - width(r[i]), ' ');
        bool right = i < right_.size() && right_[i];
        bool last = i + 1 == r.size();
        line += right ? pad + r[i] : r[i] + (last ? "" : pad);
        if (!last) line += "  ";
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

std::string mark(const RuleChange& r) {
  if (r.regressed) return "REGRESSED";
  if (r.recovered) return "recovered";
  if (r.status_a.empty()) return "only in B";
  if (r.status_b.empty()) return "only in A";
  return "";
}

std::string list(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ", ") + p(s);
  return out;
}

void gate_text(std::ostringstream& out, const GateDiff& g) {
  bool any_rule = std::any_of(g.scenarios.begin(), g.scenarios.end(), [](auto& s) { return !s.rules.empty(); });
  for (auto& s : g.scenarios)
    if (s.status_a != s.status_b) out << "Scenario " << p(s.name) << ": " << arrow(s.status_a, s.status_b) << "\n";
  if (!g.scenarios_only_a.empty()) out << "Scenarios only in A: " << list(g.scenarios_only_a) << "\n";
  if (!g.scenarios_only_b.empty()) out << "Scenarios only in B: " << list(g.scenarios_only_b) << "\n";
  if (any_rule) {
    out << "\nRules that changed:\n";
    Table t({"scenario", "rule", "status", "worst node", "observed", "threshold", ""});
    for (auto& s : g.scenarios)
      for (auto& r : s.rules)
        t.add({p(r.scope), p(r.rule), arrow(r.status_a, r.status_b), arrow(r.worst_a, r.worst_b), arrow(r.observed_a, r.observed_b),
               arrow(r.threshold_a, r.threshold_b), mark(r)});
    t.print(out);
  }
  if (!g.violations_appeared.empty() || !g.violations_disappeared.empty()) {
    out << "\nBlocking violations:\n";
    Table t({"", "scenario", "rule", "node", "message"});
    for (auto& v : g.violations_appeared) t.add({"+ new", p(v.scenario), p(v.rule), or_dash(v.node), p(v.message)});
    for (auto& v : g.violations_disappeared) t.add({"- gone", p(v.scenario), p(v.rule), or_dash(v.node), p(v.message)});
    t.print(out);
  }
  for (auto& s : g.scenarios) {
    if (!s.phase_a) continue;
    auto& pa = *s.phase_a;
    auto side = [](bool in, const LatencySide& l) {
      return in ? std::to_string(l.delivered) + "/" + std::to_string(l.pairs) : std::string("not run");
    };
    out << "\nPhase A, " << p(s.name) << ": delivered " << arrow(side(pa.in_a, pa.a), side(pa.in_b, pa.b)) << ", fleet p50 "
        << arrow(pa.a.p50, pa.b.p50) << " ms, p99 " << arrow(pa.a.p99, pa.b.p99) << " ms\n";
    if (pa.pairs.empty()) continue;
    Table t({"src -> dst", "A", "B", "change"});
    auto cell = [](const std::string& outcome, std::optional<double> lat) {
      if (outcome.empty()) return std::string("-");
      if (outcome == "delivered") return lat ? short_number(lat) + " ms" : std::string("delivered");
      return p(outcome);
    };
    for (auto& c : pa.pairs) {
      std::string change;
      switch (c.kind) {
        case PairChangeKind::newly_failed: change = "NEW FAILURE"; break;
        case PairChangeKind::recovered: change = "recovered"; break;
        case PairChangeKind::only_a: change = "only in A"; break;
        case PairChangeKind::only_b: change = "only in B"; break;
        case PairChangeKind::latency_shift: {
          double d = *c.latency_b - *c.latency_a;
          change = (d > 0 ? "+" : "") + short_number(d) + " ms";
          if (*c.latency_a > 0) change += " (" + std::string(d > 0 ? "+" : "") + short_number(std::round(100 * d / *c.latency_a)) + "%)";
        }
      }
      t.add({p(c.src) + " -> " + p(c.dst), cell(c.outcome_a, c.latency_a), cell(c.outcome_b, c.latency_b), change});
    }
    t.print(out);
  }
  for (auto& s : g.scenarios) {
    if (!s.nodes_only_a.empty()) out << "\nNodes scored only in A (" << p(s.name) << "): " << list(s.nodes_only_a) << "\n";
    if (!s.nodes_only_b.empty()) out << "\nNodes scored only in B (" << p(s.name) << "): " << list(s.nodes_only_b) << "\n";
    if (s.counters.empty()) continue;
    out << "\nCounter deltas, " << p(s.name) << " (changed only, largest change first):\n";
    Table t({"node", "counter", "A", "B", "change"}, {false, false, true, true, true});
    for (auto& c : s.counters) {
      std::string change = "unknown";
      if (c.a && c.b) change = (*c.b > *c.a ? "+" : "") + short_number(*c.b - *c.a);
      t.add({p(c.node), p(c.counter), short_number(c.a), short_number(c.b), change});
    }
    t.print(out);
  }
}

void soak_text(std::ostringstream& out, const SoakDiff& s) {
  if (!s.rules.empty()) {
    out << "\nRules that changed:\n";
    Table t({"rule", "status", "", "detail A", "detail B"});
    for (auto& r : s.rules) t.add({p(r.rule), arrow(r.status_a, r.status_b), mark(r), or_dash(r.detail_a), or_dash(r.detail_b)});
    t.print(out);
  }
  if (std::any_of(s.policy.begin(), s.policy.end(), [](auto& c) { return c.changed(); })) {
    out << "\nPolicy values that changed:\n";
    Table t({"value", "A", "B"});
    for (auto& c : s.policy)
      if (c.changed()) t.add({p(c.name), or_dash(c.a), or_dash(c.b)});
    t.print(out);
  }
  if (std::any_of(s.class_counts.begin(), s.class_counts.end(), [](auto& c) { return c.changed(); })) {
    out << "\nWindows by class:\n";
    Table t({"class", "A", "B", ""}, {false, true, true, false});
    for (auto& c : s.class_counts) t.add({p(c.name), c.a, c.b, c.changed() ? "*" : ""});
    t.print(out);
  }
  if (!s.window_classes.empty()) {
    out << "\nWindows whose class changed:\n";
    Table t({"window", "A", "B"}, {true, false, false});
    for (auto& w : s.window_classes) t.add({std::to_string(w.index), or_dash(w.a), or_dash(w.b)});
    t.print(out);
  } else if (!s.same_windows) {
    out << "\n(The soaks have different windows: classes compared by count only.)\n";
  }
  if (!s.node_totals.empty()) {
    out << "\nContinuous accounting per node, counted windows (A -> B):\n";
    Table t({"node", "disp", "drop", "pp", "completed"});
    for (auto& n : s.node_totals) {
      std::vector<std::string> row{p(n.node)};
      for (std::size_t i = 0; i < n.a.size(); ++i) row.push_back(arrow(n.a[i], n.b[i]));
      t.add(std::move(row));
    }
    t.print(out);
  }
  auto& a = s.phase_a_a;
  auto& b = s.phase_a_b;
  out << "\nPhase A, counted windows (A -> B):\n";
  Table t({"", "A", "B"}, {false, true, true});
  auto n = [](long v) { return std::to_string(v); };
  t.add({"windows", std::to_string(a.windows), std::to_string(b.windows)});
  t.add({"sent", n(a.sent), n(b.sent)});
  t.add({"received", n(a.received), n(b.received)});
  t.add({"expected", n(a.expected), n(b.expected)});
  t.add({"failed pairs", n(a.failed_pairs), n(b.failed_pairs)});
  t.add({"p99 median (ms)", short_number(a.p99_median), short_number(b.p99_median)});
  t.add({"p99 max (ms)", short_number(a.p99_max), short_number(b.p99_max)});
  t.add({"p99 last (ms)", short_number(a.p99_last), short_number(b.p99_last)});
  auto slope = [](std::optional<double> v) {
    if (!v) return std::string("unknown");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%+.2f", *v);
    return std::string(buf);
  };
  t.add({"p99 trend (ms/window)", slope(a.p99_slope_ms_per_window), slope(b.p99_slope_ms_per_window)});
  t.print(out);
}

}  // namespace

std::string render_diff_text(const BundleDiff& d) {
  std::ostringstream out;
  out << "proof diff (" << to_string(d.kind) << " bundles)\n  A: " << p(d.label_a) << "\n  B: " << p(d.label_b) << "\n";
  for (auto& n : d.notes) out << "note: " << p(n) << "\n";
  if (!d.has_changes()) {
    out << "Verdict: " << or_dash(d.verdict.a) << " (both)\nno differences\n";
    return out.str();
  }
  out << "Verdict: " << arrow(d.verdict.a, d.verdict.b) << (d.verdict.changed() ? "" : " (both)") << "\n";
  if (!d.settings.empty()) {
    out << "Settings that changed:\n";
    Table t({"setting", "A", "B"});
    for (auto& c : d.settings) t.add({p(c.name), or_dash(c.a), or_dash(c.b)});
    t.print(out);
  }
  if (d.gate) gate_text(out, *d.gate);
  if (d.soak) soak_text(out, *d.soak);
  out << "\n";
  if (d.regressions.empty()) {
    out << "No regression: B is not worse than A on verdict, rules or Phase A pairs.\n";
  } else {
    out << "REGRESSION: B is worse than A (" << d.regressions.size() << "):\n";
    for (auto& r : d.regressions) out << "  - " << p(r) << "\n";
  }
  return out.str();
}

}  // namespace x0x::proofs
