// Continuous post-to-post accounting (spec gates-and-proofs.md §5.2): the
// four counters chained across the whole soak, each window covering the
// previous post → this post (the idle time between windows included), so a
// missing pre snapshot never turns lifetime totals into a window's delta.
#pragma once
#include <vector>

#include "gates/soak_model.h"

namespace x0x::gates::soak {

// One WindowAccounting per window, same order. The reference's rules:
//   baseline = the node's previous post, else this window's pre;
//   no post → "<node>:post" (unaccounted), the previous post stays so the next window bridges;
//   no baseline → "<node>:baseline" (unaccounted), this post becomes the baseline;
//   no pre but a previous post → "<node>:pre" (accounted: the bridge covers it);
//   any counter below its baseline → "<node>:counter_reset" (unaccounted; a restart too, whatever the uptime says);
//   deltas = max(0, post − baseline).
// Ours: a window of a later fleet_epoch than the node's previous post (the soak
// started a fresh fleet) takes its baseline from this window's pre:
// "<node>:fleet_restarted", accounted. Skipped and interrupted slots have no
// snapshots: empty accounting (has_data false), the next window bridges them.
std::vector<WindowAccounting> account_windows(const std::vector<SoakWindow>& windows);

}  // namespace x0x::gates::soak
