// The soak renderers (proofs/soak_renderers.h) on a hand-built soak.json
// (tests/data/soak/soak-fixture.json: 6 nodes, 8 slots — warm-up, clean GO,
// tolerated dispatcher, effective failed, skipped, MISSING, a counter reset,
// burn-rate alerts) and on hostile or partial JSON.
#include <catch2/catch.hpp>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "proofs/soak_renderers.h"
#include "tests/support/source_dir.h"

using namespace x0x::proofs;
using nlohmann::json;
namespace pt = boost::property_tree;

namespace {

json load_fixture() {
  std::ifstream in(x0x::testing::test_data("soak/soak-fixture.json"));
  REQUIRE(in);
  return json::parse(in);
}

std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

// RFC 4180 with CRLF rows (quoted fields may hold commas, quotes, newlines).
std::vector<std::vector<std::string>> parse_csv(const std::string& s) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') cell += '"', ++i;
      else if (c == '"') quoted = false;
      else cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(cell), cell.clear();
    } else if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      row.push_back(cell), cell.clear();
      rows.push_back(row), row.clear();
      ++i;
    } else {
      cell += c;
    }
  }
  REQUIRE_FALSE(quoted);
  REQUIRE(cell.empty());
  REQUIRE(row.empty());
  return rows;
}

std::string cell(const std::vector<std::vector<std::string>>& rows, std::size_t row, const std::string& column) {
  auto& head = rows.at(0);
  auto it = std::find(head.begin(), head.end(), column);
  REQUIRE(it != head.end());
  return rows.at(row).at(static_cast<std::size_t>(it - head.begin()));
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Cells of a Markdown table row, honouring "\|".
std::vector<std::string> md_cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string cur;
  REQUIRE(row.size() >= 2);
  REQUIRE(row.front() == '|');
  for (std::size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '\\' && i + 1 < row.size() && row[i + 1] == '|') cur += '|', ++i;
    else if (row[i] == '|') cells.push_back(cur), cur.clear();
    else cur += row[i];
  }
  for (auto& c : cells) c = c.substr(c.find_first_not_of(' ') == std::string::npos ? 0 : c.find_first_not_of(' ')),
                        c.erase(c.find_last_not_of(' ') + 1);
  return cells;
}

// The table under a heading: its rows (header and separator included).
std::vector<std::string> table_after(const std::string& md, const std::string& heading) {
  auto ls = lines(md);
  auto it = std::find(ls.begin(), ls.end(), heading);
  REQUIRE(it != ls.end());
  std::vector<std::string> rows;
  for (++it; it != ls.end(); ++it) {
    if (it->empty() && rows.empty()) continue;
    if (it->empty() || it->front() != '|') break;
    rows.push_back(*it);
  }
  return rows;
}

pt::ptree parse_xml(const std::string& xml) {
  std::istringstream in(xml);
  pt::ptree doc;
  pt::read_xml(in, doc);
  return doc;
}

// A node renamed everywhere it appears (config, node_order, nodes keys, gaps).
json rename_node(json soak, const std::string& from, const std::string& to) {
  for (auto& n : soak["config"]["nodes"])
    if (n == from) n = to;
  for (auto& w : soak["windows"]) {
    for (auto& n : w["node_order"])
      if (n == from) n = to;
    if (w["nodes"].contains(from)) {
      w["nodes"][to] = w["nodes"][from];
      w["nodes"].erase(from);
    }
    if (w.contains("continuous")) {
      auto& c = w["continuous"];
      if (c["nodes"].contains(from)) {
        c["nodes"][to] = c["nodes"][from];
        c["nodes"].erase(from);
      }
      for (auto key : {"gaps", "unaccounted"})
        for (auto& g : c[key]) {
          auto s = g.get<std::string>();
          if (s.rfind(from + ":", 0) == 0) g = to + s.substr(from.size());
        }
    }
  }
  return soak;
}

