// Phase B's checker: a recorded run (harness/phase_b_plan.h) → the reference's
// checks with its exact labels and counting (spec mesh-protocol.md §4.3–4.6:
// 10N+10 strict, 10N+9 with --allow-skips), each failed one with its stage.
// Pure: recorded inputs in, the report out.
//
// Where ours differs from the reference: every expected check is reported,
// also when an earlier step failed (it then carries the earlier step's stage
// and detail), so a strict run always counts 10N+10 and a missing runner
// shows up as its own failed checks instead of an abort.
#pragma once
#include <string>

#include "harness/phase_b.h"
#include "harness/phase_b_plan.h"

namespace x0x::harness {

struct CallVerdict {
  CheckStage stage = CheckStage::passed;
  std::string detail;
  double latency_ms = -1;
  bool ok() const { return stage == CheckStage::passed; }
};

// One call on its own: delivered? answered in time? the right kind? outcome ok?
// (an action error carries the node's error body).
CallVerdict classify_call(const PhaseBCall& call);

// Timing fields (discover_secs, run_secs) are the caller's.
PhaseBReport check_phase_b(const PhaseBRecord& record);

}  // namespace x0x::harness
