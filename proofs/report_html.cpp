// report.html: one self-contained file a reviewer opens from a bundle. Inline
// CSS and inline SVG only — no script and no URL of any kind, so it renders
// offline and cannot leak anything when opened. Every piece of input text
// (node names, messages, fault details) is escaped.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "proofs/html_util.h"
#include "proofs/phase_b_grid.h"
#include "proofs/render_text.h"
#include "proofs/renderers.h"

namespace x0x::proofs {

using nlohmann::json;
using namespace text;
using html::breakable;
using html::f1;
using html::short_label;

namespace {

std::string e(std::string_view s) { return html_escape(s); }

std::string status_class(std::optional<gates::ScenarioStatus> s) {
  using gates::ScenarioStatus;
  if (!s) return "fail";
  switch (*s) {
    case ScenarioStatus::pass: return "pass";
    case ScenarioStatus::not_run: return "not_run";
    case ScenarioStatus::fail:
    case ScenarioStatus::error: break;
  }
  return "fail";
}

std::string status_class(std::optional<gates::RuleStatus> s) {
  using gates::RuleStatus;
  if (!s) return "fail";
  switch (*s) {
    case RuleStatus::pass: return "pass";
    case RuleStatus::not_run: return "not_run";
    case RuleStatus::not_applicable: return "na";
    case RuleStatus::fail: break;
  }
  return "fail";
}

void header(std::ostringstream& out, const json& v) {
  bool go = is_go(v);
  out << "<header class=\"verdict " << (go ? "go" : "nogo") << "\"><div class=\"word\">" << (go ? "GO" : "NO-GO")
      << "</div><div class=\"meta\">Gate <b>" << e(str(v, "gate")) << "</b>";
  if (!str(v, "gate_source").empty()) out << " (" << e(str(v, "gate_source")) << ")";
  auto& nodes = at(v, "nodes");
  out << " · " << (nodes.is_array() ? nodes.size() : 0) << " nodes · " << at(v, "scenarios").size()
      << " scenario(s) · " << e(utc_time(generated_unix(v))) << " UTC</div></header>\n<main>\n";
}

void blocking(std::ostringstream& out, const json& v) {
  out << "<h2>Blocking</h2>\n";
  auto& b = at(v, "blocking");
  if (!b.is_array() || b.empty()) {
    out << "<p class=\"note\">" << (is_go(v) ? "Nothing blocks: every scenario passed." : "No blocking rule recorded.")
        << "</p>\n";
    return;
  }
  out << "<div class=\"wide\"><table><tr><th>scenario</th><th>rule</th><th>node</th><th>observed</th><th>threshold</th>"
         "<th>evidence</th><th>message</th></tr>\n";
  for (auto& x : b) {
    auto observed = str(x, "observed"), evidence = str(x, "evidence");
    out << "<tr><td>" << e(str(x, "scenario")) << "</td><td>" << breakable(str(x, "rule")) << "</td><td>" << e(str(x, "node"))
        << "</td><td class=\"num" << (observed.empty() ? "" : " fail") << "\">" << e(observed) << "</td><td class=\"num\">"
        << e(str(x, "threshold")) << "</td><td class=\"evidence\">"
        << (evidence.empty() ? std::string() : "<code>" + e(evidence) + "</code>") << "</td><td class=\"msg\">"
        << e(str(x, "message")) << "</td></tr>\n";
  }
  out << "</table></div>\n";
}

// Scenarios × rules; each cell coloured by status, naming the worst node.
void verdict_table(std::ostringstream& out, const json& v) {
  std::vector<std::string> rules;
  for (auto& s : at(v, "scenarios"))
    for (auto& r : at(s, "rules"))
      if (std::find(rules.begin(), rules.end(), str(r, "rule")) == rules.end()) rules.push_back(str(r, "rule"));
  out << "<h2>Verdict by scenario and rule</h2>\n<div class=\"wide\"><table class=\"grid\"><tr><th>scenario</th><th>status</th>";
  for (auto& r : rules) out << "<th>" << breakable(r) << "</th>";
  out << "</tr>\n";
  for (auto& s : at(v, "scenarios")) {
    auto status = str(s, "status");
    out << "<tr><th>" << e(str(s, "name")) << "</th><td class=\"" << status_class(scenario_status(s)) << "\">" << e(status) << "</td>";
    for (auto& rule : rules) {
      const json* found = nullptr;
      for (auto& r : at(s, "rules"))
        if (str(r, "rule") == rule) found = &r;
      if (!found) {
        out << "<td class=\"na\">-</td>";
        continue;
      }
      auto rs = str(*found, "status");
      auto typed = rule_status(*found);
      out << "<td class=\"" << status_class(typed) << "\" title=\"" << e(rule + ": " + rs) << "\">" << e(rs);
      if (typed == gates::RuleStatus::pass || typed == gates::RuleStatus::fail) {
        if (!str(*found, "worst_node").empty()) out << "<br>" << e(str(*found, "worst_node"));
        out << "<br>" << e(str(*found, "observed")) << " / " << e(str(*found, "threshold"));
      }
      out << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</table></div>\n";
}

// Rows are senders, columns receivers; the tooltip names the stage and latency.
void phase_a_heatmap(std::ostringstream& out, const json& pa) {
  std::vector<std::string> nodes;
  for (auto& n : at(pa, "nodes"))
    if (n.is_string()) nodes.push_back(n.get<std::string>());
  for (auto& p : at(pa, "pairs"))
    for (auto key : {"src", "dst"})
      if (std::find(nodes.begin(), nodes.end(), str(p, key)) == nodes.end()) nodes.push_back(str(p, key));
  out << "<h3>" << e(str(pa, "verdict").empty() ? std::string("Phase A") : str(pa, "verdict")) << "</h3>\n";
  if (nodes.empty()) {
    out << "<p class=\"note\">No pairs recorded.</p>\n";
    return;
  }
  std::map<std::pair<std::string, std::string>, const json*> cell;
  for (auto& p : at(pa, "pairs")) cell[{str(p, "src"), str(p, "dst")}] = &p;
  double size = std::clamp(560.0 / static_cast<double>(nodes.size()), 8.0, 36.0);
  double left = 120, top = 110;
  double w = left + size * static_cast<double>(nodes.size()) + 10, h = top + size * static_cast<double>(nodes.size()) + 10;
  out << "<svg width=\"" << f1(w) << "\" height=\"" << f1(h) << "\" viewBox=\"0 0 " << f1(w) << " " << f1(h)
      << "\" role=\"img\" aria-label=\"Phase A matrix\">\n";
  out << "<text x=\"4\" y=\"14\">src ↓  dst →</text>\n";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    double c = static_cast<double>(i) * size + size / 2;
    out << "<text x=\"" << f1(left - 6) << "\" y=\"" << f1(top + c + 4) << "\" text-anchor=\"end\"><title>" << e(nodes[i])
        << "</title>" << e(short_label(nodes[i])) << "</text>\n";
    out << "<text transform=\"translate(" << f1(left + c + 4) << "," << f1(top - 6) << ") rotate(-60)\"><title>" << e(nodes[i])
        << "</title>" << e(short_label(nodes[i])) << "</text>\n";
  }
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (std::size_t j = 0; j < nodes.size(); ++j) {
      std::string fill, tip;
      auto label = nodes[i] + " → " + nodes[j];
      auto it = cell.find({nodes[i], nodes[j]});
      if (i == j) {
        fill = "#d0d7de";
        tip = nodes[i] + " (self)";
      } else if (it == cell.end()) {
        fill = "#eaeef2";
        tip = label + ": no result";
      } else if (str(*it->second, "outcome") == "delivered") {
        fill = "#2da44e";
        auto& lat = at(*it->second, "latency_ms");
        tip = label + ": delivered" + (lat.is_number() ? " in " + number(lat) + " ms" : std::string()) +
              (str(*it->second, "path").empty() ? "" : " via " + str(*it->second, "path"));
      } else {
        fill = "#cf222e";
        tip = label + ": failed at stage '" + (str(*it->second, "stage").empty() ? "unknown" : str(*it->second, "stage")) + "'" +
              (str(*it->second, "detail").empty() ? "" : " (" + str(*it->second, "detail") + ")");
      }
      out << "<rect x=\"" << f1(left + static_cast<double>(j) * size) << "\" y=\"" << f1(top + static_cast<double>(i) * size)
          << "\" width=\"" << f1(size - 1) << "\" height=\"" << f1(size - 1) << "\" fill=\"" << fill << "\"><title>" << e(tip)
          << "</title></rect>\n";
    }
  out << "</svg>\n<div class=\"legend\"><span><i style=\"background:#2da44e\"></i>delivered</span><span><i "
         "style=\"background:#cf222e\"></i>failed</span><span><i style=\"background:#eaeef2\"></i>no result</span></div>\n";
}

// Phase B: a row per node, a cell per area of the flow (contacts, join,
// roster, reply, commits); the tooltip lists the checks that did not pass.
void phase_b_section(std::ostringstream& out, const json& pb) {
  auto g = phase_b_grid(pb);
  out << "<h3>" << e(g.verdict.empty() ? std::string("Phase B") : g.verdict) << "</h3>\n<table class=\"phase-b\">\n<tr><th>node</th>";
  for (auto a : kPhaseBAreas) out << "<th>" << e(a) << "</th>";
  out << "</tr>\n";
  for (auto& r : g.rows) {
    out << "<tr><th>" << e(r.node) << (r.anchor ? " <small>(anchor)</small>" : "") << "</th>";
    for (auto& c : r.cells) {
      std::string cls = c.empty() ? "missing" : c.failed ? "fail" : c.skipped ? "missing" : "pass";
      std::string tip;
      for (auto& f : c.failures) tip += (tip.empty() ? "" : "\n") + f;
      out << "<td class=\"" << cls << "\"" << (tip.empty() ? "" : " title=\"" + e(tip) + "\"") << ">" << e(c.text()) << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</table>\n";
  if (!g.failures.empty()) {
    out << "<ul>\n";
    for (auto& f : g.failures) out << "<li class=\"fail\">" << e(f) << "</li>\n";
    out << "</ul>\n";
  }
}

struct BarMetric {
  const char* label;
  const char* side;  // "delta" or "post"
  const char* counter;
  const char* threshold_key;
  const char* exemption;  // a node exempt from this rule here is drawn grey
};

constexpr BarMetric kBars[] = {
    {"dispatcher_timed_out Δ", "delta", "dispatcher_timed_out", "max_dispatcher_timed_out_delta", "dispatcher_timeout"},
    {"recv_pump.dropped_full Δ", "delta", "recv_pump_dropped_full", "max_recv_pump_dropped_full_delta", nullptr},
    {"per_peer_timeout Δ", "delta", "per_peer_timeout_count", "max_per_peer_timeout_delta", nullptr},
    {"suppressed_peers (post)", "post", "suppressed_peers_size", "max_suppressed_peers_steady", "suppression_ratio"},
    {"data_tx_high_water Δ", "delta", "data_tx_high_water_count", "max_data_tx_high_water_count_delta", nullptr},
};

// One small bar chart per gated counter: a bar per node, the gate as a dashed line.
void counter_bars(std::ostringstream& out, const json& v, const json& s, const std::vector<std::string>& names) {
  const double label_w = 120, chart_w = 220, row_h = 16, pad = 28;
  const double block_w = label_w + chart_w + 60;
  const int per_row = 3;
  int rows = (static_cast<int>(std::size(kBars)) + per_row - 1) / per_row;
  double block_h = pad + row_h * static_cast<double>(names.size()) + 12;
  double w = block_w * per_row, h = block_h * rows;
  out << "<svg width=\"" << f1(w) << "\" height=\"" << f1(h) << "\" viewBox=\"0 0 " << f1(w) << " " << f1(h)
      << "\" role=\"img\" aria-label=\"counter deltas\">\n";
  auto& thresholds = at(v, "thresholds");
  for (std::size_t m = 0; m < std::size(kBars); ++m) {
    auto& bar = kBars[m];
    double ox = block_w * static_cast<double>(m % per_row), oy = block_h * static_cast<double>(m / per_row);
    auto& thr = at(thresholds, bar.threshold_key);
    double max = thr.is_number() ? thr.get<double>() : 0;
    for (auto& n : names) {
      auto& val = at(at(at(at(s, "nodes"), n), bar.side), bar.counter);
      if (val.is_number()) max = std::max(max, val.get<double>());
    }
    if (max <= 0) max = 1;
    out << "<text x=\"" << f1(ox) << "\" y=\"" << f1(oy + 14) << "\" font-weight=\"bold\">" << e(bar.label)
        << (thr.is_number() ? " (gate " + number(thr) + ")" : std::string(" (not gated)")) << "</text>\n";
    for (std::size_t i = 0; i < names.size(); ++i) {
      double y = oy + pad + row_h * static_cast<double>(i);
      auto& val = at(at(at(at(s, "nodes"), names[i]), bar.side), bar.counter);
      out << "<text x=\"" << f1(ox + label_w - 6) << "\" y=\"" << f1(y + 11) << "\" text-anchor=\"end\"><title>" << e(names[i])
          << "</title>" << e(short_label(names[i])) << "</text>\n";
      if (!val.is_number()) {
        out << "<rect x=\"" << f1(ox + label_w) << "\" y=\"" << f1(y + 2) << "\" width=\"" << f1(chart_w) << "\" height=\""
            << f1(row_h - 4) << "\" fill=\"#eaeef2\" stroke=\"#8c959f\" stroke-dasharray=\"3 2\"><title>" << e(names[i])
            << ": unknown</title></rect><text x=\"" << f1(ox + label_w + 4) << "\" y=\"" << f1(y + 11)
            << "\" fill=\"#57606a\">unknown</text>\n";
        continue;
      }
      double d = val.get<double>();
      bool exempt = false;
      for (auto& x : at(at(at(s, "nodes"), names[i]), "exempt"))
        exempt = exempt || (bar.exemption && x.is_string() && x.get<std::string>() == bar.exemption);
      bool over = thr.is_number() && d > thr.get<double>();
      auto fill = exempt ? "#8c959f" : over ? "#cf222e" : "#0969da";
      double bw = std::max(d > 0 ? 2.0 : 0.0, chart_w * d / max);
      out << "<rect x=\"" << f1(ox + label_w) << "\" y=\"" << f1(y + 2) << "\" width=\"" << f1(bw) << "\" height=\""
          << f1(row_h - 4) << "\" fill=\"" << fill << "\"><title>" << e(names[i] + ": " + number(val) + (exempt ? " (exempt here)" : ""))
          << "</title></rect><text x=\"" << f1(ox + label_w + bw + 4) << "\" y=\"" << f1(y + 11) << "\">" << e(number(val))
          << (exempt ? " exempt" : "") << "</text>\n";
    }
    if (thr.is_number()) {
      double x = ox + label_w + chart_w * thr.get<double>() / max;
      out << "<line x1=\"" << f1(x) << "\" y1=\"" << f1(oy + pad - 2) << "\" x2=\"" << f1(x) << "\" y2=\""
          << f1(oy + pad + row_h * static_cast<double>(names.size())) << "\" stroke=\"#bf8700\" stroke-width=\"2\" "
          << "stroke-dasharray=\"4 3\"><title>gate " << e(number(thr)) << "</title></line>\n";
    }
  }
  out << "</svg>\n";
}

void counter_table(std::ostringstream& out, const json& s, const std::vector<std::string>& names) {
  struct Col {
    const char* head;
    const char* side;
    const char* key;
    int ratio_dp;  // -1: a counter
  };
  static const Col cols[] = {
      {"dispatcher_completed Δ", "delta", "dispatcher_completed", -1},
      {"dispatcher_timed_out Δ", "delta", "dispatcher_timed_out", -1},
      {"dropped_full Δ", "delta", "recv_pump_dropped_full", -1},
      {"produced Δ", "delta", "recv_pump_produced_total", -1},
      {"drop ratio", "ratios", "drop", 6},
      {"per_peer_timeout Δ", "delta", "per_peer_timeout_count", -1},
      {"pp_to/completed", "ratios", "per_peer_timeout", 3},
      {"suppressed (post)", "post", "suppressed_peers_size", -1},
      {"known pairs", "post", "known_peer_topic_pairs", -1},
      {"suppressed/known", "ratios", "suppression", 3},
      {"data_tx_high_water Δ", "delta", "data_tx_high_water_count", -1},
      {"gso_send Δ", "delta", "gso_bundle_send_total", -1},
  };
  out << "<div class=\"wide\"><table class=\"small\"><tr><th>node</th>";
  for (auto& c : cols) out << "<th>" << e(c.head) << "</th>";
  out << "<th>counter reset</th><th>exempt from</th><th>problems</th></tr>\n";
  std::map<std::string, bool> failing;
  for (auto& vi : at(s, "violations")) failing[str(vi, "node")] = true;
  for (auto& n : names) {
    auto& nd = at(at(s, "nodes"), n);
    out << "<tr><th" << (failing.count(n) ? " class=\"fail\"" : "") << ">" << e(n) << "</th>";
    for (auto& c : cols) {
      auto& val = at(at(nd, c.side), c.key);
      auto t = c.ratio_dp < 0 ? number(val) : ratio(val, c.ratio_dp);
      out << "<td class=\"num" << (t == "MISSING" ? " missing" : "") << "\">" << e(t) << "</td>";
    }
    auto reset = boolean(at(nd, "counter_reset"));
    std::string problems;
    for (auto& p : at(nd, "problems"))
      if (p.is_string()) problems += (problems.empty() ? "" : "; ") + p.get<std::string>();
    std::string exempt;
    for (auto& x : at(nd, "exempt"))
      if (x.is_string()) exempt += (exempt.empty() ? "" : ", ") + x.get<std::string>();
    out << "<td>" << e(reset) << "</td><td>" << e(exempt) << "</td><td>" << e(problems) << "</td></tr>\n";
  }
  out << "</table></div>\n";
}

// Scenario start..end on the x axis, one lane per node that had a fault;
// overlapping faults on a node stack in rows inside its lane.
void fault_timeline(std::ostringstream& out, const json& s) {
  auto& faults = at(s, "faults");
  out << "<h3>Fault timeline</h3>\n";
  if (!faults.is_array() || faults.empty()) {
    out << "<p class=\"note\">No fault was injected in this scenario.</p>\n";
    return;
  }
  double t0 = num(s, "started_unix"), t1 = num(s, "ended_unix");
  // Without recorded scenario times, the faults' own extent is the axis.
  double first = 0, last = 0;
  for (auto& f : faults) {
    double fs = num(f, "start_unix"), fe = num(f, "end_unix");
    if (fs > 0 && (first == 0 || fs < first)) first = fs;
    last = std::max({last, fs, fe});
  }
  if (t0 <= 0) t0 = first;
  if (t1 <= t0) t1 = last;
  double span = std::max(t1 - t0, 1.0);
  auto end_of = [&](const json& f) { return num(f, "end_unix") > 0 ? num(f, "end_unix") : t1; };  // 0: never cleared

  struct Lane {
    std::string node;
    std::vector<double> row_ends;  // greedy packing: the end of the last fault in each row
  };
  std::vector<Lane> lanes;
  std::vector<std::pair<std::size_t, std::size_t>> place;  // per fault: lane, row
  for (auto& f : faults) {
    auto it = std::find_if(lanes.begin(), lanes.end(), [&](const Lane& l) { return l.node == str(f, "node"); });
    if (it == lanes.end()) it = lanes.insert(lanes.end(), Lane{str(f, "node"), {}});
    std::size_t row = 0;
    while (row < it->row_ends.size() && it->row_ends[row] > num(f, "start_unix")) ++row;
    if (row == it->row_ends.size()) it->row_ends.push_back(0);
    it->row_ends[row] = end_of(f);
    place.emplace_back(static_cast<std::size_t>(it - lanes.begin()), row);
  }
  const double left = 130, width = 760, row_h = 24, top = 10, gap = 6;
  std::vector<double> lane_y;
  double y = top;
  for (auto& l : lanes) {
    lane_y.push_back(y);
    y += row_h * static_cast<double>(l.row_ends.size()) + gap;
  }
  double axis_y = y, h = axis_y + 40;
  auto x_of = [&](double t) { return left + width * std::clamp((t - t0) / span, 0.0, 1.0); };
  out << "<svg width=\"" << f1(left + width + 20) << "\" height=\"" << f1(h) << "\" viewBox=\"0 0 " << f1(left + width + 20) << " "
      << f1(h) << "\" role=\"img\" aria-label=\"fault timeline\">\n";
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    double lh = row_h * static_cast<double>(lanes[i].row_ends.size());
    out << "<rect x=\"" << f1(left) << "\" y=\"" << f1(lane_y[i]) << "\" width=\"" << f1(width) << "\" height=\"" << f1(lh)
        << "\" fill=\"#f6f8fa\" stroke=\"#d0d7de\"/>\n<text x=\"" << f1(left - 6) << "\" y=\"" << f1(lane_y[i] + lh / 2 + 4)
        << "\" text-anchor=\"end\"><title>" << e(lanes[i].node) << "</title>" << e(short_label(lanes[i].node, 18)) << "</text>\n";
  }
  // Ticks at a round step giving about 8 intervals.
  double raw = span / 8, step = 3600;
  for (double c : {1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0})
    if (c >= raw) {
      step = c;
      break;
    }
  for (double t = 0; t <= span + 1e-9; t += step) {
    double x = x_of(t0 + t);
    out << "<line x1=\"" << f1(x) << "\" y1=\"" << f1(top) << "\" x2=\"" << f1(x) << "\" y2=\"" << f1(axis_y + 2)
        << "\" stroke=\"#d0d7de\"/><text x=\"" << f1(x) << "\" y=\"" << f1(axis_y + 14) << "\" text-anchor=\"middle\">"
        << number(t) << "s</text>\n";
  }
  out << "<text x=\"" << f1(left + width) << "\" y=\"" << f1(axis_y + 30) << "\" text-anchor=\"end\">seconds since the scenario "
      << "started (" << e(utc_time(t0)) << " UTC)</text>\n";
  static const char* palette[] = {"#cf222e", "#8250df", "#bf8700", "#0969da", "#1a7f37", "#bc4c00"};
  std::map<std::string, const char*> colour;
  std::size_t i = 0;
  for (auto& f : faults) {
    auto kind = str(f, "kind");
    if (!colour.count(kind)) colour[kind] = palette[colour.size() % std::size(palette)];
    auto [lane, row] = place[i++];
    double fs = num(f, "start_unix");
    bool open = num(f, "end_unix") <= 0;  // never observed cleared: shaded to the end, outlined dashed
    double x0 = x_of(fs), x1 = x_of(end_of(f)), ry = lane_y[lane] + row_h * static_cast<double>(row);
    auto tip = str(f, "node") + ": " + kind + " from " + number(std::round((fs - t0) * 10) / 10) + "s to " +
               (open ? std::string("(never cleared)") : number(std::round((end_of(f) - t0) * 10) / 10) + "s") +
               (str(f, "detail").empty() ? "" : " — " + str(f, "detail"));
    out << "<rect x=\"" << f1(x0) << "\" y=\"" << f1(ry + 3) << "\" width=\"" << f1(std::max(x1 - x0, 2.0)) << "\" height=\""
        << f1(row_h - 6) << "\" fill=\"" << colour[kind] << "\" fill-opacity=\"0.45\" stroke=\"" << colour[kind] << "\""
        << (open ? " stroke-dasharray=\"5 3\"" : "") << "><title>" << e(tip) << "</title></rect>\n";
    out << "<text x=\"" << f1(x0 + 4) << "\" y=\"" << f1(ry + row_h / 2 + 4) << "\">" << e(kind) << "</text>\n";
  }
  out << "</svg>\n<ul>\n";
  for (auto& f : faults)
    out << "<li><b>" << e(str(f, "node")) << "</b> " << e(str(f, "kind")) << ": " << e(str(f, "detail")) << "</li>\n";
  out << "</ul>\n";
}

void scenario_section(std::ostringstream& out, const json& v, const json& s, std::size_t index) {
  auto status = str(s, "status");
  out << "<h2 id=\"scenario-" << index << "\">Scenario " << e(str(s, "name")) << " <span class=\"badge " << status_class(scenario_status(s))
      << "\">" << e(status) << "</span></h2>\n";
  if (scenario_status(s) == gates::ScenarioStatus::not_run) {
    out << "<p class=\"reason\">Not run: " << e(str(s, "reason")) << ". A requested scenario that did not run makes the run "
        << "NO-GO.</p>\n";
    return;
  }
  if (!str(s, "reason").empty()) out << "<p class=\"reason\">" << e(str(s, "reason")) << "</p>\n";
  for (auto& w : at(s, "warnings"))
    if (w.is_string()) out << "<p class=\"reason\">Warning: " << e(w.get<std::string>()) << "</p>\n";
  double start = num(s, "started_unix"), end = num(s, "ended_unix");
  out << "<p>";
  if (start > 0 && end >= start) out << "Duration " << f1(end - start) << " s · ";
  auto& metrics = at(s, "metrics");
  if (metrics.is_object())
    for (auto& [k, val] : metrics.items()) out << e(k) << " <code>" << e(scalar(val)) << "</code> ";
  out << "</p>\n";
  if (auto& vs = at(s, "violations"); vs.is_array() && !vs.empty()) {
    out << "<ul>\n";
    for (auto& vi : vs) out << "<li class=\"fail\">" << e(str(vi, "message")) << "</li>\n";
    out << "</ul>\n";
  }
  if (at(s, "phase_a").is_object()) phase_a_heatmap(out, s["phase_a"]);
  if (at(s, "phase_b").is_object()) phase_b_section(out, s["phase_b"]);
  auto names = scenario_nodes(v, s);
  out << "<h3>Per-node counters</h3>\n";
  counter_bars(out, v, s, names);
  counter_table(out, s, names);
  fault_timeline(out, s);
}

}  // namespace

std::string render_report_html(const json& v) {
  std::ostringstream out;
  bool go = is_go(v);
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>x0x gate " << (go ? "GO" : "NO-GO")
      << " — " << e(str(v, "gate")) << "</title>\n<style>" << html::kBaseStyle << "</style>\n</head>\n<body>\n";
  header(out, v);
  blocking(out, v);
  verdict_table(out, v);
  std::size_t index = 0;
  for (auto& s : at(v, "scenarios")) scenario_section(out, v, s, ++index);
  out << "</main>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace x0x::proofs