const std::vector<std::string> kReference28 = {
    "window", "start_unix", "verdict", "phase_a_received", "phase_a_sent", "max_disp_to_delta", "sum_disp_to_delta",
    "max_drop_full_delta", "sum_drop_full_delta", "max_pp_to_delta", "continuous_max_disp_to_delta",
    "continuous_sum_disp_to_delta", "continuous_max_drop_full_delta", "continuous_sum_drop_full_delta",
    "continuous_max_pp_to_delta", "continuous_sum_pp_to_delta", "continuous_sum_dispatcher_completed_delta",
    "continuous_snapshot_gaps", "continuous_unaccounted_gaps", "max_suppressed", "max_suppressed_ratio",
    "max_suppressed_topics", "top_suppressed_topics", "max_transport_peers", "max_transport_rtt_ms",
    "max_transport_loss_ppm", "max_workers", "violations"};

const std::string kHostile = "<script>alert(1)</script>|a,b\"c\nd";

}  // namespace

TEST_CASE("soak timeline.csv: the reference's 28 columns first, then ours, one row per slot", "[soak-render]") {
  auto rows = parse_csv(render_soak_timeline_csv(load_fixture()));
  REQUIRE(rows.size() == 1 + 8);
  REQUIRE(kReferenceTimelineColumns == 28);
  REQUIRE(rows[0].size() > kReferenceTimelineColumns);
  CHECK(std::vector<std::string>(rows[0].begin(), rows[0].begin() + 28) == kReference28);
  CHECK(rows[0] == soak_timeline_columns());
  for (auto ours : {"state", "warmup", "class", "exit_code", "fleet_epoch", "slot_unix", "end_unix", "phase_a_expected",
                    "phase_a_p50_ms", "phase_a_p99_ms", "note"})
    CHECK(std::find(rows[0].begin() + 28, rows[0].end(), ours) != rows[0].end());
  for (auto& r : rows) CHECK(r.size() == rows[0].size());

  CHECK(cell(rows, 1, "window") == "1");
  CHECK(cell(rows, 1, "class") == "warmup");
  CHECK(cell(rows, 1, "warmup") == "true");
  CHECK(cell(rows, 2, "verdict") == "GO");
  CHECK(cell(rows, 2, "start_unix") == "1767608104");  // slot + 4 s, whole seconds
  CHECK(cell(rows, 2, "phase_a_received") == "30");
  // The tolerated dispatcher window: continuous sums as integers.
  CHECK(cell(rows, 4, "verdict") == "NO-GO");
  CHECK(cell(rows, 4, "class") == "tolerated_dispatcher");
  CHECK(cell(rows, 4, "continuous_sum_disp_to_delta") == "13");
  CHECK(cell(rows, 4, "continuous_max_disp_to_delta") == "12");
  CHECK(cell(rows, 4, "violations") == "1");
  // The failed window: ratio with 6 dp, gaps ;-joined, the failed pairs and messages.
  CHECK(cell(rows, 5, "max_suppressed_ratio") == "0.100000");
  CHECK(cell(rows, 5, "continuous_snapshot_gaps") == "sydney:pre");
  CHECK(cell(rows, 5, "continuous_unaccounted_gaps") == "");
  CHECK(cell(rows, 5, "phase_a_received") == "28");
  CHECK(cell(rows, 5, "phase_a_failed_pairs") == "nyc->sydney;helsinki->sydney");
  CHECK(cell(rows, 5, "violation_messages") ==
        "sydney: recv_pump_dropped_full delta 12 > gate 0 || sydney: per_peer_timeout/completed 0.033 > gate 0.020");
  CHECK(cell(rows, 5, "top_suppressed_topics") == "x0x.presence.v1=1");
  CHECK(cell(rows, 5, "exit_code") == "1");
  // The skipped slot: no start, Phase A unknown (`?`), no exit code.
  CHECK(cell(rows, 6, "verdict") == "SKIPPED");
  CHECK(cell(rows, 6, "start_unix") == "");
  CHECK(cell(rows, 6, "phase_a_received") == "?");
  CHECK(cell(rows, 6, "exit_code") == "");
  CHECK(cell(rows, 6, "note") == "orchestrator down: host rebooted (kernel update)");
  // MISSING: the accounting had no data, so every continuous cell is empty.
  CHECK(cell(rows, 7, "verdict") == "MISSING");
  CHECK(cell(rows, 7, "exit_code") == "124");
  for (std::size_t i = 10; i <= 18; ++i) CHECK(rows[7][i] == "");
  CHECK(cell(rows, 7, "max_disp_to_delta") == "");
  CHECK(cell(rows, 8, "continuous_snapshot_gaps") == "nuremberg:pre;singapore:counter_reset");
  CHECK(cell(rows, 8, "continuous_unaccounted_gaps") == "singapore:counter_reset");
  CHECK(cell(rows, 8, "phase_a_p99_ms") != "");
}

