#include "proofs/phase_b_grid.h"

#include <algorithm>

#include <fmt/format.h>

#include "proofs/render_text.h"

namespace x0x::proofs {

using nlohmann::json;
using namespace text;

std::string PhaseBCell::text() const {
  if (empty()) return "-";
  int total = passed + failed + skipped;
  return fmt::format("{}/{}{}", passed, total, failed ? " ✗" : skipped ? " (skipped)" : "");
}

namespace {

std::size_t area_index(const std::string& area) {
  for (std::size_t i = 0; i < kPhaseBAreas.size(); ++i)
    if (kPhaseBAreas[i] == area) return i;
  return 1;  // an unknown or missing area: the group lifecycle (join)
}

PhaseBRow& row_of(PhaseBGrid& g, const std::string& node) {
  auto it = std::find_if(g.rows.begin(), g.rows.end(), [&](const PhaseBRow& r) { return r.node == node; });
  if (it != g.rows.end()) return *it;
  g.rows.push_back({node, false, {}});
  return g.rows.back();
}

}  // namespace

PhaseBGrid phase_b_grid(const json& pb) {
  PhaseBGrid g;
  g.verdict = str(pb, "verdict");
  for (auto& n : at(pb, "nodes"))
    if (n.is_string()) row_of(g, n.get<std::string>());
  if (auto anchor = str(pb, "anchor"); !anchor.empty()) row_of(g, anchor).anchor = true;
  for (auto& c : at(pb, "checks")) {
    if (!c.is_object()) continue;
    auto node = str(c, "node");
    auto& cell = row_of(g, node.empty() ? "?" : node).cells[area_index(str(c, "area"))];
    auto outcome = str(c, "outcome");
    if (outcome == "pass") {
      ++cell.passed;
      continue;
    }
    (outcome == "skip" ? cell.skipped : cell.failed)++;
    auto line = fmt::format("{}{}{}{}", str(c, "label"), outcome == "skip" ? " (skipped)" : "",
                            str(c, "stage").empty() ? "" : ": " + str(c, "stage"),
                            str(c, "detail").empty() ? "" : ": " + str(c, "detail"));
    cell.failures.push_back(line);
    g.failures.push_back(line);
  }
  return g;
}

}  // namespace x0x::proofs
