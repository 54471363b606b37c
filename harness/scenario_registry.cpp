#include "harness/scenario_registry.h"

#include <algorithm>

#include <fmt/format.h>

#include "harness/scenario_impl.h"
#include "orchestrator/faults/chaos_policy.h"

namespace x0x::harness {

namespace {

bool has(const FleetShape& f, const std::string& n) { return std::find(f.nodes.begin(), f.nodes.end(), n) != f.nodes.end(); }

std::vector<std::string> others(const FleetShape& f) {
  std::vector<std::string> out;
  for (auto& n : f.nodes)
    if (n != f.anchor) out.push_back(n);
  return out;
}

// --target-node if given, else the last non-anchor node.
std::string target_of(const ScenarioOptions& o, const FleetShape& f) {
  if (!o.target_node.empty()) return o.target_node;
  auto rest = others(f);
  return rest.empty() ? std::string() : rest.back();
}

std::string check_target(const ScenarioOptions& o, const FleetShape& f, bool required, std::string_view flag) {
  if (o.target_node.empty()) {
    if (required) return fmt::format("--target-node is required with {}", flag);
    return others(f).empty() ? "needs a node other than the anchor" : "";
  }
  if (!has(f, o.target_node)) return "unknown --target-node " + o.target_node;
  if (o.target_node == f.anchor) return "--target-node must be a non-anchor node";
  return "";
}

Roles target_roles(const ScenarioOptions& o, const FleetShape& f) { return {{"target", {target_of(o, f)}}}; }

std::string no_check(const ScenarioOptions&, const FleetShape&) { return ""; }
Roles no_roles(const ScenarioOptions&, const FleetShape&) { return {}; }

// A fault makes its target time out on purpose: only the target is exempt,
// from the rules the fault is expected to trip (spec §4.4 step 9); every
// other rule, the steady suppressed-peers size included, still applies to it.
gates::ScenarioScoring target_fault_scoring(bool phase_a_without_target) {
  gates::ScenarioScoring s;
  s.exemptions[gates::kExemptDispatcherTimeout] = {"target"};
  s.exemptions[gates::kExemptSuppressionRatio] = {"target"};
  if (phase_a_without_target) s.phase_a_excluded_role = "target";
  return s;
}

ScenarioSpec entry(std::string name, std::string summary, OptIn opt_in, void (*body)(ScenarioContext&, gates::ScenarioRun&)) {
  ScenarioSpec s;
  s.name = std::move(name);
  s.summary = std::move(summary);
  s.opt_in = opt_in;
  s.body = body;
  s.check = no_check;
  s.roles = no_roles;
  return s;
}

std::vector<ScenarioSpec> build_registry() {
  std::vector<ScenarioSpec> r;

  r.push_back(entry("baseline", "Phase A over every directed pair of the fleet", OptIn::none, detail::baseline));

  // The reference waits 30 s after the burst: a dispatcher handler can time out up to 30 s after it.
  r.push_back(entry("fanout_burst", "PubSub burst from the anchor; every other node subscribes and counts what arrives", OptIn::none,
                    detail::fanout_burst));

  {
    auto s = entry("restart_storm", "restart N non-anchor nodes; each must be healthy and back in the mesh", OptIn::restart_storm,
                   detail::restart_storm);
    s.check = [](const ScenarioOptions& o, const FleetShape& f) -> std::string {
      if (others(f).empty()) return "needs a node other than the anchor";
      if (o.restart_count < 1) return "--restart-count must be at least 1";
      return "";
    };
    s.roles = [](const ScenarioOptions& o, const FleetShape& f) {
      auto rest = others(f);
      rest.resize(std::min<std::size_t>(rest.size(), static_cast<std::size_t>(std::max(1, o.restart_count))));
      return Roles{{"target", rest}};
    };
    s.fault_kinds = {"restart"};
    s.scoring.rules = {gates::kMaxRecoverySecs};
    s.max_settle_secs = 30;  // the reference's re-mesh settle
    r.push_back(std::move(s));
  }

  {
    auto s = entry("high_rtt_peer", "a slow, jittery link on one node, with traffic so that cooling shows; it must cool and heal",
                   OptIn::netem, detail::high_rtt_peer);
    s.check = [](const ScenarioOptions& o, const FleetShape& f) { return check_target(o, f, true, "--allow-netem"); };
    s.roles = target_roles;
    s.fault_kinds = {"delay"};
    s.scoring = target_fault_scoring(true);
    s.max_settle_secs = 150;  // the reference's heal window
    r.push_back(std::move(s));
  }

  {
    auto s = entry("partition_recovery", "block two non-anchor nodes from each other, heal, and time the reconciliation",
                   OptIn::iptables, detail::partition_recovery);
    s.check = [](const ScenarioOptions& o, const FleetShape& f) -> std::string {
      auto& p = o.partition_pair;
      if (p.size() != 2) return "--partition-pair must be two node names, e.g. sfo,sydney";
      if (p[0] == p[1]) return "--partition-pair nodes must be distinct";
      std::string unknown;
      for (auto& n : p)
        if (!has(f, n)) unknown += (unknown.empty() ? "" : ",") + n;
      if (!unknown.empty()) return "unknown partition node(s): " + unknown;
      if (p[0] == f.anchor || p[1] == f.anchor) return "--partition-pair must not include the anchor";
      return "";
    };
    s.roles = [](const ScenarioOptions& o, const FleetShape&) { return Roles{{"pair", o.partition_pair}}; };
    s.fault_kinds = {"partition"};
    s.scoring.rules = {gates::kMaxPartitionRecoverySecs, gates::kPartitionAntiEntropy};
    s.scoring.exemptions[gates::kExemptDispatcherTimeout] = {"pair"};  // both sides time out while it holds (§4.5 step 9)
    s.max_settle_secs = 90;  // the reference's heal limit
    r.push_back(std::move(s));
  }

  {
    auto s = entry("slow_peer", "rate-limit one node's links for a window, Phase A in the middle of it", OptIn::peer_faults,
                   detail::slow_peer);
    s.check = [](const ScenarioOptions& o, const FleetShape& f) { return check_target(o, f, false, "--allow-peer-faults"); };
    s.roles = target_roles;
    s.fault_kinds = {"slow"};
    s.scoring = target_fault_scoring(true);
    r.push_back(std::move(s));
  }

  {
    auto s = entry("stale_peer", "one node keeps its connections but answers nothing, Phase A in the middle of it",
                   OptIn::peer_faults, detail::stale_peer);
    s.check = [](const ScenarioOptions& o, const FleetShape& f) { return check_target(o, f, false, "--allow-peer-faults"); };
    s.roles = target_roles;
    s.fault_kinds = {"stale"};
    s.scoring = target_fault_scoring(true);
    r.push_back(std::move(s));
  }
  {
    // Ours (the reference ran Phase B only after a deploy, never in a gate).
    auto s = entry("phase_b", "Phase B: contacts and named groups (public_open and private_secure) over the fleet",
                   OptIn::none, detail::phase_b);
    s.check = [](const ScenarioOptions&, const FleetShape& f) -> std::string {
      return f.nodes.size() < 2 ? "needs at least 2 nodes (the anchor and a member)" : "";
    };
    s.scoring.rules = {gates::kMinPhaseBChecks};
    r.push_back(std::move(s));
  }
  return r;
}

}  // namespace

std::string_view opt_in_flag(OptIn o) {
  switch (o) {
    case OptIn::restart_storm: return "--allow-restart-storm";
    case OptIn::netem: return "--allow-netem";
    case OptIn::iptables: return "--allow-iptables";
    case OptIn::peer_faults: return "--allow-peer-faults";
    case OptIn::none: break;
  }
  return "";
}

bool opted_in(OptIn o, const ScenarioOptions& opts) {
  switch (o) {
    case OptIn::restart_storm: return opts.allow_restart_storm;
    case OptIn::netem: return opts.allow_netem;
    case OptIn::iptables: return opts.allow_iptables;
    case OptIn::peer_faults: return opts.allow_peer_faults;
    case OptIn::none: break;
  }
  return true;
}

const std::vector<ScenarioSpec>& scenario_registry() {
  static const std::vector<ScenarioSpec> registry = build_registry();
  return registry;
}

const ScenarioSpec* find_scenario(std::string_view name) {
  for (auto& s : scenario_registry())
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (auto& s : scenario_registry()) names.push_back(s.name);
  return names;
}

gates::ScenarioScoring scenario_scoring(const std::string& name) {
  auto* s = find_scenario(name);
  return s ? s->scoring : gates::ScenarioScoring{};
}

std::string scenario_usage_problem(const std::string& name, const ScenarioOptions& opts, const FleetShape& fleet) {
  auto* s = find_scenario(name);
  if (!s) return fmt::format("unknown scenario '{}' (known: {})", name, fmt::join(scenario_names(), ", "));
  if (!opted_in(s->opt_in, opts)) return fmt::format("{} is destructive: pass {} to run it", name, opt_in_flag(s->opt_in));
  auto why = s->check ? s->check(opts, fleet) : std::string();
  if (why.empty() && fleet.inventory)
    for (auto& kind : s->fault_kinds)
      if (why = orchestrator::chaos_refusal(*fleet.inventory, kind, name); !why.empty()) break;
  return why.empty() ? why : name + ": " + why;
}

SettleBounds settle_bounds(const ScenarioSpec& spec, const gates::GateProfile& profile) {
  SettleBounds b;
  b.max_secs = spec.max_settle_secs;
  if (auto it = profile.settle.find(spec.name); it != profile.settle.end()) {
    if (it->second.min_secs) b.min_secs = *it->second.min_secs;
    if (it->second.max_secs) b.max_secs = *it->second.max_secs;
  }
  b.max_secs = std::max(b.max_secs, b.min_secs);
  return b;
}

}  // namespace x0x::harness
