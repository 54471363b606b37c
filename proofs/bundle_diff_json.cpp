// BundleDiff::to_json: `x0xctl proof diff --json`. Unknown numbers are null,
// +inf the string "inf" (as in soak.json).
#include <cmath>

#include "proofs/bundle_diff.h"

namespace x0x::proofs {

using nlohmann::json;

namespace {

json num(std::optional<double> v) {
  if (!v) return nullptr;
  if (std::isinf(*v)) return *v > 0 ? json("inf") : json("-inf");
  return *v;
}

json value_changes(const std::vector<ValueChange>& list) {
  json out = json::array();
  for (auto& c : list) out.push_back({{"name", c.name}, {"a", c.a}, {"b", c.b}, {"changed", c.changed()}});
  return out;
}

json rule_changes(const std::vector<RuleChange>& list, bool soak) {
  json out = json::array();
  for (auto& r : list) {
    json j = {{"scope", r.scope}, {"rule", r.rule},       {"status_a", r.status_a},
              {"status_b", r.status_b}, {"regressed", r.regressed}, {"recovered", r.recovered}};
    if (soak) {
      j["detail_a"] = r.detail_a;
      j["detail_b"] = r.detail_b;
    } else {
      j["worst_node_a"] = r.worst_a;
      j["worst_node_b"] = r.worst_b;
      j["observed_a"] = r.observed_a;
      j["observed_b"] = r.observed_b;
      j["threshold_a"] = r.threshold_a;
      j["threshold_b"] = r.threshold_b;
    }
    out.push_back(std::move(j));
  }
  return out;
}

json violations(const std::vector<ViolationChange>& list) {
  json out = json::array();
  for (auto& v : list)
    out.push_back({{"scenario", v.scenario}, {"rule", v.rule}, {"node", v.node}, {"observed", v.observed},
                   {"threshold", v.threshold}, {"message", v.message}});
  return out;
}

json latency(const LatencySide& s) {
  return {{"pairs", s.pairs}, {"delivered", s.delivered}, {"p50_ms", num(s.p50)}, {"p99_ms", num(s.p99)}};
}

json phase_a(const PhaseADiff& p) {
  json pairs = json::array();
  for (auto& c : p.pairs)
    pairs.push_back({{"src", c.src}, {"dst", c.dst}, {"change", to_string(c.kind)}, {"outcome_a", c.outcome_a},
                     {"outcome_b", c.outcome_b}, {"latency_ms_a", num(c.latency_a)}, {"latency_ms_b", num(c.latency_b)}});
  return {{"in_a", p.in_a}, {"in_b", p.in_b}, {"a", latency(p.a)}, {"b", latency(p.b)}, {"pairs", pairs}};
}

json gate_json(const GateDiff& g) {
  json scenarios = json::array();
  for (auto& s : g.scenarios) {
    json counters = json::array();
    for (auto& c : s.counters) {
      json change = c.a && c.b ? num(*c.b - *c.a) : json(nullptr);
      counters.push_back({{"node", c.node}, {"counter", c.counter}, {"a", num(c.a)}, {"b", num(c.b)}, {"change", change}});
    }
    scenarios.push_back({{"name", s.name},
                         {"status_a", s.status_a},
                         {"status_b", s.status_b},
                         {"rules", rule_changes(s.rules, false)},
                         {"phase_a", s.phase_a ? phase_a(*s.phase_a) : json(nullptr)},
                         {"counters", counters},
                         {"nodes_only_a", s.nodes_only_a},
                         {"nodes_only_b", s.nodes_only_b}});
  }
  return {{"scenarios", scenarios},
          {"scenarios_only_a", g.scenarios_only_a},
          {"scenarios_only_b", g.scenarios_only_b},
          {"violations_appeared", violations(g.violations_appeared)},
          {"violations_disappeared", violations(g.violations_disappeared)}};
}

json soak_phase_a(const SoakPhaseASide& s) {
  return {{"windows", s.windows},         {"sent", s.sent},
          {"received", s.received},       {"expected", s.expected},
          {"failed_pairs", s.failed_pairs}, {"p99_median_ms", num(s.p99_median)},
          {"p99_max_ms", num(s.p99_max)}, {"p99_last_ms", num(s.p99_last)},
          {"p99_slope_ms_per_window", num(s.p99_slope_ms_per_window)}};
}

json soak_json(const SoakDiff& s) {
  json classes = json::array(), totals = json::array();
  for (auto& w : s.window_classes) classes.push_back({{"index", w.index}, {"a", w.a}, {"b", w.b}});
  for (auto& n : s.node_totals) {
    json a = json::object(), b = json::object();
    for (std::size_t i = 0; i < n.a.size(); ++i) {
      a[NodeTotalsChange::kFields[i]] = num(n.a[i]);
      b[NodeTotalsChange::kFields[i]] = num(n.b[i]);
    }
    totals.push_back({{"node", n.node}, {"a", a}, {"b", b}});
  }
  return {{"rules", rule_changes(s.rules, true)},
          {"policy", value_changes(s.policy)},
          {"class_counts", value_changes(s.class_counts)},
          {"same_windows", s.same_windows},
          {"window_classes", classes},
          {"node_totals", totals},
          {"phase_a", {{"a", soak_phase_a(s.phase_a_a)}, {"b", soak_phase_a(s.phase_a_b)}}}};
}

}  // namespace

json BundleDiff::to_json() const {
  json j = {{"kind", to_string(kind)},
            {"a", label_a},
            {"b", label_b},
            {"verdict", {{"a", verdict.a}, {"b", verdict.b}, {"changed", verdict.changed()}}},
            {"settings", value_changes(settings)},
            {"notes", notes},
            {"regressed", regressed()},
            {"regressions", regressions},
            {"changed", has_changes()}};
  if (gate) j["gate"] = gate_json(*gate);
  if (soak) j["soak"] = soak_json(*soak);
  return j;
}

}  // namespace x0x::proofs
