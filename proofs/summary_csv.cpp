// summary.csv (spec gates-and-proofs.md §8.2): one row per (scenario, node).
// The reference's 31 columns come first and in order (its unit tests pin the
// positions); ours are appended after them. Unlike the reference, an unknown
// value is MISSING, never 0, in every column.
#include <sstream>

#include "proofs/render_text.h"
#include "proofs/renderers.h"

namespace x0x::proofs {

using nlohmann::json;
using namespace text;

const std::vector<std::string>& summary_csv_columns() {
  static const std::vector<std::string> columns = {
      // The reference's 31, in order.
      "scenario", "node", "passed", "fail_reason", "dispatcher_timed_out_delta", "recv_pump_dropped_full_delta",
      "per_peer_timeout_delta", "suppressed_peers_post", "pubsub_workers_post", "violations_count",
      "per_peer_timeout_to_completed_ratio", "recv_pump_drop_full_ratio", "recv_pump_latest_depth_post",
      "suppressed_peers_to_known_ratio", "known_peer_topic_pairs_post", "suppressed_topics_post",
      "suppressed_topic_top_count_post", "suppressed_topics_top3_post", "peer_score_topics_post",
      "diagnostics_connectivity_pre_fetched", "diagnostics_connectivity_post_fetched", "data_tx_depth_post",
      "data_tx_capacity_post", "data_tx_high_water_count_delta", "gso_bundle_send_total_delta",
      "gso_bundle_partial_send_delta", "transport_peer_count_post", "transport_connected_count_post",
      "transport_rtt_ms_max_post", "transport_packet_loss_ppm_max_post", "transport_peers_top3_post",
      // Ours.
      "scenario_status", "node_violations_count", "counter_reset", "diagnostics_gossip_pre_fetched",
      "diagnostics_gossip_post_fetched", "problems"};
  return columns;
}

namespace {

std::size_t node_violations(const json& scenario, const std::string& node) {
  std::size_t n = 0;
  for (auto& v : at(scenario, "violations"))
    if (str(v, "node") == node) ++n;
  return n;
}

std::string join_problems(const json& problems) {
  std::string out;
  for (auto& p : problems)
    if (p.is_string()) out += (out.empty() ? "" : "; ") + p.get<std::string>();
  return out;
}

}  // namespace

std::string render_summary_csv(const json& v) {
  std::ostringstream out;
  auto write_row = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << csv_field(cells[i]);
    out << "\r\n";  // what Python's csv module writes, so existing readers see the same bytes
  };
  write_row(summary_csv_columns());
  for (auto& s : at(v, "scenarios")) {
    auto status = str(s, "status");
    auto typed = scenario_status(s);
    auto reason = typed == gates::ScenarioStatus::not_run ? "not run: " + str(s, "reason") : str(s, "reason");
    auto& violations = at(s, "violations");
    auto violations_count = std::to_string(violations.is_array() ? violations.size() : 0);
    for (auto& n : scenario_nodes(v, s)) {
      auto& nd = at(at(s, "nodes"), n);
      auto &d = at(nd, "delta"), &p = at(nd, "post"), &r = at(nd, "ratios");
      write_row({str(s, "name"), n, typed == gates::ScenarioStatus::pass ? "PASS" : "FAIL", reason, number(at(d, "dispatcher_timed_out")),
                 number(at(d, "recv_pump_dropped_full")), number(at(d, "per_peer_timeout_count")),
                 number(at(p, "suppressed_peers_size")), number(at(p, "pubsub_workers")), violations_count,
                 ratio(at(r, "per_peer_timeout"), 6), ratio(at(r, "drop"), 6), number(at(p, "recv_pump_latest_depth")),
                 ratio(at(r, "suppression"), 6), number(at(p, "known_peer_topic_pairs")),
                 number(at(p, "suppressed_topics_total")), number(at(p, "suppressed_topic_top_count")),
                 node_text(nd, "suppressed_topics_top3"), number(at(p, "peer_scores_topics_total")),
                 boolean(at(nd, "conn_pre_ok")), boolean(at(nd, "conn_post_ok")), number(at(p, "data_tx_depth")),
                 number(at(p, "data_tx_capacity")), number(at(d, "data_tx_high_water_count")),
                 number(at(d, "gso_bundle_send_total")), number(at(d, "gso_bundle_partial_send")),
                 number(at(p, "transport_peer_count")), number(at(p, "transport_connected_count")),
                 number(at(p, "transport_rtt_ms_max")), number(at(p, "transport_packet_loss_ppm_max")),
                 node_text(nd, "transport_peers_top3"),
                 // ours
                 status, std::to_string(node_violations(s, n)), boolean(at(nd, "counter_reset")),
                 boolean(at(nd, "gossip_pre_ok")), boolean(at(nd, "gossip_post_ok")), join_problems(at(nd, "problems"))});
    }
  }
  return out.str();
}

}  // namespace x0x::proofs
