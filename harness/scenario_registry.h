// The scenarios of a gate run, one registry entry each (spec
// gates-and-proofs.md §4, with the fixes of §9.1): its name, the opt-in flag
// it needs, the check of its parameters on a fleet (a usage error before any
// work starts), the nodes it acts on by role, its body, what it adds to the
// scoring (its own rules, the exemptions of its targets, the Phase A pairs
// that cannot pass under it) and the default longest wait for its window to
// settle. Adding a scenario touches this registry and its body, nothing else.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gates/profile.h"
#include "gates/scenario_scoring.h"
#include "harness/scenario.h"

namespace x0x::harness {

// The flag a destructive scenario needs; without it, asking for the scenario is a usage error.
enum class OptIn { none, restart_storm, netem, iptables, peer_faults };
std::string_view opt_in_flag(OptIn o);  // "--allow-netem"; "" for none
bool opted_in(OptIn o, const ScenarioOptions& opts);

// What a scenario's parameters are checked against before anything starts.
struct FleetShape {
  std::vector<std::string> nodes;  // inventory order
  std::string anchor;
  const orchestrator::Fleet* inventory = nullptr;  // its [chaos] policy, when there is an inventory
};

using Roles = std::map<std::string, std::vector<std::string>>;  // "target" -> [sfo], "pair" -> [a, b]

struct ScenarioSpec {
  std::string name;
  std::string summary;  // one line for --help and the docs
  OptIn opt_in = OptIn::none;
  // Problems with the scenario's parameters on this fleet ("" = none), e.g.
  // "--partition-pair must not include the anchor".
  std::function<std::string(const ScenarioOptions&, const FleetShape&)> check;
  // The nodes it acts on, by role; recorded on the run before its body starts.
  std::function<Roles(const ScenarioOptions&, const FleetShape&)> roles;
  void (*body)(ScenarioContext&, gates::ScenarioRun&) = nullptr;
  // The fault kinds it applies (orchestrator/faults), checked against the inventory's [chaos] policy up front.
  std::vector<std::string> fault_kinds;
  gates::ScenarioScoring scoring;
  // Longest wait for the window to settle when the profile has no
  // [settle.<name>] (the reference's fixed wait where it had one).
  double max_settle_secs = 30;
};

// In the reference's registry order, then ours.
const std::vector<ScenarioSpec>& scenario_registry();
const ScenarioSpec* find_scenario(std::string_view name);
std::vector<std::string> scenario_names();
// For gates::score: the scoring a scenario declares (none for an unknown name).
gates::ScenarioScoring scenario_scoring(const std::string& name);

// Why this scenario cannot be asked for with these options on this fleet
// (unknown name, missing opt-in, bad parameters, a fault the inventory's
// [chaos] policy refuses), or "" when it can.
std::string scenario_usage_problem(const std::string& name, const ScenarioOptions& opts, const FleetShape& fleet);

struct SettleBounds {
  double min_secs = 0, max_secs = 30;
};
// The profile's [settle.<name>] over the scenario's defaults.
SettleBounds settle_bounds(const ScenarioSpec& spec, const gates::GateProfile& profile);

}  // namespace x0x::harness
