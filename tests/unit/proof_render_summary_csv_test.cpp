#include <catch2/catch.hpp>

#include <sstream>

#include "proofs/renderers.h"
#include "proof_render_fixtures.h"

using namespace x0x::proofs;
using x0x::test::load_verdict_fixture;

namespace {

using Row = std::vector<std::string>;

// RFC 4180 reader (quoted fields, doubled quotes, CRLF rows).
std::vector<Row> parse_csv(const std::string& text) {
  std::vector<Row> rows;
  Row row;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
    } else {
      field += c;
      any = true;
    }
  }
  if (!field.empty() || !row.empty()) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

std::size_t col(const Row& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  FAIL("no column " << name);
  return 0;
}

const Row& row_of(const std::vector<Row>& rows, const std::string& scenario, const std::string& node) {
  for (auto& r : rows)
    if (r.size() > 1 && r[0] == scenario && r[1] == node) return r;
  FAIL("no row " << scenario << "/" << node);
  return rows.front();
}

}  // namespace

TEST_CASE("summary.csv: the reference's 31 columns in order, then ours", "[proofs][summary_csv]") {
  // Spelled out here, not taken from the renderer: this is the contract (spec §8.2).
  const Row reference = {
      "scenario", "node", "passed", "fail_reason", "dispatcher_timed_out_delta", "recv_pump_dropped_full_delta",
      "per_peer_timeout_delta", "suppressed_peers_post", "pubsub_workers_post", "violations_count",
      "per_peer_timeout_to_completed_ratio", "recv_pump_drop_full_ratio", "recv_pump_latest_depth_post",
      "suppressed_peers_to_known_ratio", "known_peer_topic_pairs_post", "suppressed_topics_post",
      "suppressed_topic_top_count_post", "suppressed_topics_top3_post", "peer_score_topics_post",
      "diagnostics_connectivity_pre_fetched", "diagnostics_connectivity_post_fetched", "data_tx_depth_post",
      "data_tx_capacity_post", "data_tx_high_water_count_delta", "gso_bundle_send_total_delta",
      "gso_bundle_partial_send_delta", "transport_peer_count_post", "transport_connected_count_post",
      "transport_rtt_ms_max_post", "transport_packet_loss_ppm_max_post", "transport_peers_top3_post"};
  REQUIRE(reference.size() == 31);
  auto rows = parse_csv(render_summary_csv(load_verdict_fixture("go_baseline_fanout.json")));
  REQUIRE(rows.size() == 1 + 2 * 6);  // header + (2 scenarios × 6 nodes)
  auto& header = rows[0];
  REQUIRE(header.size() > reference.size());
  CHECK(Row(header.begin(), header.begin() + 31) == reference);
  CHECK(header[31] == "scenario_status");
  CHECK(std::find(header.begin(), header.end(), "counter_reset") != header.end());
  CHECK(std::find(header.begin(), header.end(), "problems") != header.end());
  CHECK(header.size() == summary_csv_columns().size());
  for (auto& r : rows) CHECK(r.size() == header.size());
  auto& r = row_of(rows, "fanout_burst", "sydney");
  CHECK(r[col(header, "passed")] == "PASS");
  CHECK(r[col(header, "dispatcher_timed_out_delta")] == "2");
  CHECK(r[col(header, "violations_count")] == "0");
  CHECK(r[col(header, "per_peer_timeout_to_completed_ratio")] == "0.001934");  // 5 / 2585, 6 dp
  CHECK(r[col(header, "recv_pump_drop_full_ratio")] == "0.000000");
  CHECK(r[col(header, "diagnostics_connectivity_post_fetched")] == "true");
  CHECK(r[col(header, "data_tx_capacity_post")] == "50000");
  // A field with commas is quoted and survives the round trip.
  CHECK(r[col(header, "transport_peers_top3_post")] == "a1b2c3d4e5f6(rtt=7ms,loss=0ppm);0f9e8d7c6b5a(rtt=2ms,loss=0ppm)");
}

TEST_CASE("summary.csv: NOT RUN rows, unknown values MISSING and inf ratios", "[proofs][summary_csv]") {
  auto rows = parse_csv(render_summary_csv(load_verdict_fixture("notrun_unknowns.json")));
  auto& header = rows[0];
  // The scenario that did not run still has a row per node, FAIL in the reference column.
  auto& nr = row_of(rows, "partition_recovery", "sfo");
  CHECK(nr[col(header, "passed")] == "FAIL");
  CHECK(nr[col(header, "scenario_status")] == "NOT RUN");
  CHECK(nr[col(header, "fail_reason")] == "not run: needs --allow-netem (sch_netem is not available on this kernel)");
  CHECK(nr[col(header, "violations_count")] == "1");
  CHECK(nr[col(header, "dispatcher_timed_out_delta")] == "MISSING");
  // Gossip post fetch failed: MISSING, never 0; the node's own problem is named.
  auto& lab = row_of(rows, "baseline", "lab<&>\"q'");
  CHECK(lab[col(header, "dispatcher_timed_out_delta")] == "MISSING");
  CHECK(lab[col(header, "suppressed_peers_post")] == "MISSING");
  CHECK(lab[col(header, "suppressed_peers_to_known_ratio")] == "MISSING");
  CHECK(lab[col(header, "diagnostics_gossip_post_fetched")] == "false");
  CHECK(lab[col(header, "node_violations_count")] == "1");
  CHECK(lab[col(header, "problems")] == "gossip post: HTTP 503: gossip runtime not initialized");
  auto& sfo = row_of(rows, "baseline", "sfo");
  CHECK(sfo[col(header, "data_tx_high_water_count_delta")] == "MISSING");
  CHECK(sfo[col(header, "transport_rtt_ms_max_post")] == "MISSING");
  CHECK(sfo[col(header, "diagnostics_connectivity_pre_fetched")] == "false");
  auto& nyc = row_of(rows, "baseline", "nyc");
  CHECK(nyc[col(header, "per_peer_timeout_to_completed_ratio")] == "inf");
  CHECK(nyc[col(header, "passed")] == "FAIL");
  CHECK(nyc[col(header, "violations_count")] == "3");
}