TEST_CASE("soak timeline.csv: commas, quotes and newlines from the JSON are quoted, never shift a column", "[soak-render]") {
  auto soak = rename_node(load_fixture(), "sydney", kHostile);
  soak["windows"][2]["note"] = kHostile;
  auto rows = parse_csv(render_soak_timeline_csv(soak));
  REQUIRE(rows.size() == 9);
  for (auto& r : rows) CHECK(r.size() == rows[0].size());
  CHECK(cell(rows, 3, "note") == kHostile);
  CHECK(cell(rows, 5, "continuous_snapshot_gaps") == kHostile + ":pre");
}

TEST_CASE("soak summary.md: the reference's labels, in order, with the fixture's values", "[soak-render]") {
  auto md = render_soak_summary_md(load_fixture());
  const std::vector<std::string> expected = {
      "# x0x launch-readiness soak",
      "- Gate: **broad-launch**",
      "- Windows: 6 (PASS=3, NO-GO=2, MISSING=1)",
      "- Overall verdict: **NO-GO**",
      "## Cumulative SLO totals",
      "- counter source: continuous post-to-post diagnostics snapshots (previous window's post → this window's post, idle time "
      "included) for 5/6 windows; scenario deltas for windows without snapshots",
      "- cumulative dispatcher timeouts: **16** (legacy cap ≤ 5 per 12h soak)",
      "- cumulative recv_pump drop-full: **12** (gate = 0)",
      "- cumulative dispatcher completions: **39152**",
      "- dispatcher timeouts/completions: **0.00040866**",
      "- per-peer timeouts/completions: **0.00114937**",
      "- dispatcher-only adaptive policy: **window-rate-high** (max_window_ratio=0.00160613, max_consecutive_anomalies=1, "
      "anomaly_windows=4)",
      "- tolerated dispatcher-only windows: **4**",
      "- tolerated phase-A tail windows: **none**",
      "- tolerated phase-A INFRA-degraded windows (transport black-hole/loss): **none**",
      "- aggregate Phase A sent: **150/150** (100.000%, gate ≥ 98%)",
      "- aggregate Phase A received: **148/150** (98.667%, gate ≥ 98%)",
      "- aggregate Phase A SLO: **PASS**",
      "- effective failed windows: **5, 7**",
      "- unaccounted telemetry-gap windows: **8**",
      "## Per-window timeline",
      // Ours, after the reference's sections.
      "## Burn rate (SRE multi-window)",
      "## Not counted",
      "## Warnings",
  };
  auto ls = lines(md);
  auto from = ls.begin();
  for (auto& want : expected) {
    INFO("line: " << want);
    auto it = std::find(from, ls.end(), want);
    REQUIRE(it != ls.end());  // present, and after the previous one
    from = it + 1;
  }
  // The labels block is contiguous, as the reference writes it.
  auto cum = std::find(ls.begin(), ls.end(), "## Cumulative SLO totals");
  CHECK(*(cum + 2) == expected[5]);
  CHECK(*(cum + 16) == expected[19]);
  CHECK(md.find("burn rate is advisory") != std::string::npos);
  CHECK(md.find("- warm-up windows (ran, recorded, not counted): 1") != std::string::npos);
  CHECK(md.find("- skipped slots (no window ran; the accounting bridges them): 6 (orchestrator down: host rebooted (kernel "
                "update))") != std::string::npos);
  CHECK(md.find("slots 6: orchestrator host rebooted (kernel update); resumed from soak.json") != std::string::npos);
  CHECK(md.find("| page-fast | 14.4 | 1 | 1 | 4 | none |") != std::string::npos);
  CHECK(md.find("- window 3: helsinki's harvest returned no process facts (rss_kb unknown)") != std::string::npos);
}

