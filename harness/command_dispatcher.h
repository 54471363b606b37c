// Sends a matrix's commands to their runners through the anchor: bounded
// concurrency (one anchor client per worker, so connections are reused), and
// a retry of a command DM that the anchor did not take (no HTTP answer, 429 or
// 5xx). A retried command is harmless: runners drop a repeated command id.
// Answers the anchor gives with any other status are final.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "harness/runner_session.h"

namespace x0x::harness {

struct PlannedCommand {
  runners::Command command;
  std::string to_agent;  // the source runner's agent id
};

struct DispatchOptions {
  std::size_t parallel = 32;  // command DMs in flight
  int attempts = 3;           // per command, the first included
  std::chrono::milliseconds backoff{250};  // × attempt number between attempts
};

// True when a dispatch that ended like this is worth another attempt.
bool dispatch_retryable(const Dispatch& d);

// One Dispatch per planned command, same order; sent_at is the last attempt's.
std::vector<Dispatch> dispatch_commands(const RunnerSession& session, const std::vector<PlannedCommand>& commands,
                                        const DispatchOptions& opts);

}  // namespace x0x::harness
