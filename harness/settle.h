// How a scenario window closes. The reference slept a fixed time (30 s after
// a burst, none after a restart) or stopped at the first good sample, and so
// could close a window while a dispatcher handler was still on its way to a
// timeout. Here the window closes when every node shows nothing from the
// scenario still pending (gates/quiescence.h) on two polls in a row, and not
// before min_secs; at max_secs it closes anyway, and what was still pending
// (on the last two polls, so a transient frame does not name a healthy node)
// is recorded so that the scorer counts it against the gate (fail closed).
// The last poll is the post snapshot.
#pragma once
#include <atomic>
#include <chrono>
#include <map>

#include "gates/scorer.h"
#include "harness/node_api.h"
#include "harness/scenario_registry.h"

namespace x0x::harness {

struct SettleOptions {
  SettleBounds bounds;
  std::chrono::milliseconds poll{500};
  std::chrono::milliseconds request_timeout{12'000};
  const std::atomic<bool>* interrupted = nullptr;  // stop waiting (the window is recorded as it stood)
};

// Polls every node from now (the end of the scenario's effects); returns the
// snapshots of the last poll and fills `record`.
std::map<std::string, gates::RawSnapshot> settle_window(const std::vector<NodeApi>& nodes, const SettleOptions& opts,
                                                        gates::WindowSettle& record);

}  // namespace x0x::harness