TEST_CASE("soak summary.md: the 20-column per-window table of the counted windows, `?` for unknowns", "[soak-render]") {
  auto rows = table_after(render_soak_summary_md(load_fixture()), "## Per-window timeline");
  REQUIRE(rows.size() == 2 + 6);  // header, separator, windows 2 3 4 5 7 8
  CHECK(md_cells(rows[0]) ==
        std::vector<std::string>{"#", "start_unix", "verdict", "effective", "phase_a", "scenario_sum_disp_to",
                                 "continuous_sum_disp_to", "scenario_sum_drop_full", "continuous_sum_drop_full",
                                 "scenario_max_pp_to", "continuous_max_pp_to", "max_suppressed", "max_suppressed_ratio",
                                 "max_suppressed_topics", "transport_peers", "max_transport_rtt_ms", "max_transport_loss_ppm",
                                 "max_workers", "telemetry_gaps", "violations"});
  for (auto& r : rows) CHECK(md_cells(r).size() == 20);
  auto w4 = md_cells(rows[4]), w5 = md_cells(rows[5]), w7 = md_cells(rows[6]), w8 = md_cells(rows[7]);
  CHECK(md_cells(rows[2])[0] == "2");
  CHECK(md_cells(rows[2])[18] == "none");
  CHECK(w4[0] == "4");
  CHECK(w4[3] == "PASS");  // tolerated: not in effective_failed
  CHECK(w4[6] == "13");
  CHECK(w5[3] == "FAIL");
  CHECK(w5[4] == "28/30");
  CHECK(w5[12] == "0.100000");
  CHECK(w7[0] == "7");
  CHECK(w7[2] == "MISSING");
  CHECK(w7[3] == "FAIL");
  CHECK(w7[4] == "?/?");
  CHECK(w7[6] == "?");
  CHECK(w7[19] == "?");
  CHECK(w8[18] == "nuremberg:pre;singapore:counter_reset");
}

TEST_CASE("soak summary.md: an interrupted soak says so, with its partial verdict", "[soak-render]") {
  auto soak = load_fixture();
  soak["verdict"] = "INTERRUPTED";
  soak["state"] = "interrupted";
  soak["partial_verdict"] = "NO-GO";
  auto md = render_soak_summary_md(soak);
  CHECK(md.find("- Overall verdict: **INTERRUPTED**\n") != std::string::npos);
  CHECK(md.find("- Partial verdict (the windows that finished): **NO-GO**") != std::string::npos);
  CHECK(md.find("Overall verdict: **NO-GO**") == std::string::npos);
  // An unknown verdict fails closed.
  soak["verdict"] = "MAYBE";
  CHECK(render_soak_summary_md(soak).find("- Overall verdict: **NO-GO**\n") != std::string::npos);
}

TEST_CASE("soak summary.md: a hostile node name cannot break a table row or open HTML", "[soak-render]") {
  auto soak = rename_node(load_fixture(), "sydney", kHostile);
  soak["warnings"].push_back(kHostile);
  auto md = render_soak_summary_md(soak);
  for (auto& r : table_after(md, "## Per-window timeline")) CHECK(md_cells(r).size() == 20);
  CHECK(md.find("<script>") == std::string::npos);
  CHECK(md.find("- &lt;script>alert(1)&lt;/script>|a,b\"c d") != std::string::npos);  // the warning, on one line
}

