#include "harness/command_dispatcher.h"

#include <optional>
#include <thread>

#include "core/parallel_for.h"
#include "probes/rest_client.h"

namespace x0x::harness {

bool dispatch_retryable(const Dispatch& d) {
  if (d.accepted()) return false;
  return d.http_status == 0 || d.http_status == 429 || d.http_status >= 500;
}

std::vector<Dispatch> dispatch_commands(const RunnerSession& session, const std::vector<PlannedCommand>& commands,
                                        const DispatchOptions& opts) {
  std::vector<Dispatch> out(commands.size());
  std::vector<std::optional<probes::RestClient>> clients(std::max<std::size_t>(1, opts.parallel));
  parallel_for_workers(commands.size(), opts.parallel, [&](std::size_t i, std::size_t worker) {
    auto& client = clients[worker];
    if (!client) client.emplace(session.client());
    Dispatch d;
    for (int attempt = 1; attempt <= std::max(1, opts.attempts); ++attempt) {
      if (attempt > 1) std::this_thread::sleep_for(opts.backoff * (attempt - 1));
      d = session.send(*client, commands[i].command, commands[i].to_agent);
      d.attempts = attempt;
      if (!dispatch_retryable(d)) break;
    }
    out[i] = std::move(d);
  });
  return out;
}

}  // namespace x0x::harness
