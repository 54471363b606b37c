#include "harness/command_dispatcher.h"

#include <optional>
#include <thread>

#include "core/parallel_for.h"
#include "probes/rest_client.h"

namespace x0x::harness {

using namespace std::chrono_literals;

runners::RetryPolicy quick_dispatch_policy() {
  runners::RetryPolicy p;
  p.max_attempts = 3;
  p.first_backoff = 250ms;
  p.max_backoff = 500ms;
  return p;
}

runners::RetryPolicy patient_dispatch_policy(std::chrono::milliseconds budget) {
  runners::RetryPolicy p;
  p.max_attempts = 0;  // bounded by the budget alone
  p.first_backoff = 250ms;
  p.max_backoff = 2s;
  p.give_up_after = budget;
  return p;
}

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
    opts.retry.run(
        [&](int attempt) {
          d = session.send(*client, commands[i].command, commands[i].to_agent);
          d.attempts = attempt;
          if (d.accepted()) return runners::AttemptOutcome::success;
          return dispatch_retryable(d) ? runners::AttemptOutcome::retry : runners::AttemptOutcome::final_failure;
        },
        [](std::chrono::milliseconds wait) {
          std::this_thread::sleep_for(wait);
          return true;
        });
    out[i] = std::move(d);
  });
  return out;
}

}  // namespace x0x::harness