TEST_CASE("soak pubsub-pressure variant: §5.8's summary and 11-column timeline", "[soak-render]") {
  auto soak = load_fixture();
  soak["config"]["variant"] = "pubsub-pressure";
  for (auto& w : soak["windows"]) w["scenario"] = "fanout_burst";
  auto all = render_soak_all(soak);
  REQUIRE(all.size() == 4);
  auto& md = all.at("summary.md");
  CHECK(md.rfind("# PubSub Pressure Soak Summary\n", 0) == 0);
  CHECK(md.find("- verdict: **FAIL**\n") != std::string::npos);
  CHECK(md.find("- windows: 6 (GO=3, NO-GO=2, MISSING=1)") != std::string::npos);
  CHECK(md.find("- max_disp_to_delta: 12\n") != std::string::npos);
  CHECK(md.find("- max_drop_full_delta: 12\n") != std::string::npos);
  CHECK(md.find("- max_pp_to_delta: 41\n") != std::string::npos);
  auto rows = table_after(md, "- max_pp_to_delta: 41");
  REQUIRE(rows.size() == 2 + 6);
  CHECK(md_cells(rows[0]) == std::vector<std::string>{"window", "start_unix", "verdict", "max_disp_to_delta",
                                                      "max_drop_full_delta", "max_pp_to_delta", "violations"});
  for (auto& r : rows) CHECK(md_cells(r).size() == 7);
  CHECK(md == render_pubsub_pressure_summary_md(soak));

  auto csv = parse_csv(all.at("timeline.csv"));
  REQUIRE(csv.size() == 9);
  REQUIRE(kReferencePubsubPressureColumns == 11);
  CHECK(std::vector<std::string>(csv[0].begin(), csv[0].begin() + 11) ==
        std::vector<std::string>{"window", "start_unix", "verdict", "max_disp_to_delta", "max_drop_full_delta", "max_pp_to_delta",
                                 "max_suppressed", "max_suppressed_ratio", "max_workers", "violations", "window_rc"});
  CHECK(csv[0].size() > 11);
  for (auto& r : csv) CHECK(r.size() == csv[0].size());
  CHECK(cell(csv, 7, "window_rc") == "124");
  CHECK(cell(csv, 6, "window_rc") == "");
  CHECK(std::count(csv[0].begin(), csv[0].end(), "exit_code") == 0);

  soak["verdict"] = "GO";
  CHECK(render_pubsub_pressure_summary_md(soak).find("- verdict: **PASS**\n") != std::string::npos);
  // The combined soak's forms for any other variant.
  soak["config"]["variant"] = "fixed-roster";
  CHECK(render_soak_all(soak).at("summary.md").rfind("# x0x launch-readiness soak\n", 0) == 0);
}

TEST_CASE("soak junit.xml: a case per window and per rule, counts agree, failures carry the violations", "[soak-render]") {
  auto soak = load_fixture();
  soak["rules"].push_back({{"rule", "odd <rule> & \"quotes\""}, {"status", "fail"}, {"detail", kHostile}});
  auto doc = parse_xml(render_soak_junit(soak));
  auto& root = doc.get_child("testsuites");
  auto& suite = root.get_child("testsuite");
  CHECK(suite.get<std::string>("<xmlattr>.name") == "soak");
  int tests = 0, failures = 0, skipped = 0;
  std::map<std::string, const pt::ptree*> cases;
  for (auto& [tag, tc] : suite) {
    if (tag != "testcase") continue;
    ++tests;
    failures += tc.count("failure") > 0;
    skipped += tc.count("skipped") > 0;
    cases[tc.get<std::string>("<xmlattr>.name")] = &tc;
  }
  CHECK(tests == 8 + 8 + 1);  // windows, rules (7 + the hostile one), overall verdict
  CHECK(failures == 2 + 6 + 1);  // windows 5 and 7; 5 failed rules + the hostile one; the verdict
  CHECK(skipped == 2);           // warm-up 1, skipped slot 6
  CHECK(suite.get<int>("<xmlattr>.tests") == tests);
  CHECK(suite.get<int>("<xmlattr>.failures") == failures);
  CHECK(suite.get<int>("<xmlattr>.skipped") == skipped);
  CHECK(root.get<int>("<xmlattr>.failures") == failures);
  REQUIRE(cases.count("window 005"));
  auto body = cases["window 005"]->get<std::string>("failure");
  CHECK(body.find("sydney: recv_pump_dropped_full delta 12 > gate 0") != std::string::npos);
  CHECK(body.find("max_per_peer_timeout_ratio on sydney: observed 0.033, threshold 0.020") != std::string::npos);
  CHECK(cases["window 007"]->get<std::string>("failure.<xmlattr>.message").find("MISSING") == 0);
  CHECK(cases["window 004"]->count("failure") == 0);  // tolerated
  CHECK(cases["window 001"]->count("skipped") == 1);
  CHECK(cases["window 006"]->count("skipped") == 1);
  CHECK(cases["no_missing_windows"]->get<std::string>("failure.<xmlattr>.message") ==
        "MISSING: window 7 (gate run timed out after 900 s)");
  CHECK(cases["aggregate_phase_a"]->count("failure") == 0);
  REQUIRE(cases.count("odd <rule> & \"quotes\""));
  CHECK(cases["odd <rule> & \"quotes\""]->get<std::string>("failure.<xmlattr>.message") == kHostile);
  CHECK(cases["overall verdict"]->count("failure") == 1);
}

