// What the runner's control channel accepted, refused and dropped (issue 12).
// Reported in the details of every `discover_reply` and `ack` under
// "control_channel" (the runner's state, as its orchestrator sees it) and in a
// summary log line when something changed.
#pragma once
#include <atomic>
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

namespace x0x::runners {

struct ControlChannelStats {
  using Counter = std::atomic<std::uint64_t>;
  Counter commands_accepted{0};        // from a trusted sender, run (or answered from the recent results)
  Counter commands_refused_untrusted{0};    // a verified sender not trusted: error result, never run
  Counter commands_refused_unattributed{0}; // no verified sender: never run, nobody to answer
  Counter commands_duplicate{0};       // same (sender, command_id) again: not run again
  Counter commands_timed_out{0};       // the per-command timeout ended them (in the queue or running)
  Counter commands_backlog_full{0};    // the worker backlog was full: error result, never run
  Counter frames_rate_limited{0};      // commands and hops over their sender's rate: dropped unanswered
  Counter hops_reported{0};            // received_dm reports sent to a trusted anchor (or the topic)
  Counter hop_reports_refused{0};      // a hop naming an anchor the runner does not trust: not reported
  Counter results_dropped{0};          // outbound queue full or stale
  Counter log_lines_suppressed{0};     // by the hostile-traffic log throttle

  nlohmann::json to_json() const;
  // Sum of every counter: a cheap "did anything change" for the summary line.
  std::uint64_t total() const;
};

}  // namespace x0x::runners
