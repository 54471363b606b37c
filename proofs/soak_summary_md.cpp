// summary.md of a soak (spec gates-and-proofs.md §5.7) and of the
// pubsub-pressure variant (§5.8). The reference's title, bullet labels and
// per-window table are kept as its tests pin them; the counts cover only the
// counted windows, as the reference's do (it had no warm-up or skipped slot).
// Ours come after the reference's sections: burn rate (advisory), what was
// not counted, warnings.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "proofs/render_text.h"
#include "proofs/soak_renderers.h"
#include "proofs/soak_view.h"

namespace x0x::proofs {

using nlohmann::json;
using text::at;
using text::md_cell;
using text::str;
using namespace soak_view;

namespace {

// Text from soak.json on one Markdown line: no newline may start a new block,
// and no '<' may open raw HTML in a viewer that renders it unsanitised (only a
// '<' before a letter, '/', '!' or '?' can: "1040 s < 91800 s" stays as is).
std::string md(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i], next = i + 1 < s.size() ? s[i + 1] : ' ';
    bool opens_tag = std::isalpha(static_cast<unsigned char>(next)) || next == '/' || next == '!' || next == '?';
    if (c == '\n' || c == '\r') out += ' ';
    else if (c == '<' && opens_tag) out += "&lt;";
    else out += c;
  }
  return out;
}

void table_row(std::ostringstream& out, const std::vector<std::string>& cells) {
  out << "|";
  for (auto& c : cells) out << " " << md_cell(md(c)) << " |";
  out << "\n";
}

void table_head(std::ostringstream& out, const std::vector<std::string>& names) {
  table_row(out, names);
  out << "|";
  for (std::size_t i = 0; i < names.size(); ++i) out << "---|";
  out << "\n";
}

std::string pct3(const json& ratio_value) {
  auto r = finite(ratio_value);
  if (!r) return "?";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", *r * 100);
  return buf;
}

struct Counts {
  std::size_t total = 0, go = 0, nogo = 0, missing = 0;
};

Counts count_windows(const json& soak) {
  Counts c;
  for (auto* w : windows(soak)) {
    if (!counted(*w)) continue;
    ++c.total;
    auto v = str(*w, "verdict");
    c.go += v == "GO";
    c.nogo += v == "NO-GO";
    c.missing += v == "MISSING";
  }
  return c;
}

void verdict_bullets(std::ostringstream& out, const json& soak, const std::string& pass_word, const std::string& fail_word,
                     const std::string& label) {
  auto verdict = overall(soak);
  if (verdict == "INTERRUPTED") {
    auto partial = str(soak, "partial_verdict") == "GO" ? pass_word : fail_word;
    out << "- " << label << ": **INTERRUPTED**\n";
    out << "- Partial verdict (the windows that finished): **" << partial << "** — the soak did not run to its end, so it "
        << "certifies nothing\n";
  } else {
    out << "- " << label << ": **" << (verdict == "GO" ? pass_word : fail_word) << "**\n";
  }
}

// The counter source statement: continuous accounting where a window has
// snapshots, the scenario deltas where it has none (§5.2).
std::string counter_source(const json& soak) {
  std::size_t with = 0, total = 0;
  for (auto* w : windows(soak))
    if (counted(*w)) {
      ++total;
      with += !continuous(*w).is_null();
    }
  std::ostringstream s;
  s << "- counter source: continuous post-to-post diagnostics snapshots (previous window's post → this window's post, idle "
       "time included) for "
    << with << "/" << total << " windows; scenario deltas for windows without snapshots\n";
  return s.str();
}

