// Renderers of a gate run's verdict.json (gates::RunVerdict::to_json) into
// the files a reviewer reads. They take only the JSON, so `x0xctl proof
// rescore` and `render` can rebuild them from a bundle.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace x0x::proofs {

// summary.md: spec gates-and-proofs.md §8.2 anchors kept (the soak parser's
// "### Overall verdict: **GO**", "phase_a_received: `N`" bullets, "- violations:"
// blocks), plus each blocking rule with node, observed, threshold and evidence file.
std::string render_summary_md(const nlohmann::json& verdict);
// summary.csv: one row per (scenario, node); the reference's 31 columns first,
// in order (§8.2), then ours appended.
std::string render_summary_csv(const nlohmann::json& verdict);
// The header row of summary.csv: the 31 reference names, then ours.
const std::vector<std::string>& summary_csv_columns();
inline constexpr std::size_t kReferenceCsvColumns = 31;
// report.html: self-contained (inline CSS + SVG, no script, no network): the
// verdict, the Phase A matrix as a heatmap, per-node counter deltas, and fault
// windows shaded on per-scenario time lines.
std::string render_report_html(const nlohmann::json& verdict);
// JUnit XML: one <testsuite> per scenario, one <testcase> per rule (failure
// text = the violations) and one per Phase A pair; NOT RUN → <skipped/> plus a
// failing "scenario ran" case, so CI shows it red.
std::string render_junit(const nlohmann::json& verdict);
// JUnit for `x0xctl verify`: one test case per Phase A pair.
std::string render_phase_a_junit(const nlohmann::json& phase_a);

}  // namespace x0x::proofs
