#include <catch2/catch.hpp>

#include "proofs/renderers.h"
#include "proof_render_fixtures.h"

using namespace x0x::proofs;
using x0x::test::count_of;
using x0x::test::load_verdict_fixture;

TEST_CASE("summary.md: the reference's sections in order, GO verdict line and Phase A bullets", "[proofs][summary_md]") {
  auto md = render_summary_md(load_verdict_fixture("go_baseline_fanout.json"));
  auto pos = [&](const std::string& s) {
    auto p = md.find(s);
    INFO("looking for: " << s);
    REQUIRE(p != std::string::npos);
    return p;
  };
  CHECK(md.rfind("# x0x launch-readiness report\n", 0) == 0);
  CHECK(pos("- Gate: **limited-production**") < pos("## Blocking"));
  // Dated by the last scenario end, so a re-render of the same verdict is identical.
  CHECK(pos("- Generated: 2026-05-04 17:07:22 UTC\n") < pos("## Blocking"));
  CHECK(pos("## Blocking") < pos("## SLO thresholds"));
  CHECK(pos("## SLO thresholds") < pos("## Results"));
  CHECK(pos("## Results") < pos("### Overall verdict: **GO**\n"));
  CHECK(pos("### Overall verdict: **GO**") < pos("#### baseline — PASS"));
  CHECK(pos("#### baseline — PASS") < pos("#### fanout_burst — PASS"));
  CHECK(md.find("| Metric | Threshold |") != std::string::npos);
  CHECK(md.find("| min_phase_a_pairs | 30 |") != std::string::npos);
  CHECK(md.find("| max_dispatcher_timed_out_delta | 5 |") != std::string::npos);
  CHECK(md.find("- phase_a_received: `30`\n") != std::string::npos);
  CHECK(md.find("- phase_a_sent: `30`\n") != std::string::npos);
  CHECK(md.find("- duration: 4.2s\n") != std::string::npos);
  CHECK(md.find("- burst_secs: `3.8`\n") != std::string::npos);
  CHECK(md.find("Nothing blocks") != std::string::npos);
  CHECK(md.find("- violations:") == std::string::npos);
  // Three per-node tables per scenario, nodes sorted by name.
  CHECK(count_of(md, "| node | disp_to | drop_full | drop_ratio | pp_to | pp_to/completed |") == 2);
  CHECK(count_of(md, "##### Diagnostics (X0X-0039 data_tx, X0X-0043 GSO)") == 2);
  CHECK(count_of(md, "##### Diagnostics (X0X-0075 suppression/transport)") == 2);
  CHECK(pos("| helsinki |") < pos("| nuremberg |"));
  CHECK(pos("| nuremberg |") < pos("| nyc |"));
  // sydney in fanout_burst: 2 timeouts, drop ratio 6 dp, other ratios 3 dp.
  CHECK(md.find("| sydney | 2 | 0 | 0.000000 | 5 | 0.002 |") != std::string::npos);
}

TEST_CASE("summary.md: NO-GO lists each blocking rule with node, observed, threshold and evidence at the top", "[proofs][summary_md]") {
  auto md = render_summary_md(load_verdict_fixture("nogo_stale_peer.json"));
  auto blocking = md.find("## Blocking");
  auto results = md.find("## Results");
  REQUIRE(blocking != std::string::npos);
  auto row = md.find("| stale_peer | max_dispatcher_timed_out_delta | nyc | 7 | 5 | "
                     "diagnostics/stale_peer/nyc-pre.json, diagnostics/stale_peer/nyc-post.json |");
  CHECK(row > blocking);
  CHECK(row < results);
  CHECK(md.find("| stale_peer | min_phase_a_pairs | sfo | 20 | 30 | scenarios/stale_peer/phase-a.json |") < results);
  CHECK(md.find("### Overall verdict: **NO-GO**\n") != std::string::npos);
  CHECK(md.find("#### stale_peer — FAIL\n") != std::string::npos);
  // The violation block the soak parser reads: "- violations:" then "  - <message>".
  CHECK(md.find("- violations:\n  - nyc: dispatcher_timed_out delta 7 > gate 5\n  - phase A received 20 < gate 30; failed pairs: "
                "nyc→sfo (not received)") != std::string::npos);
  CHECK(md.find("- phase_a_received: `20`\n") != std::string::npos);
  CHECK(md.find("- phase_a_sent: `25`\n") != std::string::npos);
  // sfo's per-peer ratio has a zero denominator: inf, not a number.
  CHECK(md.find("| sfo | 40 | 0 | 0.000000 | 3 | inf |") != std::string::npos);
}

TEST_CASE("summary.md: a NOT RUN scenario and its reason at the top, unknown values MISSING", "[proofs][summary_md]") {
  auto md = render_summary_md(load_verdict_fixture("notrun_unknowns.json"));
  auto results = md.find("## Results");
  CHECK(md.find("- **partition_recovery** NOT RUN: needs --allow-netem (sch_netem is not available on this kernel)") < results);
  CHECK(md.find("### Overall verdict: **NO-GO**") != std::string::npos);
  CHECK(md.find("#### partition_recovery — NOT RUN\n\n- fail_reason: `not run: needs --allow-netem") != std::string::npos);
  // The node whose gossip post fetch failed: every gossip counter MISSING, never 0.
  CHECK(md.find("| lab<&>\"q' | MISSING | MISSING | MISSING | MISSING | MISSING | MISSING | MISSING | MISSING | MISSING |") !=
        std::string::npos);
  // sfo's connectivity was unreachable: data_tx and GSO columns MISSING, flags false.
  CHECK(md.find("| sfo | false | false | MISSING | MISSING | MISSING | MISSING | MISSING |") != std::string::npos);
  CHECK(md.find("- lab<&>\"q': gossip post: HTTP 503: gossip runtime not initialized") != std::string::npos);
  CHECK(md.find("| nyc | 0 | 0 | 0.000000 | 3 | inf |") != std::string::npos);
}

TEST_CASE("summary.md: a '|' in input does not break a table row", "[proofs][summary_md]") {
  auto v = load_verdict_fixture("go_baseline_fanout.json");
  v["scenarios"][0]["nodes"]["nyc"]["text"]["transport_peers_top3"] = "a|b";
  auto md = render_summary_md(v);
  CHECK(md.find("a\\|b") != std::string::npos);
  CHECK(md.find("a|b") == std::string::npos);
}