void cumulative_section(std::ostringstream& out, const json& soak) {
  auto& policy = at(soak, "policy");
  auto& cum = at(policy, "cumulative");
  auto& noise = at(policy, "dispatcher_noise");
  auto& agg = at(policy, "aggregate_phase_a");
  out << "## Cumulative SLO totals\n\n";
  out << counter_source(soak);
  out << "- cumulative dispatcher timeouts: **" << num(at(cum, "dispatcher_timeouts"), "?")
      << "** (legacy cap ≤ 5 per 12h soak)\n";
  out << "- cumulative recv_pump drop-full: **" << num(at(cum, "drop_full"), "?") << "** (gate = 0)\n";
  out << "- cumulative dispatcher completions: **" << num(at(cum, "completions"), "?") << "**\n";
  out << "- dispatcher timeouts/completions: **" << ratio(at(cum, "timeout_ratio"), 8, "?") << "**\n";
  out << "- per-peer timeouts/completions: **" << ratio(at(cum, "per_peer_ratio"), 8, "?") << "**\n";
  out << "- dispatcher-only adaptive policy: **" << md(str(noise, "verdict").empty() ? "?" : str(noise, "verdict"))
      << "** (max_window_ratio=" << ratio(at(noise, "max_window_ratio"), 8, "?")
      << ", max_consecutive_anomalies=" << num(at(noise, "max_consecutive_anomalies"), "?")
      << ", anomaly_windows=" << index_list(at(noise, "anomaly_windows")) << ")\n";
  out << "- tolerated dispatcher-only windows: **" << index_list(at(policy, "tolerated_dispatcher_windows")) << "**\n";
  out << "- tolerated phase-A tail windows: **" << index_list(at(policy, "tolerated_phase_a_windows")) << "**\n";
  out << "- tolerated phase-A INFRA-degraded windows (transport black-hole/loss): **"
      << index_list(at(policy, "tolerated_infra_phase_a_windows")) << "**\n";
  out << "- aggregate Phase A sent: **" << num(at(agg, "sent"), "?") << "/" << num(at(agg, "target"), "?") << "** ("
      << pct3(at(agg, "sent_ratio")) << "%, gate ≥ 98%)\n";
  out << "- aggregate Phase A received: **" << num(at(agg, "received"), "?") << "/" << num(at(agg, "target"), "?") << "** ("
      << pct3(at(agg, "recv_ratio")) << "%, gate ≥ 98%)\n";
  out << "- aggregate Phase A SLO: **" << md(str(agg, "status").empty() ? "?" : str(agg, "status")) << "**\n";
  out << "- effective failed windows: **" << index_list(at(policy, "effective_failed")) << "**\n";
  out << "- unaccounted telemetry-gap windows: **" << index_list(at(policy, "unaccounted_gap_windows")) << "**\n\n";
}

void timeline_table(std::ostringstream& out, const json& soak) {
  out << "## Per-window timeline\n\n";
  table_head(out, {"#", "start_unix", "verdict", "effective", "phase_a", "scenario_sum_disp_to", "continuous_sum_disp_to",
                   "scenario_sum_drop_full", "continuous_sum_drop_full", "scenario_max_pp_to", "continuous_max_pp_to",
                   "max_suppressed", "max_suppressed_ratio", "max_suppressed_topics", "transport_peers", "max_transport_rtt_ms",
                   "max_transport_loss_ppm", "max_workers", "telemetry_gaps", "violations"});
  std::size_t position = 0;
  for (auto* wp : windows(soak)) {
    auto& w = *wp;
    int index = window_index(w, position++);
    if (!counted(w)) continue;  // listed under "Not counted"
    auto& s = at(w, "scenario_summary");
    auto& pa = at(w, "phase_a");
    auto& c = continuous(w);
    auto gaps = join_strings(at(c, "gaps"), ";");
    table_row(out, {std::to_string(index), whole_secs(at(w, "start_unix"), "?"), window_verdict(w),
                    effective_failed(soak, w, index) ? "FAIL" : "PASS",
                    num(at(pa, "received"), "?") + "/" + num(at(pa, "sent"), "?"), num(at(s, "sum_disp_to_delta"), "?"),
                    num(at(c, "sum_disp"), "?"), num(at(s, "sum_drop_full_delta"), "?"), num(at(c, "sum_drop"), "?"),
                    num(at(s, "max_pp_to_delta"), "?"), num(at(c, "max_pp"), "?"), num(at(s, "max_suppressed"), "?"),
                    ratio(at(s, "max_suppressed_ratio"), 6, "?"), num(at(s, "max_suppressed_topics"), "?"),
                    num(at(s, "max_transport_peers"), "?"), num(at(s, "max_transport_rtt_ms"), "?"),
                    num(at(s, "max_transport_loss_ppm"), "?"), num(at(s, "max_workers"), "?"), gaps.empty() ? "none" : gaps,
                    violations_count(w, "?")});
  }
  out << "\n";
}

