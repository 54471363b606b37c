// render_diff_html: one self-contained page (inline CSS, no script, no URL of
// any kind). Changed rules are highlighted, new failures red, recoveries
// green; every piece of text from the bundles is escaped.
#include <algorithm>
#include <sstream>

#include "proofs/bundle_diff.h"
#include "proofs/diff_values.h"
#include "proofs/render_text.h"

namespace x0x::proofs {

namespace {

using diff_values::short_number;

std::string e(std::string_view s) { return text::html_escape(s); }
std::string dash(const std::string& s) { return s.empty() ? "&ndash;" : e(s); }
std::string html_arrow(const std::string& a, const std::string& b) { return a == b ? dash(a) : dash(a) + " &rarr; " + dash(b); }
std::string html_arrow(std::optional<double> a, std::optional<double> b) { return html_arrow(short_number(a), short_number(b)); }

constexpr const char* kStyle = R"(<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1f2328}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.changed td{background:#fff8c5}tr.regressed td,span.regressed{background:#ffebe9;color:#82071e}
tr.recovered td,span.recovered{background:#dafbe1;color:#116329}
.verdict{font-size:1.2em;font-weight:600}.note{color:#9a6700}.ok{color:#116329}.bad{color:#cf222e;font-weight:600}
code{font-family:ui-monospace,monospace}
</style>
)";

std::string row_class(const RuleChange& r) {
  if (r.regressed) return "regressed";
  if (r.recovered) return "recovered";
  return "changed";
}

std::string rule_mark(const RuleChange& r) {
  if (r.regressed) return "regressed";
  if (r.recovered) return "recovered";
  if (r.status_a.empty()) return "only in B";
  if (r.status_b.empty()) return "only in A";
  return "changed";
}

void gate_html(std::ostringstream& out, const GateDiff& g) {
  if (!g.scenarios_only_a.empty() || !g.scenarios_only_b.empty()) {
    out << "<h2>Scenarios on one side only</h2>\n<ul>\n";
    for (auto& s : g.scenarios_only_a) out << "<li>only in A: <code>" << e(s) << "</code></li>\n";
    for (auto& s : g.scenarios_only_b) out << "<li>only in B: <code>" << e(s) << "</code></li>\n";
    out << "</ul>\n";
  }
  out << "<h2>Rules</h2>\n";
  bool any = false;
  for (auto& s : g.scenarios) any = any || !s.rules.empty() || s.status_a != s.status_b;
  if (!any) {
    out << "<p>No rule changed.</p>\n";
  } else {
    out << "<table><tr><th>scenario</th><th>rule</th><th>status</th><th>worst node</th><th>observed</th><th>threshold</th>"
           "<th></th></tr>\n";
    for (auto& s : g.scenarios) {
      if (s.status_a != s.status_b)
        out << "<tr class=\"" << (s.status_a == "PASS" ? "regressed" : s.status_b == "PASS" ? "recovered" : "changed") << "\"><td>"
            << e(s.name) << "</td><td><em>scenario</em></td><td>" << html_arrow(s.status_a, s.status_b) << "</td><td></td><td></td><td></td><td></td></tr>\n";
      for (auto& r : s.rules)
        out << "<tr class=\"" << row_class(r) << "\"><td>" << e(r.scope) << "</td><td><code>" << e(r.rule) << "</code></td><td>"
            << html_arrow(r.status_a, r.status_b) << "</td><td>" << html_arrow(r.worst_a, r.worst_b) << "</td><td class=\"n\">"
            << html_arrow(r.observed_a, r.observed_b) << "</td><td class=\"n\">" << html_arrow(r.threshold_a, r.threshold_b) << "</td><td>"
            << rule_mark(r) << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  if (!g.violations_appeared.empty() || !g.violations_disappeared.empty()) {
    out << "<h2>Blocking violations</h2>\n<table><tr><th></th><th>scenario</th><th>rule</th><th>node</th><th>message</th></tr>\n";
    for (auto& v : g.violations_appeared)
      out << "<tr class=\"regressed\"><td>new</td><td>" << e(v.scenario) << "</td><td><code>" << e(v.rule) << "</code></td><td>"
          << dash(v.node) << "</td><td>" << e(v.message) << "</td></tr>\n";
    for (auto& v : g.violations_disappeared)
      out << "<tr class=\"recovered\"><td>gone</td><td>" << e(v.scenario) << "</td><td><code>" << e(v.rule) << "</code></td><td>"
          << dash(v.node) << "</td><td>" << e(v.message) << "</td></tr>\n";
    out << "</table>\n";
  }
  for (auto& s : g.scenarios) {
    if (!s.phase_a) continue;
    auto& pa = *s.phase_a;
    auto side = [](bool in, const LatencySide& l) {
      return in ? std::to_string(l.delivered) + "/" + std::to_string(l.pairs) : std::string("not run");
    };
    out << "<h2>Phase A: " << e(s.name) << "</h2>\n<p>Delivered " << html_arrow(side(pa.in_a, pa.a), side(pa.in_b, pa.b))
        << "; fleet p50 " << html_arrow(pa.a.p50, pa.b.p50) << " ms, p99 " << html_arrow(pa.a.p99, pa.b.p99) << " ms.</p>\n";
    if (pa.pairs.empty()) continue;
    out << "<table><tr><th>src &rarr; dst</th><th>A</th><th>B</th><th>change</th></tr>\n";
    for (auto& c : pa.pairs) {
      auto cell = [](const std::string& outcome, std::optional<double> lat) {
        if (outcome.empty()) return std::string("&ndash;");
        if (outcome == "delivered") return lat ? short_number(lat) + " ms" : std::string("delivered");
        return e(outcome);
      };
      std::string cls = c.kind == PairChangeKind::newly_failed ? "regressed"
                        : c.kind == PairChangeKind::recovered  ? "recovered"
                                                               : "changed";
      std::string change(to_string(c.kind));
      std::replace(change.begin(), change.end(), '_', ' ');
      out << "<tr class=\"" << cls << "\"><td>" << e(c.src) << " &rarr; " << e(c.dst) << "</td><td class=\"n\">"
          << cell(c.outcome_a, c.latency_a) << "</td><td class=\"n\">" << cell(c.outcome_b, c.latency_b) << "</td><td>" << change
          << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  for (auto& s : g.scenarios) {
    if (s.counters.empty() && s.nodes_only_a.empty() && s.nodes_only_b.empty()) continue;
    out << "<h2>Counter deltas: " << e(s.name) << "</h2>\n";
    for (auto& n : s.nodes_only_a) out << "<p class=\"note\">Node scored only in A: " << e(n) << "</p>\n";
    for (auto& n : s.nodes_only_b) out << "<p class=\"note\">Node scored only in B: " << e(n) << "</p>\n";
    if (s.counters.empty()) continue;
    out << "<table><tr><th>node</th><th>counter</th><th>A</th><th>B</th><th>change</th></tr>\n";
    for (auto& c : s.counters) {
      std::string change = "unknown";
      if (c.a && c.b) change = (*c.b > *c.a ? "+" : "") + short_number(*c.b - *c.a);
      out << "<tr><td>" << e(c.node) << "</td><td><code>" << e(c.counter) << "</code></td><td class=\"n\">" << short_number(c.a)
          << "</td><td class=\"n\">" << short_number(c.b) << "</td><td class=\"n\">" << change << "</td></tr>\n";
    }
    out << "</table>\n";
  }
}

void soak_html(std::ostringstream& out, const SoakDiff& s) {
  out << "<h2>Rules</h2>\n";
  if (s.rules.empty()) {
    out << "<p>No rule changed.</p>\n";
  } else {
    out << "<table><tr><th>rule</th><th>status</th><th></th><th>detail A</th><th>detail B</th></tr>\n";
    for (auto& r : s.rules)
      out << "<tr class=\"" << row_class(r) << "\"><td><code>" << e(r.rule) << "</code></td><td>" << html_arrow(r.status_a, r.status_b)
          << "</td><td>" << rule_mark(r) << "</td><td>" << dash(r.detail_a) << "</td><td>" << dash(r.detail_b) << "</td></tr>\n";
    out << "</table>\n";
  }
  out << "<h2>Policy</h2>\n<table><tr><th>value</th><th>A</th><th>B</th></tr>\n";
  for (auto& c : s.policy)
    out << "<tr" << (c.changed() ? " class=\"changed\"" : "") << "><td><code>" << e(c.name) << "</code></td><td>" << dash(c.a)
        << "</td><td>" << dash(c.b) << "</td></tr>\n";
  out << "</table>\n<h2>Windows by class</h2>\n<table><tr><th>class</th><th>A</th><th>B</th></tr>\n";
  for (auto& c : s.class_counts)
    out << "<tr" << (c.changed() ? " class=\"changed\"" : "") << "><td>" << e(c.name) << "</td><td class=\"n\">" << e(c.a)
        << "</td><td class=\"n\">" << e(c.b) << "</td></tr>\n";
  out << "</table>\n";
  if (!s.window_classes.empty()) {
    out << "<h2>Windows whose class changed</h2>\n<table><tr><th>window</th><th>A</th><th>B</th></tr>\n";
    for (auto& w : s.window_classes) {
      std::string cls = w.b == "effective_failed" ? "regressed" : w.a == "effective_failed" ? "recovered" : "changed";
      out << "<tr class=\"" << cls << "\"><td class=\"n\">" << w.index << "</td><td>" << dash(w.a) << "</td><td>" << dash(w.b)
          << "</td></tr>\n";
    }
    out << "</table>\n";
  } else if (!s.same_windows) {
    out << "<p class=\"note\">The soaks have different windows: classes compared by count only.</p>\n";
  }
  if (!s.node_totals.empty()) {
    out << "<h2>Continuous accounting per node (counted windows)</h2>\n<table><tr><th>node</th>";
    for (auto* f : NodeTotalsChange::kFields) out << "<th>" << f << "</th>";
    out << "</tr>\n";
    for (auto& n : s.node_totals) {
      out << "<tr><td>" << e(n.node) << "</td>";
      for (std::size_t i = 0; i < n.a.size(); ++i) out << "<td class=\"n\">" << html_arrow(n.a[i], n.b[i]) << "</td>";
      out << "</tr>\n";
    }
    out << "</table>\n";
  }
  auto& a = s.phase_a_a;
  auto& b = s.phase_a_b;
  out << "<h2>Phase A (counted windows)</h2>\n<table><tr><th></th><th>A</th><th>B</th></tr>\n";
  auto row = [&](const char* name, const std::string& va, const std::string& vb) {
    out << "<tr" << (va != vb ? " class=\"changed\"" : "") << "><td>" << name << "</td><td class=\"n\">" << va
        << "</td><td class=\"n\">" << vb << "</td></tr>\n";
  };
  row("windows", std::to_string(a.windows), std::to_string(b.windows));
  row("sent", std::to_string(a.sent), std::to_string(b.sent));
  row("received", std::to_string(a.received), std::to_string(b.received));
  row("expected", std::to_string(a.expected), std::to_string(b.expected));
  row("failed pairs", std::to_string(a.failed_pairs), std::to_string(b.failed_pairs));
  row("p99 median (ms)", short_number(a.p99_median), short_number(b.p99_median));
  row("p99 max (ms)", short_number(a.p99_max), short_number(b.p99_max));
  row("p99 last (ms)", short_number(a.p99_last), short_number(b.p99_last));
  out << "</table>\n";
}

}  // namespace

std::string render_diff_html(const BundleDiff& d) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>x0x proof diff</title>\n" << kStyle
      << "</head><body>\n<h1>x0x proof diff (" << to_string(d.kind) << " bundles)</h1>\n<p>A: <code>" << e(d.label_a)
      << "</code><br>B: <code>" << e(d.label_b) << "</code></p>\n";
  for (auto& n : d.notes) out << "<p class=\"note\">" << e(n) << "</p>\n";
  out << "<p class=\"verdict\">Verdict: "
      << (d.verdict.changed() ? "<span class=\"" + std::string(d.verdict.b == "GO" ? "recovered" : "regressed") + "\">" +
                                    html_arrow(d.verdict.a, d.verdict.b) + "</span>"
                              : dash(d.verdict.a) + " (both)")
      << "</p>\n";
  if (d.regressions.empty()) {
    out << "<p class=\"ok\">No regression: B is not worse than A on verdict, rules or Phase A pairs.</p>\n";
  } else {
    out << "<p class=\"bad\">Regression: B is worse than A</p>\n<ul>\n";
    for (auto& r : d.regressions) out << "<li>" << e(r) << "</li>\n";
    out << "</ul>\n";
  }
  if (!d.has_changes()) {
    out << "<p>No differences.</p>\n</body></html>\n";
    return out.str();
  }
  if (!d.settings.empty()) {
    out << "<h2>Settings that changed</h2>\n<table><tr><th>setting</th><th>A</th><th>B</th></tr>\n";
    for (auto& c : d.settings)
      out << "<tr class=\"changed\"><td>" << e(c.name) << "</td><td>" << dash(c.a) << "</td><td>" << dash(c.b) << "</td></tr>\n";
    out << "</table>\n";
  }
  if (d.gate) gate_html(out, *d.gate);
  if (d.soak) soak_html(out, *d.soak);
  out << "</body></html>\n";
  return out.str();
}

}  // namespace x0x::proofs
