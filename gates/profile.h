// Gate profiles are data: a TOML file names the thresholds a scored window
// must meet (spec gates-and-proofs.md §3.1) and the scenario-scoped
// exemptions. `limited-production` and `broad-launch` ship in gates/profiles/
// and are compiled in; `--gate NAME|PATH` finds an operator's own profile
// without a rebuild. A rule absent from a profile is not applied.
//
// Profile file (every key optional except name; unknown keys are errors that
// name file:line:key):
//
//   name = "limited-production"
//   description = "..."
//   [thresholds]
//   max_dispatcher_timed_out_delta = 5
//   max_recv_pump_dropped_full_delta = 0
//   max_per_peer_timeout_delta = 200
//   max_per_peer_timeout_to_dispatcher_completed_ratio = 0.25
//   max_suppressed_peers_steady = 200
//   max_suppressed_peers_to_known_peer_topic_pairs_ratio = 0.12
//   max_data_tx_high_water_count_delta = 0
//   min_phase_a_pairs = "all"         # n·(n−1) of the fleet being scored, or an integer
//   min_phase_b_checks = "all"        # phase_b: 10·n+10 checks passed (spec mesh-protocol.md §4), or an integer
//   max_recovery_secs = 90            # restart_storm: every restarted node healthy and back in the mesh
//   max_partition_recovery_secs = 90  # partition_recovery: from the heal
//   [phase_a]
//   scenarios = ["baseline"]          # scenarios that run Phase A (and are scored on it)
//   [settle.fanout_burst]             # how a scenario's window closes (harness/settle.h)
//   min_settle_secs = 0               # never before this, after the scenario's effects
//   max_settle_secs = 30              # at the latest; work still pending then fails the gate
//   [exemptions.my_scenario]          # more exemptions than the scenario's own (its
//   dispatcher_timeout = ["target"]   # registry entry declares those): role or node names
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace x0x::gates {

// Rule keys, in the reference's evaluation order (spec §3.2).
inline constexpr const char* kDispatcherTimedOut = "max_dispatcher_timed_out_delta";
inline constexpr const char* kDroppedFull = "max_recv_pump_dropped_full_delta";
inline constexpr const char* kPerPeerTimeout = "max_per_peer_timeout_delta";
inline constexpr const char* kPerPeerTimeoutRatio = "max_per_peer_timeout_to_dispatcher_completed_ratio";
inline constexpr const char* kDataTxHighWater = "max_data_tx_high_water_count_delta";
inline constexpr const char* kSuppressedSteady = "max_suppressed_peers_steady";
inline constexpr const char* kSuppressionRatio = "max_suppressed_peers_to_known_peer_topic_pairs_ratio";
inline constexpr const char* kMinPhaseAPairs = "min_phase_a_pairs";
inline constexpr const char* kMinPhaseBChecks = "min_phase_b_checks";  // phase_b scenario: checks passed, "all" = 10N+10
inline constexpr const char* kMaxRecoverySecs = "max_recovery_secs";
inline constexpr const char* kMaxPartitionRecoverySecs = "max_partition_recovery_secs";
// Scenario rules with no threshold (declared by the scenario, never by a profile).
inline constexpr const char* kPartitionAntiEntropy = "partition_anti_entropy";  // some side's anti-entropy moved
// Violations outside the rules table.
inline constexpr const char* kWindowSettled = "window_settled";      // work still pending when the window closed
inline constexpr const char* kScenarioErrored = "scenario_errored";
inline constexpr const char* kScenarioNotRun = "scenario_not_run";

// Exemption kinds: which rule a role's nodes are exempt from in one scenario.
inline constexpr const char* kExemptDispatcherTimeout = "dispatcher_timeout";  // kDispatcherTimedOut
inline constexpr const char* kExemptSuppressionRatio = "suppression_ratio";    // kSuppressionRatio only: the steady
                                                                               // size (kSuppressedSteady) binds every node

class ProfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;  // "gates/x.toml:7: thresholds.foo: unknown key"
};

struct GateProfile {
  std::string name;
  std::string description;
  std::string source;  // the file it came from, or "built-in:<name>"
  std::string text;    // the TOML exactly as loaded (copied into proof bundles)
  std::map<std::string, double> thresholds;  // rule key -> threshold; min_phase_a_pairs "all" is absent here...
  bool phase_a_all_pairs = false;            // ...and set here instead
  bool phase_b_all_checks = false;           // the same for min_phase_b_checks "all"
  std::set<std::string> phase_a_scenarios;
  // scenario -> exemption kind -> role names ("target", "pair", or a node name); added
  // to the exemptions the scenario itself declares
  std::map<std::string, std::map<std::string, std::vector<std::string>>> exemptions;
  struct SettleBounds {
    std::optional<double> min_secs, max_secs;  // unset: the scenario's defaults
  };
  std::map<std::string, SettleBounds> settle;  // scenario -> [settle.<scenario>]

  bool has(const std::string& rule) const {
    return thresholds.count(rule) || (rule == kMinPhaseAPairs && phase_a_all_pairs) || (rule == kMinPhaseBChecks && phase_b_all_checks);
  }
  // The Phase A bar for a fleet of n nodes: n·(n−1) for "all", else the number.
  std::optional<long> min_phase_a_pairs(std::size_t n) const;
  // The Phase B bar for a fleet of n nodes: the strict count 10·n+10 for "all", else the number.
  std::optional<long> min_phase_b_checks(std::size_t n) const;
};

GateProfile parse_profile(std::string_view toml_text, const std::string& source);
GateProfile load_profile_file(const std::filesystem::path& path);
// NAME or PATH: a path (contains '/' or ends in .toml) is loaded as given; a
// name is looked up in $X0X_GATES_DIR, then ./gates/, then the compiled-in
// profiles. ProfileError lists where it looked.
GateProfile resolve_profile(const std::string& name_or_path);
std::vector<std::string> builtin_profile_names();

}  // namespace x0x::gates