void burn_rate_section(std::ostringstream& out, const json& soak) {
  auto& burn = at(at(soak, "policy"), "burn_rate");
  out << "## Burn rate (SRE multi-window)\n\n";
  out << "The reference policy above (dispatcher noise policy, tolerance, aggregate Phase A) decides the verdict; the burn "
         "rate is advisory.\n\n";
  if (!burn.is_object()) {
    out << "No burn-rate evaluation recorded.\n\n";
    return;
  }
  out << "- error budget: " << ratio(at(burn, "budget_ratio"), 8, "?") << " dispatcher timeouts per completion, the soak's "
      << "length standing for the SLO period\n";
  out << "- budget consumed: **" << ratio(at(burn, "budget_consumed"), 3, "?") << "** (1.000 = the whole budget)\n";
  out << "- low-volume guard: an alert needs ≥ " << num(at(burn, "min_timeouts"), "?") << " timeouts and ≥ "
      << num(at(burn, "min_completions"), "?") << " completions in its long window\n";
  out << "- any alert fired: **" << (at(burn, "any_fired") == true ? "yes" : at(burn, "any_fired") == false ? "no" : "?")
      << "**\n\n";
  auto& alerts = at(burn, "alerts");
  if (!alerts.is_array() || alerts.empty()) {
    out << "No alert defined.\n\n";
    return;
  }
  table_head(out, {"alert", "burn threshold", "long window (windows)", "short window (windows)", "fired windows",
                   "guarded windows (low volume)", "max long-window burn"});
  for (auto& a : alerts)
    table_row(out, {str(a, "name").empty() ? "?" : str(a, "name"), num(at(a, "burn_threshold"), "?"),
                    num(at(a, "long_windows"), "?"), num(at(a, "short_windows"), "?"), index_list(at(a, "fired_windows")),
                    index_list(at(a, "guarded_windows")), ratio(at(a, "max_long_burn"), 3, "?")});
  out << "\n";
}

void not_counted_section(std::ostringstream& out, const json& soak) {
  std::vector<std::string> warm, skipped, interrupted;
  std::size_t position = 0;
  for (auto* w : windows(soak)) {
    int index = window_index(*w, position++);
    if (counted(*w)) continue;
    auto label = std::to_string(index) + (str(*w, "note").empty() ? "" : " (" + md(str(*w, "note")) + ")");
    auto state = str(*w, "state");
    if (state == "interrupted" || str(*w, "verdict") == "INTERRUPTED") interrupted.push_back(label);
    else if (state == "skipped" || str(*w, "verdict") == "SKIPPED") skipped.push_back(label);
    else warm.push_back(label);
  }
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("none") : s;
  };
  out << "## Not counted\n\n";
  out << "- warm-up windows (ran, recorded, not counted): " << list(warm) << "\n";
  out << "- skipped slots (no window ran; the accounting bridges them): " << list(skipped) << "\n";
  out << "- interrupted windows (abandoned on SIGINT/SIGTERM): " << list(interrupted) << "\n";
  auto& gaps = at(soak, "gaps");
  if (!gaps.is_array() || gaps.empty()) {
    out << "- orchestrator gaps: none\n\n";
    return;
  }
  out << "- orchestrator gaps:\n";
  for (auto& g : gaps) {
    auto from = finite(at(g, "from_unix")), to = finite(at(g, "to_unix"));
    out << "  - " << (from ? text::utc_time(*from) + " UTC" : std::string("?")) << " → "
        << (to ? text::utc_time(*to) + " UTC" : std::string("?"));
    if (from && to && *to >= *from) out << " (" << num(json(std::round(*to - *from))) << " s)";
    out << ", slots " << index_list(at(g, "slots")) << ": " << md(str(g, "why").empty() ? "?" : str(g, "why")) << "\n";
  }
  out << "\n";
}

