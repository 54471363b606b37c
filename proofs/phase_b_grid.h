// The Phase B grid (private to proofs/): a phase_b JSON (PhaseBReport's, as
// stored in a bundle) folded into one row per node and one column per area
// of the flow (contacts, join, roster, reply, commits), for summary.md and
// report.html. The JSON is bundle input: anything missing or malformed is
// skipped, never trusted.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace x0x::proofs {

inline constexpr std::array<std::string_view, 5> kPhaseBAreas = {"contacts", "join", "roster", "reply", "commits"};

struct PhaseBCell {
  int passed = 0, failed = 0, skipped = 0;
  std::vector<std::string> failures;  // "label: stage: detail" of each failed or skipped check
  bool empty() const { return passed + failed + skipped == 0; }
  std::string text() const;  // "4/4", "2/4 ✗", "-" when empty
};

struct PhaseBRow {
  std::string node;
  bool anchor = false;
  std::array<PhaseBCell, kPhaseBAreas.size()> cells;
};

struct PhaseBGrid {
  std::string verdict;  // "Phase B: 70/70 checks passed"
  std::vector<PhaseBRow> rows;  // the report's node order, then any other node a check names
  std::vector<std::string> failures;  // every failed or skipped check, in check order
};

PhaseBGrid phase_b_grid(const nlohmann::json& phase_b);

}  // namespace x0x::proofs
