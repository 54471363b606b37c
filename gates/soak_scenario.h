// The reference's scenario-level columns of one soak window (spec
// gates-and-proofs.md §5.1 step 3), from the window's per-node scenario
// deltas: the timeline's scenario columns, and what every consumer falls back
// to when a window has no continuous accounting (§5.2).
#pragma once
#include <optional>
#include <string>

#include "gates/soak_model.h"

namespace x0x::gates::soak {

// Maxima and sums over the window's nodes; negative deltas clamp to 0 and an
// unknown value is skipped. nullopt: no node had the value.
struct ScenarioSummary {
  std::optional<double> max_disp_to_delta, sum_disp_to_delta, max_drop_full_delta, sum_drop_full_delta, max_pp_to_delta,
      max_suppressed, max_suppressed_ratio, max_suppressed_topics, max_transport_peers, max_transport_rtt_ms,
      max_transport_loss_ppm, max_workers;
  std::string top_suppressed_topics;  // distinct non-empty top-3 texts, sorted, joined " | "
  long violations = 0;                // the window's blocking violations
};

ScenarioSummary summarize_scenario(const SoakWindow& w);

}  // namespace x0x::gates::soak
