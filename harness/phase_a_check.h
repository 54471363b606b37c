// Phase A's checker: what the plan asked for, what the anchor said to each
// command DM and what the runners reported, turned into a stage per pair and
// the counts (spec mesh-protocol.md §3.5, with receipts checked for the right
// sender and marker). Pure: recorded inputs in, the report out.
#pragma once
#include <vector>

#include "harness/phase_a.h"
#include "harness/phase_a_plan.h"
#include "harness/runner_session.h"

namespace x0x::harness {

// A planned command has its final answer: the anchor refused it, its source
// reported a failed send, or the send succeeded and the receipt arrived.
bool phase_a_pair_settled(const PlannedPair& pair, const Dispatch& dispatch, const SessionResults& results);

// dispatches[i] answers plan.commands[i]. Timing fields (discover_secs,
// matrix_secs) are the caller's.
PhaseAReport check_phase_a(const PhaseAPlan& plan, const std::vector<Dispatch>& dispatches, const SessionResults& results);

}  // namespace x0x::harness
