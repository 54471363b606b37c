#include <catch2/catch.hpp>

#include "proofs/renderers.h"
#include "proof_render_fixtures.h"

using namespace x0x::proofs;
using x0x::test::count_of;
using x0x::test::load_verdict_fixture;

namespace {
// Nothing in the report may load or link anything: no script, no URL.
void check_self_contained(const std::string& html) {
  for (auto bad : {"http://", "https://", "<script", "src=", "href=", "url(", "@import", "<link", "<iframe", "javascript:"}) {
    INFO("found " << bad);
    CHECK(html.find(bad) == std::string::npos);
  }
  CHECK(count_of(html, "<svg") == count_of(html, "</svg>"));
  CHECK(count_of(html, "<table") == count_of(html, "</table>"));
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("</html>") != std::string::npos);
}
}  // namespace

TEST_CASE("report.html: self-contained for every fixture", "[proofs][report_html]") {
  for (auto name : {"go_baseline_fanout.json", "nogo_stale_peer.json", "notrun_unknowns.json"}) {
    INFO(name);
    check_self_contained(render_report_html(load_verdict_fixture(name)));
  }
}

TEST_CASE("report.html: GO header, verdict table and a Phase A heatmap cell per pair", "[proofs][report_html]") {
  auto html = render_report_html(load_verdict_fixture("go_baseline_fanout.json"));
  CHECK(html.find("<header class=\"verdict go\"><div class=\"word\">GO</div>") != std::string::npos);
  CHECK(html.find("Gate <b>limited-production</b>") != std::string::npos);
  CHECK(html.find("<h2>Verdict by scenario and rule</h2>") != std::string::npos);
  CHECK(html.find("<th>max_<wbr>dispatcher_<wbr>timed_<wbr>out_<wbr>delta</th>") != std::string::npos);
  // 6 nodes: 30 delivered pairs with a latency tooltip, 6 self cells.
  CHECK(count_of(html, ": delivered in ") == 30);
  CHECK(count_of(html, " (self)</title>") == 6);
  CHECK(count_of(html, "failed at stage") == 0);
  CHECK(html.find("No fault was injected in this scenario.") != std::string::npos);
}

TEST_CASE("report.html: NO-GO with failed pairs, blocking rules and the fault windows on a time line", "[proofs][report_html]") {
  auto html = render_report_html(load_verdict_fixture("nogo_stale_peer.json"));
  CHECK(html.find("<header class=\"verdict nogo\"><div class=\"word\">NO-GO</div>") != std::string::npos);
  CHECK(count_of(html, "failed at stage &#39;not received&#39;") == 5);
  CHECK(count_of(html, "failed at stage &#39;send failed&#39; (HTTP 504)") == 5);
  CHECK(html.find("nyc: dispatcher_timed_out delta 7 &gt; gate 5") != std::string::npos);
  // Faults relative to the scenario start (T0+6): stale 8..38 → 2s..32s.
  CHECK(html.find("<title>sfo: stale from 2s to 32s — diagnostics frozen, gossip silent for 30s</title>") != std::string::npos);
  CHECK(html.find("<title>sfo: delay from 6s to 24s — delay 250ms jitter 50ms towards nyc</title>") != std::string::npos);
  CHECK(html.find("<h3>Fault timeline</h3>") != std::string::npos);
  // The gated counter over its gate is drawn red.
  CHECK(html.find("<title>nyc: 7</title>") != std::string::npos);
}

TEST_CASE("report.html: node names and messages are escaped, NOT RUN and unknowns shown", "[proofs][report_html]") {
  auto html = render_report_html(load_verdict_fixture("notrun_unknowns.json"));
  CHECK(html.find("lab<&>") == std::string::npos);
  CHECK(html.find("lab&lt;&amp;&gt;&quot;q&#39;") != std::string::npos);
  CHECK(html.find("Not run: needs --allow-netem (sch_netem is not available on this kernel)") != std::string::npos);
  CHECK(html.find("<span class=\"badge not_run\">NOT RUN</span>") != std::string::npos);
  CHECK(html.find("<td class=\"num missing\">MISSING</td>") != std::string::npos);
  CHECK(html.find("lab&lt;&amp;&gt;&quot;q&#39;: unknown</title>") != std::string::npos);
  CHECK(html.find(">inf</td>") != std::string::npos);
}

TEST_CASE("report.html: hostile text cannot open a tag or a script", "[proofs][report_html]") {
  auto v = load_verdict_fixture("nogo_stale_peer.json");
  v["scenarios"][1]["faults"][0]["detail"] = "</title><script>alert(1)</script>";
  v["scenarios"][1]["violations"][0]["message"] = "<img src=x onerror=alert(1)>";
  v["gate"] = "<b>gate</b>";
  auto html = render_report_html(v);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(html.find("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("&lt;b&gt;gate&lt;/b&gt;") != std::string::npos);
}
