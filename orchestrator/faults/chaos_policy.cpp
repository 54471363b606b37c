#include "orchestrator/faults/chaos_policy.h"

#include <algorithm>
#include <map>
#include <vector>

#include "orchestrator/control/soak_lock.h"

namespace x0x::orchestrator {

std::string chaos_refusal(const Fleet& fleet, const std::string& kind, const std::string& scenario) {
  auto where = fleet.path.empty() ? std::string("the inventory") : fleet.path.string();
  if (fleet.chaos_forbidden())
    return "chaos against network '" + fleet.network + "' is forbidden by " + where +
           " [chaos] forbid_networks; that takes an inventory change, not a flag";
  if (auto held = soak_holding(fleet.path); !held.empty()) return held;
  if (!fleet.chaos_configured) return {};
  // Mechanism families; scenario names come with the request, not from here.
  static const std::map<std::string, std::vector<std::string>> aliases = {
      {"delay", {"netem"}}, {"loss", {"netem"}}, {"slow", {"tbf"}}, {"partition", {"iptables"}}, {"stale", {"sigstop"}},
      {"stall", {}},        {"restart", {}}};
  auto allowed = [&](const std::string& name) {
    return std::find(fleet.chaos_allow.begin(), fleet.chaos_allow.end(), name) != fleet.chaos_allow.end();
  };
  if (allowed("*") || allowed(kind) || (!scenario.empty() && allowed(scenario))) return {};
  if (auto it = aliases.find(kind); it != aliases.end())
    for (auto& a : it->second)
      if (allowed(a)) return {};
  return "'" + kind + "' is not in " + where + " [chaos] allow (empty = every destructive operation refused)";
}

}  // namespace x0x::orchestrator