TEST_CASE("soak report.html: banner, policy, every plot, shaded windows, alert markers", "[soak-render]") {
  auto soak = load_fixture();
  auto html = render_soak_report_html(soak);
  CHECK(html.find("<header class=\"verdict nogo\"><div class=\"word\">NO-GO</div>") != std::string::npos);
  CHECK(html.find("gate <b>broad-launch</b>") != std::string::npos);
  CHECK(html.find("variant <b>combined</b>") != std::string::npos);
  CHECK(html.find("6 counted window(s) of 8 slot(s)") != std::string::npos);
  CHECK(html.find("window-rate-high") != std::string::npos);
  CHECK(html.find("<td>no_<wbr>missing_<wbr>windows</td><td class=\"fail\">fail</td>") != std::string::npos);
  const std::vector<std::string> metrics = {"disp_to", "drop_full", "pp_to", "suppressed", "phase_a_delivered",
                                            "phase_a_p50_ms", "phase_a_p99_ms", "rss_kb", "cpu_seconds"};
  for (auto& m : metrics) {
    INFO(m);
    CHECK(count_of(html, "<svg class=\"series\" data-metric=\"" + m + "\"") == 1);
  }
  // Every plot shades every classed window and marks every alert.
  auto n = metrics.size();
  CHECK(count_of(html, "<rect class=\"shade tolerated\" data-window=\"4\"") == n);
  CHECK(count_of(html, "<rect class=\"shade failed\" data-window=\"5\"") == n);
  CHECK(count_of(html, "<rect class=\"shade failed\" data-window=\"7\"") == n);
  CHECK(count_of(html, "<rect class=\"shade not-counted\" data-window=\"1\"") == n);
  CHECK(count_of(html, "<rect class=\"shade not-counted\" data-window=\"6\"") == n);
  CHECK(count_of(html, "class=\"shade ") == 5 * n);
  CHECK(count_of(html, "<rect class=\"burn-marker fired\" data-alert=\"page-fast\" data-window=\"4\"") == n);
  CHECK(count_of(html, "<rect class=\"burn-marker fired\" data-alert=\"ticket\" data-window=\"5\"") == n);
  CHECK(count_of(html, "<rect class=\"burn-marker guarded\" data-alert=\"ticket\" data-window=\"2\"") == n);
  // A line per node (legend named), plus the fleet line on the Phase A plots.
  for (auto node : {"nyc", "sfo", "helsinki", "nuremberg", "singapore", "sydney"})
    CHECK(count_of(html, std::string("<path class=\"line\" data-node=\"") + node + "\"") == n);
  CHECK(count_of(html, "<path class=\"line\" data-node=\"fleet\"") == 3);
  // The per-window table.
  CHECK(html.find("<tr class=\"tolerated\" data-window=\"4\">") != std::string::npos);
  CHECK(html.find("<tr class=\"fail\" data-window=\"7\">") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http") == std::string::npos);  // nothing fetched, nothing linked
}

TEST_CASE("soak report.html: an unknown value is a gap in the line, never 0", "[soak-render]") {
  auto html = render_soak_report_html(load_fixture());
  auto from = html.find("data-metric=\"rss_kb\"");
  auto to = html.find("</svg>", from);
  REQUIRE(from != std::string::npos);
  auto svg = html.substr(from, to - from);
  auto p = svg.find("data-node=\"helsinki\" d=\"");
  REQUIRE(p != std::string::npos);
  auto d = svg.substr(p, svg.find('"', p + 24) - p);
  // helsinki's rss is unknown in window 3, and nothing ran in 6 or 7: three runs.
  CHECK(count_of(d, "M") == 3);
  CHECK(count_of(svg, "helsinki · window 3:") == 0);  // no point drawn there
  CHECK(count_of(svg, "helsinki · window 2:") == 1);
}

TEST_CASE("soak report.html: GO is green, INTERRUPTED amber with its partial verdict", "[soak-render]") {
  auto soak = load_fixture();
  soak["verdict"] = "GO";
  CHECK(render_soak_report_html(soak).find("<header class=\"verdict go\"><div class=\"word\">GO</div>") != std::string::npos);
  soak["verdict"] = "INTERRUPTED";
  soak["partial_verdict"] = "GO";
  auto html = render_soak_report_html(soak);
  CHECK(html.find("<header class=\"verdict interrupted\"><div class=\"word\">INTERRUPTED</div>") != std::string::npos);
  CHECK(html.find("finished give <b>GO</b>") != std::string::npos);
}

TEST_CASE("soak report.html: a hostile node name is escaped everywhere", "[soak-render]") {
  auto soak = rename_node(load_fixture(), "sydney", kHostile);
  soak["config"]["gate"] = kHostile;
  soak["rules"][0]["detail"] = kHostile;
  auto html = render_soak_report_html(soak);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;|a,b&quot;c\nd") != std::string::npos);
  // Still a line per plot for the renamed node, its name escaped inside the attribute.
  CHECK(count_of(html, "data-node=\"&lt;script&gt;alert(1)&lt;/script&gt;|a,b&quot;c\nd\"") == 9);
  auto junit = render_soak_junit(soak);
  CHECK_NOTHROW(parse_xml(junit));
  CHECK(junit.find("<script") == std::string::npos);
}

TEST_CASE("soak renderers: partial and hostile JSON render without throwing", "[soak-render]") {
  std::vector<json> inputs = {
      json::object(),
      json(),
      json::array(),
      json("soak"),
      json::parse(R"({"windows": "no", "policy": [], "rules": {}, "config": 5, "gaps": 1, "warnings": {}})"),
      json::parse(R"({"verdict": "GO", "config": {"variant": "pubsub-pressure", "nodes": [1, null, "a"]},
                      "windows": [null, 7, {}, {"index": "x", "phase_a": null, "nodes": {"a": null, "b": {"rss_kb": "inf"}}},
                                  {"index": 3, "verdict": null, "class": 9, "continuous": {"has_data": true, "gaps": "x",
                                   "nodes": {"a": {"disp": null}}, "sum_disp": "inf"}, "scenario_summary": {"violations": [1]},
                                   "start_unix": -5, "end_unix": 1e300, "exit_code": 1.5, "violations": [null, {"node": 3}]},
                                  {"index": 4, "state": "ran", "phase_a": {"sent": 30, "received": 30, "expected": 0,
                                   "p50_ms": null, "failed_pairs": [[1, 2], "x", ["a"]]}, "warmup": "yes"}],
                      "policy": {"burn_rate": {"alerts": [null, {"name": 1, "fired_windows": [99, "x", 3]}]},
                                 "aggregate_phase_a": {"sent_ratio": "inf"}, "effective_failed": "all"},
                      "rules": [1, {"status": 5}, {"rule": "r", "status": "pass"}],
                      "gaps": [null, {"from_unix": "x", "slots": [1]}]})"),
  };
  for (auto& soak : inputs) {
    INFO(soak.dump());
    std::map<std::string, std::string> all;
    REQUIRE_NOTHROW(all = render_soak_all(soak));
    REQUIRE_NOTHROW(render_soak_timeline_csv(soak));
    REQUIRE_NOTHROW(render_soak_summary_md(soak));
    REQUIRE_NOTHROW(render_pubsub_pressure_summary_md(soak));
    REQUIRE_NOTHROW(render_pubsub_pressure_timeline_csv(soak));
    for (auto& csv : {render_soak_timeline_csv(soak), render_pubsub_pressure_timeline_csv(soak)}) {
      auto rows = parse_csv(csv);
      for (auto& r : rows) CHECK(r.size() == rows[0].size());
    }
    CHECK_NOTHROW(parse_xml(all.at("junit.xml")));
    CHECK(all.at("report.html").find("</html>") != std::string::npos);
    bool go = soak.is_object() && soak.value("verdict", json()) == "GO";
    bool says_fail = all.at("summary.md").find("NO-GO") != std::string::npos || all.at("summary.md").find("FAIL") != std::string::npos;
    CHECK((go || says_fail));
  }
  // The empty soak: NO-GO, no windows, every label still there with `?`.
  auto md = render_soak_summary_md(json::object());
  CHECK(md.find("- Windows: 0 (PASS=0, NO-GO=0, MISSING=0)") != std::string::npos);
  CHECK(md.find("- Overall verdict: **NO-GO**") != std::string::npos);
  CHECK(md.find("- aggregate Phase A sent: **?/?** (?%, gate ≥ 98%)") != std::string::npos);
  CHECK(md.find("- effective failed windows: **none**") != std::string::npos);
}
