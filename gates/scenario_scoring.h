// What a scenario brings to its scoring besides the profile's thresholds:
// rules that only it has, the nodes its fault targets on purpose, and the
// Phase A pairs that cannot pass under it. Declared once, by the scenario's
// registry entry (harness/scenario_registry.h), and handed to the scorer as a
// lookup, so `proof rescore` scores a bundle exactly as the run did.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace x0x::gates {

struct ScenarioScoring {
  // Rule keys scored only in this scenario (kMaxRecoverySecs, kMaxPartitionRecoverySecs,
  // kPartitionAntiEntropy); elsewhere they are n/a.
  std::set<std::string> rules;
  // Exemption kind (kExemptDispatcherTimeout, kExemptSuppressionRatio) -> role names
  // resolved from the run's roles, or literal node names.
  std::map<std::string, std::vector<std::string>> exemptions;
  // Phase A is scored on the pairs that do not involve this role's nodes, and
  // those pairs are reported apart ("" = every pair counts).
  std::string phase_a_excluded_role;
};

// Scoring of a scenario by name; an unknown name has none.
using ScoringLookup = std::function<ScenarioScoring(const std::string& scenario)>;

}  // namespace x0x::gates
