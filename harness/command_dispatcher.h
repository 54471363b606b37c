// Sends a matrix's commands to their runners through the anchor: bounded
// concurrency (one anchor client per worker, so connections are reused), and
// a retry of a command DM that the anchor did not take (no HTTP answer, 429 or
// 5xx, e.g. 502 peer_disconnected while the runner's node restarts), on the
// runners' one retry policy (runners/retry_policy.h). A retried command is
// harmless: runners drop a repeated command id. Answers the anchor gives with
// any other status are final.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "harness/runner_session.h"
#include "runners/retry_policy.h"

namespace x0x::harness {

struct PlannedCommand {
  runners::Command command;
  std::string to_agent;  // the source runner's agent id
};

// Phase A's: 3 attempts, 250 ms then 500 ms apart.
runners::RetryPolicy quick_dispatch_policy();
// Retries for up to `budget` (250 ms doubling to 2 s apart): a node that is
// restarting takes its runner off the mesh for a while (Phase B).
runners::RetryPolicy patient_dispatch_policy(std::chrono::milliseconds budget);

struct DispatchOptions {
  std::size_t parallel = 32;  // command DMs in flight
  runners::RetryPolicy retry = quick_dispatch_policy();
};

// True when a dispatch that ended like this is worth another attempt.
bool dispatch_retryable(const Dispatch& d);

// One Dispatch per planned command, same order; sent_at is the last attempt's.
std::vector<Dispatch> dispatch_commands(const RunnerSession& session, const std::vector<PlannedCommand>& commands,
                                        const DispatchOptions& opts);

}  // namespace x0x::harness
