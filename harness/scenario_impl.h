// Internal to harness/: the scenario bodies and what they share.
#pragma once
#include <memory>
#include <vector>

#include "harness/scenario.h"
#include "orchestrator/faults/fault_heartbeat.h"

namespace x0x::harness::detail {

void baseline(ScenarioContext& ctx, gates::ScenarioRun& run);
void fanout_burst(ScenarioContext& ctx, gates::ScenarioRun& run);
void restart_storm(ScenarioContext& ctx, gates::ScenarioRun& run);
void high_rtt_peer(ScenarioContext& ctx, gates::ScenarioRun& run);
void partition_recovery(ScenarioContext& ctx, gates::ScenarioRun& run);
void slow_peer(ScenarioContext& ctx, gates::ScenarioRun& run);
void stale_peer(ScenarioContext& ctx, gates::ScenarioRun& run);
void phase_b(ScenarioContext& ctx, gates::ScenarioRun& run);

// Faults applied in one scenario; reverted (and the revert verified and
// recorded in run.metrics["cleanup"]) by revert_all() or, at the latest, the
// destructor — so an exception or an interrupt cannot leave one behind. Each
// fault is held on its host under a short lease that a heartbeat renews until
// the revert, so if this process dies the host ends it within that lease.
class FaultGuard {
 public:
  FaultGuard(ScenarioContext& ctx, gates::ScenarioRun& run) : ctx_(ctx), run_(run) {}
  ~FaultGuard();
  FaultGuard(const FaultGuard&) = delete;
  FaultGuard& operator=(const FaultGuard&) = delete;
  void apply(orchestrator::FaultRequest req);
  // true when every revert verified clean
  bool revert_all();

 private:
  ScenarioContext& ctx_;
  gates::ScenarioRun& run_;
  struct Active {
    orchestrator::AppliedFault fault;
    std::size_t window;  // index in run_.faults
    std::unique_ptr<orchestrator::FaultHeartbeat> heartbeat;
  };
  std::vector<Active> active_;
  bool all_clean_ = true;
};

// The nodes that are not the anchor, fleet order.
std::vector<std::string> non_anchor_nodes(const ScenarioContext& ctx);
// The nodes of a role the registry set on the run ("target", "pair"); throws when it has fewer than at_least.
const std::vector<std::string>& role(const gates::ScenarioRun& run, const std::string& name, std::size_t at_least = 1);
// machine_id of a node from its /agent ("" if unreadable).
std::string machine_id_of(const ScenarioContext& ctx, const std::string& node);
// Peer ids in diagnostics may be shortened: equal, or one a prefix of the other.
bool same_peer(const std::string& a, const std::string& b);
// The nodes `node` currently lists in GET /peers, by machine id.
std::vector<std::string> peer_ids_of(const ScenarioContext& ctx, const std::string& node);
// Seconds since `since` on the monotonic clock.
double secs_since(std::chrono::steady_clock::time_point since);

}  // namespace x0x::harness::detail
