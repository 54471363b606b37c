// What a scenario body works with (the scenarios themselves are listed in
// harness/scenario_registry.h). The gate run takes the pre snapshot, sets the
// run's roles, calls the body, lets the window settle and takes the post
// snapshot; a body fills in its metrics, fault windows and Phase A result,
// and reverts every fault it applied before it returns — also when it throws
// or is interrupted.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "gates/observations_io.h"
#include "gates/profile.h"
#include "gates/scorer.h"
#include "harness/node_api.h"
#include "harness/phase_a.h"
#include "orchestrator/faults/fault_injector.h"
#include "orchestrator/control/inventory.h"

namespace x0x::harness {

struct ScenarioOptions {
  // Opt-ins: asking for a destructive scenario without its flag is a usage error.
  bool allow_restart_storm = false, allow_netem = false, allow_iptables = false, allow_peer_faults = false;
  std::string target_node;                     // high_rtt_peer (required), slow_peer, stale_peer
  std::vector<std::string> partition_pair;     // partition_recovery: two non-anchor nodes
  int restart_count = 2;
  int burst_messages = 200, burst_payload_bytes = 4096, burst_delay_ms = 10;
  double burst_settle_secs = 30;               // longest wait for every subscriber to get the burst
  double fault_secs = 180;                     // high_rtt_peer window (--netem-secs); slow/stale window
  double peer_fault_secs = 30;                 // slow_peer / stale_peer window
  double heal_secs = 90;                       // partition_recovery, slow/stale rejoin: heal limit
  double netem_heal_secs = 150;                // high_rtt_peer: heal limit (the reference's --netem-heal-secs;
                                               // it must outlast a 120 s cooldown)
  double block_secs = 60;                      // partition_recovery block time
  double recovery_limit_secs = 120;            // restart_storm: give up after this
  int netem_delay_ms = 1500, netem_jitter_ms = 200;
  double poll_secs = 1;                        // recovery polling interval
  std::chrono::milliseconds request_timeout{12'000};
  // Phase A
  std::chrono::milliseconds discover{30'000}, settle{45'000};
  std::size_t phase_a_parallel = 32;
  // The fixed-roster soak (spec §5.8 variant A): runners use PubSub for discovery only.
  bool no_pubsub_after_discover = false;
};

struct ScenarioContext {
  const orchestrator::Fleet& fleet;
  const std::vector<NodeApi>& apis;  // every node, fleet order
  std::string anchor;
  orchestrator::FaultInjector& faults;
  const gates::GateProfile& profile;
  const ScenarioOptions& opts;
  std::string run_id;
  std::function<void(const std::string&)> progress;  // one short line
  const std::atomic<bool>* interrupted = nullptr;    // SIGINT/SIGTERM seen
  gates::JsonSink artefact;                          // scenario artefacts (trajectory, recovery.json)

  bool stop_requested() const { return interrupted && interrupted->load(); }
  // Sleeps up to `d`, waking early when interrupted; false if interrupted.
  bool wait(std::chrono::duration<double> d) const;
  void say(const std::string& line) const {
    if (progress) progress(line);
  }
};

// Runs a scenario body (between the pre snapshot and the window's settle).
// Sets run.status errored with the reason on failure; never leaves a fault behind.
void run_scenario_body(void (*body)(ScenarioContext&, gates::ScenarioRun&), ScenarioContext& ctx, gates::ScenarioRun& run);

// The profile asks for Phase A in this scenario ([phase_a] scenarios).
bool phase_a_asked(const ScenarioContext& ctx, const gates::ScenarioRun& run);
// Phase A over the whole fleet through the anchor, stored in run.phase_a.
void run_phase_a_into(ScenarioContext& ctx, gates::ScenarioRun& run);

}  // namespace x0x::harness
