#include "runners/control_stats.h"

#include <nlohmann/json.hpp>

namespace x0x::runners {

nlohmann::json ControlChannelStats::to_json() const {
  return {{"commands_accepted", commands_accepted.load()},
          {"commands_refused_untrusted", commands_refused_untrusted.load()},
          {"commands_refused_unattributed", commands_refused_unattributed.load()},
          {"commands_duplicate", commands_duplicate.load()},
          {"commands_timed_out", commands_timed_out.load()},
          {"commands_backlog_full", commands_backlog_full.load()},
          {"frames_rate_limited", frames_rate_limited.load()},
          {"hops_reported", hops_reported.load()},
          {"hop_reports_refused", hop_reports_refused.load()},
          {"results_dropped", results_dropped.load()},
          {"log_lines_suppressed", log_lines_suppressed.load()}};
}

std::uint64_t ControlChannelStats::total() const {
  return commands_accepted + commands_refused_untrusted + commands_refused_unattributed + commands_duplicate +
         commands_timed_out + commands_backlog_full + frames_rate_limited + hops_reported + hop_reports_refused +
         results_dropped + log_lines_suppressed;
}

}  // namespace x0x::runners
