// summary.md (spec gates-and-proofs.md §8.2). The anchors the soak parser reads
// are kept byte-compatible: "### Overall verdict: **GO**", the
// "phase_a_*: `N`" bullets and the "- violations:" blocks. Ours: a "Blocking"
// section at the top (node, observed, threshold, evidence of every blocking
// rule, and each NOT RUN scenario with its reason), and the per-scenario
// diagnostics headings nested under their scenario (§9.3 item 18).
#include <sstream>

#include "proofs/phase_b_grid.h"
#include "proofs/render_text.h"
#include "proofs/renderers.h"

namespace x0x::proofs {

using nlohmann::json;
using namespace text;

namespace {

void table_row(std::ostringstream& out, const std::vector<std::string>& cells) {
  out << "|";
  for (auto& c : cells) out << " " << md_cell(c) << " |";
  out << "\n";
}

void table_head(std::ostringstream& out, const std::vector<std::string>& names) {
  table_row(out, names);
  out << "|";
  for (std::size_t i = 0; i < names.size(); ++i) out << "---|";
  out << "\n";
}

std::string dash_if_empty(std::string s) { return s.empty() ? "-" : s; }

void blocking_section(std::ostringstream& out, const json& v) {
  out << "## Blocking\n\n";
  auto& blocking = at(v, "blocking");
  if (!blocking.is_array() || blocking.empty()) {
    out << (is_go(v) ? "Nothing blocks: every scenario passed.\n\n" : "No blocking rule recorded.\n\n");
  } else {
    table_head(out, {"scenario", "rule", "node", "observed", "threshold", "evidence"});
    for (auto& b : blocking)
      table_row(out, {str(b, "scenario"), str(b, "rule"), dash_if_empty(str(b, "node")), dash_if_empty(str(b, "observed")),
                      dash_if_empty(str(b, "threshold")), dash_if_empty(str(b, "evidence"))});
    out << "\n";
  }
  bool any_not_run = false;
  for (auto& s : at(v, "scenarios"))
    if (scenario_status(s) == gates::ScenarioStatus::not_run) {
      if (!any_not_run) out << "Scenarios not run (each makes the run NO-GO):\n\n";
      any_not_run = true;
      out << "- **" << str(s, "name") << "** NOT RUN: " << dash_if_empty(str(s, "reason")) << "\n";
    }
  if (any_not_run) out << "\n";
}

void node_tables(std::ostringstream& out, const json& v, const json& s) {
  auto names = scenario_nodes(v, s);
  auto& nodes = at(s, "nodes");
  out << "\n";
  table_head(out, {"node", "disp_to", "drop_full", "drop_ratio", "pp_to", "pp_to/completed", "depth_post", "suppressed_post",
                   "suppressed_topics", "suppressed/known", "known_pairs", "workers_post"});
  for (auto& n : names) {
    auto& nd = at(nodes, n);
    auto &d = at(nd, "delta"), &p = at(nd, "post"), &r = at(nd, "ratios");
    table_row(out, {n, number(at(d, "dispatcher_timed_out")), number(at(d, "recv_pump_dropped_full")), ratio(at(r, "drop"), 6),
                    number(at(d, "per_peer_timeout_count")), ratio(at(r, "per_peer_timeout"), 3),
                    number(at(p, "recv_pump_latest_depth")), number(at(p, "suppressed_peers_size")),
                    number(at(p, "suppressed_topics_total")), ratio(at(r, "suppression"), 3),
                    number(at(p, "known_peer_topic_pairs")), number(at(p, "pubsub_workers"))});
  }
  out << "\n##### Diagnostics (X0X-0039 data_tx, X0X-0043 GSO)\n\n";
  table_head(out, {"node", "conn_pre", "conn_post", "data_tx_depth_post", "data_tx_capacity_post", "data_tx_high_water Δ",
                   "gso_bundle_send_total Δ", "gso_bundle_partial_send Δ"});
  for (auto& n : names) {
    auto& nd = at(nodes, n);
    auto &d = at(nd, "delta"), &p = at(nd, "post");
    table_row(out, {n, boolean(at(nd, "conn_pre_ok")), boolean(at(nd, "conn_post_ok")), number(at(p, "data_tx_depth")),
                    number(at(p, "data_tx_capacity")), number(at(d, "data_tx_high_water_count")),
                    number(at(d, "gso_bundle_send_total")), number(at(d, "gso_bundle_partial_send"))});
  }
  out << "\n##### Diagnostics (X0X-0075 suppression/transport)\n\n";
  table_head(out, {"node", "top_suppressed_topics", "peer_score_topics", "transport_peers", "transport_connected", "max_rtt_ms",
                   "max_loss_ppm", "transport_top"});
  for (auto& n : names) {
    auto& nd = at(nodes, n);
    auto& p = at(nd, "post");
    table_row(out, {n, dash_if_empty(node_text(nd, "suppressed_topics_top3")), number(at(p, "peer_scores_topics_total")),
                    number(at(p, "transport_peer_count")), number(at(p, "transport_connected_count")),
                    number(at(p, "transport_rtt_ms_max")), number(at(p, "transport_packet_loss_ppm_max")),
                    dash_if_empty(node_text(nd, "transport_peers_top3"))});
  }
  bool header = false;
  for (auto& n : names) {
    auto& nd = at(nodes, n);
    bool reset = at(nd, "counter_reset").is_boolean() && nd["counter_reset"].get<bool>();
    auto& problems = at(nd, "problems");
    if (!reset && (!problems.is_array() || problems.empty())) continue;
    if (!header) out << "\n##### Node problems\n\n";
    header = true;
    if (reset) out << "- " << n << ": a monotonic counter went backwards (restart); its delta is clamped to 0\n";
    for (auto& p : problems)
      if (p.is_string()) out << "- " << n << ": " << p.get<std::string>() << "\n";
  }
}

// Checks per node and area of the flow, then every check that did not pass.
void phase_b_table(std::ostringstream& out, const json& pb) {
  auto g = phase_b_grid(pb);
  out << "\n##### " << (g.verdict.empty() ? std::string("Phase B") : g.verdict) << "\n\n";
  std::vector<std::string> head = {"node"};
  for (auto a : kPhaseBAreas) head.emplace_back(a);
  table_head(out, head);
  for (auto& r : g.rows) {
    std::vector<std::string> cells = {r.anchor ? r.node + " (anchor)" : r.node};
    for (auto& c : r.cells) cells.push_back(c.text());
    table_row(out, cells);
  }
  if (!g.failures.empty()) {
    out << "\nChecks that did not pass:\n\n";
    for (auto& f : g.failures) out << "- " << md_cell(f) << "\n";
  }
}

void scenario_section(std::ostringstream& out, const json& v, const json& s) {
  auto status = str(s, "status");
  bool not_run = scenario_status(s) == gates::ScenarioStatus::not_run;
  out << "\n#### " << str(s, "name") << " — " << status << "\n\n";
  if (not_run) {
    out << "- fail_reason: `not run: " << str(s, "reason") << "`\n";
  } else if (!str(s, "reason").empty()) {
    out << "- fail_reason: `" << str(s, "reason") << "`\n";
  }
  double start = num(s, "started_unix"), end = num(s, "ended_unix");
  if (start > 0 && end >= start) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", end - start);
    out << "- duration: " << buf << "s\n";
  }
  // The soak parser reads phase_a_sent / phase_a_received; take them from the
  // Phase A report when the metrics do not carry them.
  json metrics = at(s, "metrics").is_object() ? s["metrics"] : json::object();
  auto& pa = at(s, "phase_a");
  if (pa.is_object()) {
    if (!metrics.contains("phase_a_sent") && at(pa, "send_ok").is_number()) metrics["phase_a_sent"] = pa["send_ok"];
    if (!metrics.contains("phase_a_received") && at(pa, "received").is_number()) metrics["phase_a_received"] = pa["received"];
  }
  for (auto& [key, value] : metrics.items()) out << "- " << key << ": `" << scalar(value) << "`\n";
  auto& violations = at(s, "violations");
  if (violations.is_array() && !violations.empty()) {
    out << "- violations:\n";
    for (auto& vi : violations) out << "  - " << str(vi, "message") << "\n";
  }
  auto& warnings = at(s, "warnings");
  if (warnings.is_array() && !warnings.empty()) {
    out << "- warnings (not blocking):\n";
    for (auto& w : warnings)
      if (w.is_string()) out << "  - " << w.get<std::string>() << "\n";
  }
  if (auto& ex = at(s, "phase_a_excluded"); ex.is_object())
    out << "- phase A pairs of " << str(ex, "role") << " (scored apart): " << number(at(ex, "delivered")) << " / "
        << number(at(ex, "pairs")) << " delivered\n";
  if (auto& w = at(s, "settle"); w.is_object())
    out << "- window: " << (at(w, "settled") == true ? "settled" : "NOT settled") << " after " << number(at(w, "waited_secs"))
        << " s (min " << number(at(w, "min_secs")) << " s, max " << number(at(w, "max_secs")) << " s)\n";
  if (auto& pb = at(s, "phase_b"); pb.is_object()) phase_b_table(out, pb);
  if (!not_run) node_tables(out, v, s);
}

}  // namespace

