// report.html of a soak: one self-contained file (inline CSS and SVG, no
// script, no URL) a reviewer opens from the soak bundle. Per-node time series
// across the windows, with every window's class shaded on every plot (so a
// spike lines up with its verdict) and the burn-rate alerts marked under the
// time axis. Unknown values are gaps in a line, never 0. All text from
// soak.json is escaped.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include "proofs/html_util.h"
#include "proofs/render_text.h"
#include "proofs/soak_renderers.h"
#include "proofs/soak_view.h"

namespace x0x::proofs {

using nlohmann::json;
using text::at;
using text::str;
using namespace soak_view;
using html::f1;

namespace {

std::string e(std::string_view s) { return text::html_escape(s); }

constexpr const char* kSoakStyle = R"(
.tolerated { background: #fff1c2; color: #7d4e00; }
svg.series { display: block; margin: 4px 0 2px; }
.legend .line i { height: 4px; vertical-align: 3px; }
p.caption { margin: 0 0 4px; color: #57606a; font-size: 13px; }
td.nowrap { white-space: nowrap; }
)";

// Shading of a window's band on every plot, by its class.
struct Shade {
  const char* css;  // class on the <rect>, also what tests look for
  const char* fill;
  const char* opacity;
  const char* label;
};
std::optional<Shade> shade_of(const std::string& cls) {
  if (is_tolerated(cls)) return Shade{"shade tolerated", "#d4a72c", "0.30", "tolerated"};
  if (cls == "effective_failed") return Shade{"shade failed", "#cf222e", "0.22", "effective failed"};
  if (cls == "warmup" || cls == "not_counted") return Shade{"shade not-counted", "#8c959f", "0.25", "not counted"};
  return std::nullopt;
}

// The time axis: one band per window slot, in soak.json order.
struct Axis {
  std::vector<int> index;          // window index per position
  std::vector<std::string> cls;    // window class per position ("" unknown)
  std::vector<std::string> label;  // tooltip per position
  std::map<int, std::size_t> position_of;
};

Axis make_axis(const json& soak) {
  Axis a;
  std::size_t p = 0;
  for (auto* w : windows(soak)) {
    int index = window_index(*w, p);
    auto cls = window_class(*w);
    if (cls.empty() && !counted(*w)) cls = "not_counted";
    a.index.push_back(index);
    a.cls.push_back(cls);
    auto start = finite(at(*w, "start_unix"));
    if (!start || *start <= 0) start = finite(at(*w, "slot_unix"));
    a.label.push_back("window " + std::to_string(index) + " · " + window_verdict(*w) + (cls.empty() ? "" : " · " + cls) +
                      (start && *start > 0 ? " · " + text::utc_time(*start) + " UTC" : ""));
    a.position_of.emplace(index, p++);
  }
  return a;
}

struct Series {
  std::string name, colour;
  std::vector<std::optional<double>> values;  // per axis position; nullopt: a gap
  bool fleet = false;                         // the fleet-wide line, drawn dark and dashed
};

struct Alert {
  std::string name;
  std::vector<int> fired, guarded;
};

std::vector<Alert> burn_alerts(const json& soak) {
  std::vector<Alert> out;
  auto& alerts = at(at(at(soak, "policy"), "burn_rate"), "alerts");
  if (!alerts.is_array()) return out;
  for (auto& a : alerts) {
    Alert x{str(a, "name").empty() ? "?" : str(a, "name"), {}, {}};
    for (auto [key, into] : {std::pair{"fired_windows", &x.fired}, std::pair{"guarded_windows", &x.guarded}})
      if (auto& l = at(a, key); l.is_array())
        for (auto& i : l)
          if (i.is_number_integer()) into->push_back(static_cast<int>(i.get<long long>()));
    out.push_back(std::move(x));
  }
  return out;
}

// A round upper bound for the y axis (1, 2, 5 × 10^k).
double nice_max(double m) {
  if (!(m > 0)) return 1;
  double p = std::pow(10.0, std::floor(std::log10(m)));
  for (double f : {1.0, 2.0, 5.0, 10.0})
    if (f * p >= m) return f * p;
  return 10 * p;
}

std::string tick_text(double v) { return num(json(std::round(v * 1000) / 1000)); }

void line_chart(std::ostringstream& out, const std::string& metric, const std::string& title, const std::string& caption,
                const Axis& axis, const std::vector<Series>& series, const std::vector<Alert>& alerts) {
  const double left = 78, right = 16, top = 12, plot_h = 190, width = 1100;
  const double plot_w = width - left - right, label_h = 20, alert_h = 15;
  double height = top + plot_h + label_h + alert_h * static_cast<double>(alerts.size()) + 8;
  std::size_t n = std::max<std::size_t>(axis.index.size(), 1);
  double band = plot_w / static_cast<double>(n);
  auto x_of = [&](std::size_t p) { return left + band * (static_cast<double>(p) + 0.5); };
  double max = 0;
  for (auto& s : series)
    for (auto& v : s.values)
      if (v) max = std::max(max, *v);
  max = nice_max(max);
  auto y_of = [&](double v) { return top + plot_h - plot_h * std::clamp(v / max, 0.0, 1.0); };

  out << "<h3>" << e(title) << "</h3>\n<p class=\"caption\">" << e(caption) << "</p>\n";
  out << "<svg class=\"series\" data-metric=\"" << e(metric) << "\" width=\"" << f1(width) << "\" height=\"" << f1(height)
      << "\" viewBox=\"0 0 " << f1(width) << " " << f1(height) << "\" role=\"img\" aria-label=\"" << e(title) << "\">\n";
  // Window classes first, under everything else.
  for (std::size_t p = 0; p < axis.index.size(); ++p)
    if (auto sh = shade_of(axis.cls[p]))
      out << "<rect class=\"" << sh->css << "\" data-window=\"" << axis.index[p] << "\" x=\"" << f1(left + band * static_cast<double>(p))
          << "\" y=\"" << f1(top) << "\" width=\"" << f1(band) << "\" height=\"" << f1(plot_h) << "\" fill=\"" << sh->fill
          << "\" fill-opacity=\"" << sh->opacity << "\"><title>" << e(axis.label[p]) << "</title></rect>\n";
  for (int t = 0; t <= 4; ++t) {
    double v = max * t / 4, y = y_of(v);
    out << "<line x1=\"" << f1(left) << "\" y1=\"" << f1(y) << "\" x2=\"" << f1(left + plot_w) << "\" y2=\"" << f1(y)
        << "\" stroke=\"#d0d7de\"" << (t ? " stroke-dasharray=\"2 3\"" : "") << "/><text x=\"" << f1(left - 6) << "\" y=\""
        << f1(y + 4) << "\" text-anchor=\"end\">" << e(tick_text(v)) << "</text>\n";
  }
  out << "<line x1=\"" << f1(left) << "\" y1=\"" << f1(top) << "\" x2=\"" << f1(left) << "\" y2=\"" << f1(top + plot_h)
      << "\" stroke=\"#8c959f\"/>\n";
  // Window labels, thinned so they never overlap.
  std::size_t every = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(28.0 / band)));
  for (std::size_t p = 0; p < axis.index.size(); p += every)
    out << "<text x=\"" << f1(x_of(p)) << "\" y=\"" << f1(top + plot_h + 14) << "\" text-anchor=\"middle\">" << axis.index[p]
        << "</text>\n";
  for (auto& s : series) {
    std::string d;
    bool pen_down = false;
    for (std::size_t p = 0; p < s.values.size() && p < axis.index.size(); ++p) {
      if (!s.values[p]) {
        pen_down = false;  // unknown: the line breaks here
        continue;
      }
      d += (pen_down ? " L" : (d.empty() ? "M" : " M")) + f1(x_of(p)) + " " + f1(y_of(*s.values[p]));
      pen_down = true;
    }
    auto stroke = s.fleet ? std::string("#1f2328") : s.colour;
    if (!d.empty())
      out << "<path class=\"line\" data-node=\"" << e(s.name) << "\" d=\"" << d << "\" fill=\"none\" stroke=\"" << stroke
          << "\" stroke-width=\"" << (s.fleet ? "2.5" : "1.8") << "\"" << (s.fleet ? " stroke-dasharray=\"6 3\"" : "")
          << "/>\n";
    for (std::size_t p = 0; p < s.values.size() && p < axis.index.size(); ++p)
      if (s.values[p])
        out << "<circle cx=\"" << f1(x_of(p)) << "\" cy=\"" << f1(y_of(*s.values[p])) << "\" r=\"2.6\" fill=\"" << stroke
            << "\"><title>" << e(s.name + " · window " + std::to_string(axis.index[p]) + ": " + num(json(*s.values[p])))
            << "</title></circle>\n";
  }
  // One marker row per burn-rate alert under the axis: filled = fired, hollow = held by the low-volume guard.
  double row_y = top + plot_h + label_h;
  for (auto& a : alerts) {
    out << "<text x=\"" << f1(left - 6) << "\" y=\"" << f1(row_y + 10) << "\" text-anchor=\"end\">" << e(html::short_label(a.name, 12))
        << "</text><line x1=\"" << f1(left) << "\" y1=\"" << f1(row_y + 6) << "\" x2=\"" << f1(left + plot_w) << "\" y2=\""
        << f1(row_y + 6) << "\" stroke=\"#eaeef2\"/>\n";
    for (auto [list, fired] : {std::pair{&a.fired, true}, std::pair{&a.guarded, false}})
      for (int i : *list) {
        auto it = axis.position_of.find(i);
        if (it == axis.position_of.end()) continue;
        out << "<rect class=\"burn-marker " << (fired ? "fired" : "guarded") << "\" data-alert=\"" << e(a.name)
            << "\" data-window=\"" << i << "\" x=\"" << f1(x_of(it->second) - 5) << "\" y=\"" << f1(row_y + 1) << "\" width=\"10\" height=\"10\" "
            << (fired ? "fill=\"#cf222e\"" : "fill=\"#fff\" stroke=\"#6e7781\"") << "><title>"
            << e(a.name + (fired ? " fired" : " held by the low-volume guard") + " at the end of window " + std::to_string(i))
            << "</title></rect>\n";
      }
    row_y += alert_h;
  }
  out << "</svg>\n<div class=\"legend\">";
  for (auto& s : series) {
    bool any = std::any_of(s.values.begin(), s.values.end(), [](auto& v) { return v.has_value(); });
    out << "<span class=\"line\"><i style=\"background:" << (s.fleet ? "#1f2328" : s.colour) << "\"></i>" << e(s.name)
        << (any ? "" : " <small>(no data)</small>") << "</span>";
  }
  out << "</div>\n";
}

// A per-node series from each window: value(window, node json, continuous node json).
using NodeValue = std::function<std::optional<double>(const json& w, const json& node, const json& cont_node, bool has_cont)>;

std::vector<Series> node_series(const json& soak, const std::vector<std::string>& names, const NodeValue& value) {
  std::vector<Series> out;
  auto ws = windows(soak);
  for (std::size_t i = 0; i < names.size(); ++i) {
    Series s{names[i], html::series_colour(i), {}, false};
    for (auto* w : ws) {
      auto& node = at(at(*w, "nodes"), names[i]);
      auto& cont = continuous(*w);
      s.values.push_back(value(*w, node, at(at(cont, "nodes"), names[i]), !cont.is_null()));
    }
    out.push_back(std::move(s));
  }
  return out;
}

Series fleet_series(const json& soak, const std::function<std::optional<double>(const json& w)>& value) {
  Series s{"fleet", "#1f2328", {}, true};
  for (auto* w : windows(soak)) s.values.push_back(value(*w));
  return s;
}

// The continuous per-node delta where the window has an accounting, else the scenario's (§5.2 fallback).
NodeValue continuous_or(const char* cont_key, const char* scenario_key) {
  return [=](const json&, const json& node, const json& cont_node, bool has_cont) {
    return has_cont ? finite(at(cont_node, cont_key)) : finite(at(node, scenario_key));
  };
}

NodeValue field(const char* key) {
  return [=](const json&, const json& node, const json&, bool) { return finite(at(node, key)); };
}

std::optional<double> share(const json& num_v, const json& den_v) {
  auto n = finite(num_v), d = finite(den_v);
  if (!n || !d || *d <= 0) return std::nullopt;
  return *n / *d;
}

void header(std::ostringstream& out, const json& soak) {
  auto verdict = overall(soak);
  auto css = verdict == "GO" ? "go" : verdict == "INTERRUPTED" ? "interrupted" : "nogo";
  auto& config = at(soak, "config");
  std::size_t total = 0, counted_n = 0;
  double first = 0, last = 0;
  for (auto* w : windows(soak)) {
    ++total;
    counted_n += counted(*w);
    auto s = finite(at(*w, "start_unix")), en = finite(at(*w, "end_unix"));
    if (s && *s > 0 && (first == 0 || *s < first)) first = *s;
    if (en && *en > last) last = *en;
  }
  out << "<header class=\"verdict " << css << "\"><div class=\"word\">" << verdict << "</div><div class=\"meta\">Soak · gate <b>"
      << e(str(config, "gate").empty() ? "?" : str(config, "gate")) << "</b> · variant <b>"
      << e(str(config, "variant").empty() ? "?" : str(config, "variant")) << "</b> · " << counted_n << " counted window(s) of "
      << total << " slot(s)";
  if (last > first && first > 0) out << " · ran " << f1((last - first) / 3600) << " h";
  if (auto planned = finite(at(config, "duration_secs")); planned && *planned > 0) out << " (planned " << f1(*planned / 3600) << " h)";
  if (first > 0) out << " · from " << e(text::utc_time(first)) << " UTC";
  out << "</div></header>\n<main>\n";
  if (verdict == "INTERRUPTED")
    out << "<p class=\"reason\">The soak was interrupted before its last window: it certifies nothing. The windows that "
           "finished give <b>"
        << (str(soak, "partial_verdict") == "GO" ? "GO" : "NO-GO") << "</b>.</p>\n";
}

std::string pass_cell(const json& passed) {
  if (passed == true) return "<td class=\"pass\">pass</td>";
  if (passed == false) return "<td class=\"fail\">fail</td>";
  return "<td class=\"fail\">?</td>";
}

void policy_section(std::ostringstream& out, const json& soak) {
  auto& policy = at(soak, "policy");
  auto& noise = at(policy, "dispatcher_noise");
  auto& agg = at(policy, "aggregate_phase_a");
  auto& cum = at(policy, "cumulative");
  out << "<h2>Policy</h2>\n<table class=\"policy\"><tr><th>check</th><th>status</th><th>observed</th></tr>\n";
  out << "<tr><th>dispatcher noise policy</th>" << pass_cell(at(noise, "passed")) << "<td><b>"
      << e(str(noise, "verdict").empty() ? "?" : str(noise, "verdict")) << "</b> · timeouts " << e(num(at(noise, "total_disp"), "?"))
      << " / completions " << e(num(at(noise, "total_completed"), "?")) << " = " << e(ratio(at(noise, "total_ratio"), 8, "?"))
      << " · max window ratio " << e(ratio(at(noise, "max_window_ratio"), 8, "?")) << " · max consecutive anomalies "
      << e(num(at(noise, "max_consecutive_anomalies"), "?")) << " · anomaly windows " << e(index_list(at(noise, "anomaly_windows")))
      << "</td></tr>\n";
  out << "<tr><th>aggregate Phase A</th>" << pass_cell(at(agg, "pass")) << "<td><b>" << e(str(agg, "status").empty() ? "?" : str(agg, "status"))
      << "</b> · sent " << e(num(at(agg, "sent"), "?")) << "/" << e(num(at(agg, "target"), "?")) << " ("
      << e(ratio(at(agg, "sent_ratio"), 4, "?")) << ") · received " << e(num(at(agg, "received"), "?")) << "/"
      << e(num(at(agg, "target"), "?")) << " (" << e(ratio(at(agg, "recv_ratio"), 4, "?")) << "), gate ≥ 0.98</td></tr>\n";
  out << "<tr><th>cumulative</th><td class=\"na\">-</td><td>dispatcher timeouts " << e(num(at(cum, "dispatcher_timeouts"), "?"))
      << " · drop-full " << e(num(at(cum, "drop_full"), "?")) << " · completions " << e(num(at(cum, "completions"), "?"))
      << " · timeouts/completions " << e(ratio(at(cum, "timeout_ratio"), 8, "?")) << " · per-peer timeouts/completions "
      << e(ratio(at(cum, "per_peer_ratio"), 8, "?")) << "</td></tr>\n";
  out << "<tr><th>windows</th><td class=\"na\">-</td><td>tolerated dispatcher-only " << e(index_list(at(policy, "tolerated_dispatcher_windows")))
      << " · tolerated Phase A tail " << e(index_list(at(policy, "tolerated_phase_a_windows"))) << " · tolerated infra "
      << e(index_list(at(policy, "tolerated_infra_phase_a_windows"))) << " · effective failed "
      << e(index_list(at(policy, "effective_failed"))) << " · missing " << e(index_list(at(policy, "missing_windows")))
      << " · unaccounted gaps " << e(index_list(at(policy, "unaccounted_gap_windows"))) << "</td></tr>\n</table>\n";

  out << "<h3>Rules</h3>\n";
  auto& rules = at(soak, "rules");
  if (!rules.is_array() || rules.empty()) {
    out << "<p class=\"note\">No rule recorded.</p>\n";
  } else {
    out << "<table class=\"rules\"><tr><th>rule</th><th>status</th><th>detail</th></tr>\n";
    for (auto& r : rules) {
      bool pass = str(r, "status") == "pass";
      out << "<tr><td>" << html::breakable(str(r, "rule").empty() ? "?" : str(r, "rule")) << "</td><td class=\""
          << (pass ? "pass" : "fail") << "\">" << e(str(r, "status").empty() ? "?" : str(r, "status")) << "</td><td>"
          << e(str(r, "detail")) << "</td></tr>\n";
    }
    out << "</table>\n";
  }

  auto& burn = at(policy, "burn_rate");
  out << "<h3>Burn rate (SRE multi-window, advisory)</h3>\n<p class=\"note\">The reference policy above decides the verdict; "
         "the burn rate is advisory. Budget "
      << e(ratio(at(burn, "budget_ratio"), 8, "?")) << " timeouts per completion; consumed "
      << e(ratio(at(burn, "budget_consumed"), 3, "?")) << " of it.</p>\n";
  auto& alerts = at(burn, "alerts");
  if (alerts.is_array() && !alerts.empty()) {
    out << "<table class=\"burn\"><tr><th>alert</th><th>burn threshold</th><th>long / short window</th><th>fired</th>"
           "<th>guarded (low volume)</th><th>max long burn</th></tr>\n";
    for (auto& a : alerts) {
      auto fired = index_list(at(a, "fired_windows"));
      out << "<tr><td>" << e(str(a, "name").empty() ? "?" : str(a, "name")) << "</td><td class=\"num\">"
          << e(num(at(a, "burn_threshold"), "?")) << "</td><td class=\"num\">" << e(num(at(a, "long_windows"), "?")) << " / "
          << e(num(at(a, "short_windows"), "?")) << "</td><td" << (fired == "none" ? "" : " class=\"fail\"") << ">" << e(fired)
          << "</td><td>" << e(index_list(at(a, "guarded_windows"))) << "</td><td class=\"num\">"
          << e(ratio(at(a, "max_long_burn"), 3, "?")) << "</td></tr>\n";
    }
    out << "</table>\n";
  }
}

void plots(std::ostringstream& out, const json& soak) {
  auto axis = make_axis(soak);
  auto names = node_names(soak);
  auto alerts = burn_alerts(soak);
  out << "<h2>Time series</h2>\n<div class=\"legend\"><span><i style=\"background:#d4a72c;opacity:.5\"></i>tolerated window</span>"
         "<span><i style=\"background:#cf222e;opacity:.4\"></i>effective failed</span><span><i style=\"background:#8c959f;"
         "opacity:.5\"></i>warm-up / skipped / interrupted</span><span><i style=\"background:#cf222e\"></i>burn-rate alert fired"
         "</span><span><i style=\"background:#fff;border:1px solid #6e7781\"></i>alert held (low volume)</span></div>\n";
  if (axis.index.empty()) {
    out << "<p class=\"note\">No window recorded.</p>\n";
    return;
  }
  const char* per_window = "x: window number. A gap in a line: the value is unknown for that window.";
  line_chart(out, "disp_to", "Dispatcher timeouts per window",
             std::string("Per node: continuous post-to-post accounting; the scenario delta where a window has no snapshots. ") +
                 per_window,
             axis, node_series(soak, names, continuous_or("disp", "disp_to")), alerts);
  line_chart(out, "drop_full", "recv_pump drop-full per window", std::string("Per node, same source. ") + per_window, axis,
             node_series(soak, names, continuous_or("drop", "drop_full")), alerts);
  line_chart(out, "pp_to", "Per-peer timeouts per window", std::string("Per node, same source. ") + per_window, axis,
             node_series(soak, names, continuous_or("pp", "pp_to")), alerts);
  line_chart(out, "suppressed", "Suppressed peers (post)", std::string("Per node, at the window's post snapshot. ") + per_window,
             axis, node_series(soak, names, field("suppressed")), alerts);
  {
    auto s = node_series(soak, names, [](const json&, const json& node, const json&, bool) {
      return share(at(node, "phase_a_delivered"), at(node, "phase_a_expected"));
    });
    s.push_back(fleet_series(soak, [](const json& w) { return share(at(at(w, "phase_a"), "received"), at(at(w, "phase_a"), "expected")); }));
    line_chart(out, "phase_a_delivered", "Phase A delivered / expected",
               std::string("Per sender, and the fleet (dashed: received / expected pairs). ") + per_window, axis, s, alerts);
  }
  for (auto [metric, title] : {std::pair{"phase_a_p50_ms", "Phase A latency p50 (ms)"}, std::pair{"phase_a_p99_ms", "Phase A latency p99 (ms)"}}) {
    auto s = node_series(soak, names, field(metric));
    auto key = std::string(metric) == "phase_a_p50_ms" ? "p50_ms" : "p99_ms";
    s.push_back(fleet_series(soak, [key](const json& w) { return finite(at(at(w, "phase_a"), key)); }));
    line_chart(out, metric, title, std::string("Per sender, and the fleet (dashed). ") + per_window, axis, s, alerts);
  }
  line_chart(out, "rss_kb", "Resident memory (RSS, kB)", std::string("Per node's process, from the window's harvest. ") + per_window,
             axis, node_series(soak, names, field("rss_kb")), alerts);
  line_chart(out, "cpu_seconds", "CPU seconds", std::string("Per node's process, from the window's harvest. ") + per_window,
             axis, node_series(soak, names, field("cpu_seconds")), alerts);
}

// -1: the window's gate run never started.
std::string exit_text(const json& code) {
  if (code.is_number_integer() && code.get<long long>() < 0) return "-";
  return e(num(code, "?"));
}

std::string row_class(const std::string& cls) {
  if (cls == "clean") return "pass";
  if (is_tolerated(cls)) return "tolerated";
  if (cls == "effective_failed") return "fail";
  if (cls == "warmup" || cls == "not_counted") return "na";
  return "";
}

void window_table(std::ostringstream& out, const json& soak) {
  out << "<h2>Windows</h2>\n<div class=\"wide\"><table class=\"small windows\"><tr><th>#</th><th>slot (UTC)</th><th>state</th>"
         "<th>verdict</th><th>class</th><th>exit</th><th>Phase A recv / sent / expected</th><th>p50 / p99 ms</th>"
         "<th>continuous disp / drop / pp / completed</th><th>gaps</th><th>violations</th><th>note</th></tr>\n";
  std::size_t p = 0;
  for (auto* wp : windows(soak)) {
    auto& w = *wp;
    int index = window_index(w, p++);
    auto cls = window_class(w);
    auto& pa = at(w, "phase_a");
    auto& c = continuous(w);
    auto slot = finite(at(w, "slot_unix"));
    std::string violations;
    if (auto& vs = at(w, "violations"); vs.is_array())
      for (auto& v : vs)
        violations += "<li>" + e(!str(v, "message").empty() ? str(v, "message")  // the sentence names its node
                                 : (str(v, "node").empty() ? "" : str(v, "node") + ": ") + str(v, "rule")) + "</li>";
    auto gaps = join_strings(at(c, "gaps"), "; ");
    out << "<tr class=\"" << row_class(cls) << "\" data-window=\"" << index << "\"><td class=\"num\">" << index << "</td><td class=\"nowrap\">"
        << (slot && *slot > 0 ? e(text::utc_time(*slot)) : "?") << "</td><td>" << e(str(w, "state")) << "</td><td>"
        << e(window_verdict(w)) << "</td><td>" << e(cls.empty() ? "?" : cls) << (at(w, "warmup") == true ? " (warm-up)" : "")
        << "</td><td class=\"num\">" << exit_text(at(w, "exit_code")) << "</td><td class=\"num\">" << e(num(at(pa, "received"), "?"))
        << " / " << e(num(at(pa, "sent"), "?")) << " / " << e(num(at(pa, "expected"), "?")) << "</td><td class=\"num\">"
        << e(num(at(pa, "p50_ms"), "?")) << " / " << e(num(at(pa, "p99_ms"), "?")) << "</td><td class=\"num\">"
        << (c.is_null() ? std::string("no snapshots")
                        : e(num(at(c, "sum_disp"), "?") + " / " + num(at(c, "sum_drop"), "?") + " / " + num(at(c, "sum_pp"), "?") +
                            " / " + num(at(c, "sum_completed"), "?")))
        << "</td><td>" << e(gaps.empty() ? "none" : gaps) << "</td><td>"
        << (violations.empty() ? std::string() : "<ul>" + violations + "</ul>") << "</td><td>" << e(str(w, "note")) << "</td></tr>\n";
  }
  out << "</table></div>\n";
}

void gaps_and_warnings(std::ostringstream& out, const json& soak) {
  auto& gaps = at(soak, "gaps");
  if (gaps.is_array() && !gaps.empty()) {
    out << "<h2>Orchestrator gaps</h2>\n<ul>\n";
    for (auto& g : gaps) {
      auto from = finite(at(g, "from_unix")), to = finite(at(g, "to_unix"));
      out << "<li>" << (from ? e(text::utc_time(*from)) + " UTC" : std::string("?")) << " → "
          << (to ? e(text::utc_time(*to)) + " UTC" : std::string("?")) << ", slots " << e(index_list(at(g, "slots"))) << ": "
          << e(str(g, "why").empty() ? "?" : str(g, "why")) << "</li>\n";
    }
    out << "</ul>\n";
  }
  auto& ws = at(soak, "warnings");
  if (ws.is_array() && !ws.empty()) {
    out << "<h2>Warnings</h2>\n";
    for (auto& w : ws)
      if (w.is_string()) out << "<p class=\"reason\">" << e(w.get<std::string>()) << "</p>\n";
  }
}

}  // namespace

std::string render_soak_report_html(const json& soak) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>x0x soak " << overall(soak) << " — "
      << e(str(at(soak, "config"), "gate")) << "</title>\n<style>" << html::kBaseStyle << kSoakStyle
      << "</style>\n</head>\n<body>\n";
  header(out, soak);
  policy_section(out, soak);
  plots(out, soak);
  window_table(out, soak);
  gaps_and_warnings(out, soak);
  out << "</main>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace x0x::proofs
