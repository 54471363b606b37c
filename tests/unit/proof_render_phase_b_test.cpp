// The Phase B section of summary.md, report.html and the gate's JUnit: a
// grid of checks per node and area (contacts, join, roster, reply, commits),
// and every check that did not pass named with its stage and detail.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "proofs/renderers.h"
#include "proof_render_fixtures.h"

using namespace x0x::proofs;
using nlohmann::json;
using x0x::test::count_of;

namespace {

json check(const std::string& label, const std::string& node, const std::string& area, const std::string& outcome = "pass",
           const std::string& stage = "", const std::string& detail = "") {
  return {{"label", label}, {"node", node}, {"area", area}, {"outcome", outcome},
          {"stage", stage.empty() ? json(nullptr) : json(stage)}, {"detail", detail.empty() ? json(nullptr) : json(detail)},
          {"latency_ms", 12.5}};
}

// A NO-GO verdict with one phase_b scenario over nyc (anchor) and sfo.
json verdict_with_phase_b() {
  json checks = json::array({
      check("nyc add contact", "nyc", "contacts"),
      check("sfo add contact", "sfo", "contacts"),
      check("sfo remove contact", "sfo", "contacts"),
      check("nyc creates group", "nyc", "join"),
      check("sfo joins via invite", "sfo", "join", "fail", "not converged", "<sfo> saw no roster"),
      check("nyc roster converges to include all joined runners", "nyc", "roster"),
      check("nyc sees sfo's reply in /messages cache", "sfo", "reply", "skip", "runner not discovered"),
      check("nyc reads retained state-commits (authored)", "nyc", "commits"),
  });
  json pb = {{"verdict", "Phase B: 5/7 checks passed (1 failed)"}, {"anchor", "nyc"}, {"nodes", {"nyc", "sfo"}}, {"checks", checks}};
  json scenario = {{"name", "phase_b"}, {"status", "FAIL"}, {"reason", ""}, {"violations", json::array()}, {"rules", json::array()},
                   {"nodes", json::object()}, {"scored_nodes", {"nyc", "sfo"}}, {"metrics", json::object()},
                   {"phase_a", nullptr}, {"phase_b", pb}, {"faults", json::array()}, {"warnings", json::array()},
                   {"started_unix", 1779123400.0}, {"ended_unix", 1779123402.5}};
  return {{"gate", "limited-production"}, {"verdict", "NO-GO"}, {"nodes", {"nyc", "sfo"}}, {"thresholds", json::object()},
          {"blocking", json::array()}, {"scenarios", {scenario}}};
}

}  // namespace

TEST_CASE("summary.md: a Phase B table per node and area, and the checks that did not pass", "[proofs][phase_b]") {
  auto md = render_summary_md(verdict_with_phase_b());
  INFO(md);
  CHECK(md.find("##### Phase B: 5/7 checks passed (1 failed)\n") != std::string::npos);
  CHECK(md.find("| node | contacts | join | roster | reply | commits |") != std::string::npos);
  CHECK(md.find("| nyc (anchor) | 1/1 | 1/1 | 1/1 | - | 1/1 |") != std::string::npos);
  CHECK(md.find("| sfo | 2/2 | 0/1 ✗ | - | 0/1 (skipped) | - |") != std::string::npos);
  CHECK(md.find("- sfo joins via invite: not converged: <sfo> saw no roster\n") != std::string::npos);
  CHECK(md.find("- nyc sees sfo's reply in /messages cache (skipped): runner not discovered\n") != std::string::npos);
}

TEST_CASE("report.html: the Phase B grid colours each cell and names failures, escaped", "[proofs][phase_b]") {
  auto html = render_report_html(verdict_with_phase_b());
  CHECK(html.find("<h3>Phase B: 5/7 checks passed (1 failed)</h3>") != std::string::npos);
  CHECK(html.find("<table class=\"phase-b\">") != std::string::npos);
  CHECK(html.find("<th>contacts</th><th>join</th><th>roster</th><th>reply</th><th>commits</th>") != std::string::npos);
  CHECK(html.find("<td class=\"fail\" title=\"sfo joins via invite: not converged: &lt;sfo&gt; saw no roster\">0/1 ✗</td>") !=
        std::string::npos);
  CHECK(count_of(html, "<td class=\"pass\">") == 5);
  CHECK(html.find("<sfo>") == std::string::npos);  // input text is escaped everywhere
}

TEST_CASE("JUnit: one case per Phase B check, failed and skipped as such", "[proofs][phase_b]") {
  auto xml = render_junit(verdict_with_phase_b());
  CHECK(count_of(xml, "classname=\"gate.phase_b.phase_b\"") == 8);
  CHECK(xml.find("name=\"sfo joins via invite\"") != std::string::npos);
  CHECK(count_of(xml, "<failure message=\"not converged (&lt;sfo&gt; saw no roster)\">") == 1);
  CHECK(count_of(xml, "<skipped message=\"runner not discovered\"/>") == 1);
}