void warnings_section(std::ostringstream& out, const json& soak) {
  out << "## Warnings\n\n";
  auto& ws = at(soak, "warnings");
  bool any = false;
  if (ws.is_array())
    for (auto& w : ws)
      if (w.is_string()) {
        out << "- " << md(w.get<std::string>()) << "\n";
        any = true;
      }
  out << (any ? "" : "none\n");
}

}  // namespace

std::string render_soak_summary_md(const json& soak) {
  std::ostringstream out;
  auto c = count_windows(soak);
  out << "# x0x launch-readiness soak\n\n";
  out << "- Gate: **" << md(str(at(soak, "config"), "gate")) << "**\n";
  out << "- Windows: " << c.total << " (PASS=" << c.go << ", NO-GO=" << c.nogo << ", MISSING=" << c.missing << ")\n";
  verdict_bullets(out, soak, "GO", "NO-GO", "Overall verdict");
  out << "\n";
  cumulative_section(out, soak);
  timeline_table(out, soak);
  burn_rate_section(out, soak);
  not_counted_section(out, soak);
  warnings_section(out, soak);
  return out.str();
}

std::string render_pubsub_pressure_summary_md(const json& soak) {
  std::ostringstream out;
  auto c = count_windows(soak);
  out << "# PubSub Pressure Soak Summary\n\n";
  verdict_bullets(out, soak, "PASS", "FAIL", "verdict");
  out << "- gate: **" << md(str(at(soak, "config"), "gate")) << "**\n";
  out << "- windows: " << c.total << " (GO=" << c.go << ", NO-GO=" << c.nogo << ", MISSING=" << c.missing << ")\n";
  // The three maxima over the counted windows' fanout_burst rows.
  for (auto key : {"max_disp_to_delta", "max_drop_full_delta", "max_pp_to_delta"}) {
    std::optional<double> m;
    bool inf = false;
    for (auto* w : windows(soak)) {
      if (!counted(*w)) continue;
      auto& v = at(at(*w, "scenario_summary"), key);
      inf = inf || (v.is_string() && v.get<std::string>() == "inf");
      if (auto d = finite(v)) m = m ? std::max(*m, *d) : *d;
    }
    out << "- " << key << ": " << (inf ? std::string("inf") : m ? num(json(*m)) : std::string("?")) << "\n";
  }
  out << "\n";
  table_head(out, {"window", "start_unix", "verdict", "max_disp_to_delta", "max_drop_full_delta", "max_pp_to_delta", "violations"});
  std::size_t position = 0;
  for (auto* wp : windows(soak)) {
    auto& w = *wp;
    int index = window_index(w, position++);
    if (!counted(w)) continue;
    auto& s = at(w, "scenario_summary");
    table_row(out, {std::to_string(index), whole_secs(at(w, "start_unix"), "?"), window_verdict(w),
                    num(at(s, "max_disp_to_delta"), "?"), num(at(s, "max_drop_full_delta"), "?"),
                    num(at(s, "max_pp_to_delta"), "?"), violations_count(w, "?")});
  }
  out << "\n";
  not_counted_section(out, soak);
  warnings_section(out, soak);
  return out.str();
}

}  // namespace x0x::proofs