std::string render_summary_md(const json& v) {
  std::ostringstream out;
  out << "# x0x launch-readiness report\n\n";
  out << "- Gate: **" << str(v, "gate") << "**\n";
  out << "- Generated: " << utc_time(generated_unix(v)) << " UTC\n";
  if (!str(v, "gate_source").empty()) out << "- Gate source: `" << str(v, "gate_source") << "`\n";
  if (at(v, "nodes").is_array()) out << "- Nodes: " << v["nodes"].size() << "\n";
  if (auto& run = at(v, "run"); run.is_object())  // run metadata (§9.3 item 21) when the gate recorded it
    for (auto& [key, value] : run.items()) out << "- Run " << key << ": `" << scalar(value) << "`\n";
  out << "\n";
  blocking_section(out, v);
  out << "## SLO thresholds\n\n";
  table_head(out, {"Metric", "Threshold"});
  if (auto& thresholds = at(v, "thresholds"); thresholds.is_object())
    for (auto& [key, value] : thresholds.items()) table_row(out, {key, scalar(value)});
  out << "\n## Results\n\n";
  out << "### Overall verdict: **" << (is_go(v) ? "GO" : "NO-GO") << "**\n";
  for (auto& s : at(v, "scenarios")) scenario_section(out, v, s);
  return out.str();
}

}  // namespace x0x::proofs
