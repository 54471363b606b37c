// The per-window gate (spec gates-and-proofs.md §3) over ScenarioRuns, fail
// closed: unknown values, missing snapshots and scenarios that did not run
// all fail, each violation naming node, observed value, threshold and file.
#include "gates/scorer.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include <fmt/format.h>

namespace x0x::gates {
namespace {

using nlohmann::json;

// Everything the scorer knows about one node in one scenario.
struct NodeState {
  std::string name;
  bool has_pre = false, has_post = false;
  NodeCounters pre, post;
  NodeDeltas d;
  std::set<std::string> exempt;  // exemption kinds that apply to this node here
};

// What a per-node rule observed on one node.
struct Observation {
  Value value;          // nullopt = unknown
  std::string why;      // why unknown
  std::string missing;  // "pre"/"post"/"pre or post": a whole snapshot is absent
};

enum class Needs { kGossipWindow, kGossipPost, kConnectivityWindow };

// One per-node rule of §3.1/§3.2.
struct NodeRule {
  const char* key;
  const char* label;        // used in "<node>: <label> unmeasurable: <why>"
  const char* exemption;    // exemption kind or nullptr
  Needs needs;
  bool is_ratio;            // observed/gate rendered %.3f
  std::function<Observation(const NodeState&)> observe;
  std::function<std::string(const NodeState&, double value, double gate)> message;
};

std::string gate_text(double g, bool is_ratio) { return is_ratio ? fmt::format("{:.3f}", g) : render(g); }

std::string why_of(const NodeCounters& c, const std::string& counter) {
  auto it = c.unknown_why.find(counter);
  return it != c.unknown_why.end() ? it->second : "missing " + counter;
}

Observation missing_side(const NodeState& n, bool needs_pre) {
  Observation o;
  if (needs_pre && !n.has_pre && !n.has_post) o.missing = "pre or post";
  else if (needs_pre && !n.has_pre) o.missing = "pre";
  else if (!n.has_post) o.missing = "post";
  return o;
}

// A window delta, unknown with the side's reason.
Observation delta(const NodeState& n, const std::string& counter) {
  Observation o = missing_side(n, true);
  if (!o.missing.empty()) return o;
  auto it = n.d.delta.find(counter);
  if (it != n.d.delta.end() && it->second) {
    o.value = it->second;
    return o;
  }
  auto pre = n.pre.values.find(counter);
  o.why = pre == n.pre.values.end() || !pre->second ? why_of(n.pre, counter) : why_of(n.post, counter);
  return o;
}

Observation post_value(const NodeState& n, const std::string& counter) {
  Observation o = missing_side(n, false);
  if (!o.missing.empty()) return o;
  auto it = n.post.values.find(counter);
  if (it != n.post.values.end() && it->second) o.value = it->second;
  else o.why = why_of(n.post, counter);
  return o;
}

Observation ratio_of(Observation num, Observation den, Value r) {
  if (!num.missing.empty()) return num;
  if (!den.missing.empty()) return den;
  if (!num.value) return num;
  if (!den.value) return den;
  Observation o;
  o.value = r;
  return o;
}

double value_of(const std::map<std::string, Value>& m, const char* key) {
  auto it = m.find(key);
  return it != m.end() && it->second ? *it->second : 0;
}

const std::vector<NodeRule>& window_rules() {
  static const std::vector<NodeRule> rules = {
      {kDispatcherTimedOut, "dispatcher_timed_out", kExemptDispatcherTimeout, Needs::kGossipWindow, false,
       [](const NodeState& n) { return delta(n, "dispatcher_timed_out"); },
       [](const NodeState& n, double v, double g) {
         return fmt::format("{}: dispatcher_timed_out delta {} > gate {}", n.name, render(v), render(g));
       }},
      {kDroppedFull, "recv_pump.dropped_full", nullptr, Needs::kGossipWindow, false,
       [](const NodeState& n) { return delta(n, "recv_pump_dropped_full"); },
       [](const NodeState& n, double v, double g) {
         return fmt::format("{}: recv_pump.dropped_full delta {} > gate {}", n.name, render(v), render(g));
       }},
      {kPerPeerTimeout, "per_peer_timeout", nullptr, Needs::kGossipWindow, false,
       [](const NodeState& n) { return delta(n, "per_peer_timeout_count"); },
       [](const NodeState& n, double v, double g) {
         return fmt::format("{}: per_peer_timeout delta {} > gate {}", n.name, render(v), render(g));
       }},
      {kPerPeerTimeoutRatio, "per_peer_timeout/dispatcher_completed ratio", nullptr, Needs::kGossipWindow, true,
       [](const NodeState& n) {
         return ratio_of(delta(n, "per_peer_timeout_count"), delta(n, "dispatcher_completed"), n.d.per_peer_timeout_ratio);
       },
       [](const NodeState& n, double v, double g) {
         return fmt::format("{}: per_peer_timeout/dispatcher_completed ratio {} > gate {:.3f} ({} / {})", n.name, render(v, 3),
                            g, render(value_of(n.d.delta, "per_peer_timeout_count")),
                            render(value_of(n.d.delta, "dispatcher_completed")));
       }},
      {kDataTxHighWater, "data_tx_high_water_count_delta", nullptr, Needs::kConnectivityWindow, false,
       [](const NodeState& n) { return delta(n, "data_tx_high_water_count"); },
       [](const NodeState& n, double v, double g) {
         return fmt::format("{}: data_tx saturation delta {} > gate {}", n.name, render(v), render(g));
       }},
  };
  return rules;
}

const std::vector<NodeRule>& post_rules() {
  static const std::vector<NodeRule> rules = {
      // The reference exempts a fault's target from the ratio only; the steady
      // size binds every node ("suppressed_peers size at end of run ≤ 200").
      {kSuppressedSteady, "suppressed_peers", nullptr, Needs::kGossipPost, false,
       [](const NodeState& n) { return post_value(n, "suppressed_peers_size"); },
       [](const NodeState& n, double v, double g) {
         return fmt::format("{}: suppressed_peers steady {} > gate {}", n.name, render(v), render(g));
       }},
      {kSuppressionRatio, "suppressed_peers/known_peer_topic_pairs ratio", kExemptSuppressionRatio, Needs::kGossipPost, true,
       [](const NodeState& n) {
         return ratio_of(post_value(n, "suppressed_peers_size"), post_value(n, "known_peer_topic_pairs"), n.d.suppression_ratio);
       },
       [](const NodeState& n, double v, double g) {
         return fmt::format("{}: suppressed_peers/known_peer_topic_pairs ratio {} > gate {:.3f} ({} / {})", n.name,
                            render(v, 3), g, render(value_of(n.post.values, "suppressed_peers_size")),
                            render(value_of(n.post.values, "known_peer_topic_pairs")));
       }},
  };
  return rules;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string s;
  for (auto& p : parts) s += (s.empty() ? "" : sep) + p;
  return s;
}

class ScenarioScorer {
 public:
  ScenarioScorer(const GateProfile& p, const ScenarioRun& run, const ScenarioScoring& scoring, ScenarioVerdict& v)
      : p_(p), run_(run), scoring_(scoring), v_(v) {}

  void score() {
    v_.name = run_.name;
    v_.reason = run_.reason;
    if (run_.status == RunStatus::not_run) return not_run();
    if (run_.status == RunStatus::errored)
      add({kScenarioErrored, "", "unknown", "", "scenario errored: " + (run_.reason.empty() ? "no reason given" : run_.reason),
           scenario_file()});
    if (run_.nodes.empty()) add({"scenario_no_nodes", "", "0", "", run_.name + ": no nodes were scored", scenario_file()});
    load_nodes();
    // §3.2 order: per node the window rules, then per node the post rules, then Phase A, then recovery.
    node_rules(window_rules());
    node_rules(post_rules());
    phase_a();
    phase_b();
    restart_recovery();
    partition_recovery();
    partition_anti_entropy();
    window_settled();
    v_.status = run_.status == RunStatus::errored ? ScenarioStatus::error
                : v_.violations.empty()           ? ScenarioStatus::pass
                                                  : ScenarioStatus::fail;
  }

 private:
  struct Found {
    std::string rule, node, observed, threshold, message, evidence;
  };

  void add(const Found& f) {
    v_.violations.push_back({run_.name, f.rule, f.node, f.observed, f.threshold, f.message, f.evidence});
  }

  std::string scenario_file() const { return "scenarios/" + run_.name + "/scenario.json"; }

  // A scenario's own rule (declared by its registry entry) applies here.
  bool own_rule(const char* key) const { return scoring_.rules.count(key) > 0; }

  void not_run() {
    v_.status = ScenarioStatus::not_run;
    for (auto& key : rule_order())
      if (p_.has(key) || (key == kPartitionAntiEntropy && own_rule(kPartitionAntiEntropy)))
        v_.rules.push_back({key, RuleStatus::not_run, "", "", threshold_text(key)});
    add({kScenarioNotRun, "", "not run", "",
         fmt::format("{}: not run: {}", run_.name, run_.reason.empty() ? "no reason given" : run_.reason), scenario_file()});
  }

  static const std::vector<std::string>& rule_order() {
    static const std::vector<std::string> order = {kDispatcherTimedOut, kDroppedFull,     kPerPeerTimeout,
                                                   kPerPeerTimeoutRatio, kDataTxHighWater, kSuppressedSteady,
                                                   kSuppressionRatio,  kMinPhaseAPairs,  kMinPhaseBChecks,
                                                   kMaxRecoverySecs, kMaxPartitionRecoverySecs, kPartitionAntiEntropy};
    return order;
  }

  std::string threshold_text(const std::string& key) const {
    if (key == kMinPhaseAPairs) {
      auto bar = p_.min_phase_a_pairs(run_.nodes.size());
      return bar ? std::to_string(*bar) : "";
    }
    if (key == kMinPhaseBChecks) {
      auto bar = p_.min_phase_b_checks(run_.nodes.size());
      return bar ? std::to_string(*bar) : "";
    }
    auto it = p_.thresholds.find(key);
    if (it == p_.thresholds.end()) return "";
    return gate_text(it->second, key == kPerPeerTimeoutRatio || key == kSuppressionRatio);
  }

  // Role names (or literal node names) to the nodes they stand for in this run.
  std::set<std::string> nodes_of(const std::vector<std::string>& names) const {
    std::set<std::string> nodes;
    for (auto& name : names) {
      auto role = run_.roles.find(name);
      if (role != run_.roles.end()) nodes.insert(role->second.begin(), role->second.end());
      else nodes.insert(name);  // a literal node name
    }
    return nodes;
  }

  // The scenario's own exemptions of this kind, plus any the profile adds.
  std::set<std::string> resolve(const std::string& kind) const {
    std::set<std::string> nodes;
    if (auto k = scoring_.exemptions.find(kind); k != scoring_.exemptions.end()) nodes = nodes_of(k->second);
    if (auto s = p_.exemptions.find(run_.name); s != p_.exemptions.end())
      if (auto k = s->second.find(kind); k != s->second.end())
        for (auto& n : nodes_of(k->second)) nodes.insert(n);
    return nodes;
  }

  void load_nodes() {
    auto dispatcher_exempt = resolve(kExemptDispatcherTimeout), suppression_exempt = resolve(kExemptSuppressionRatio);
    for (auto& name : run_.nodes) {
      NodeState n;
      n.name = name;
      auto pre = run_.pre.find(name), post = run_.post.find(name);
      n.has_pre = pre != run_.pre.end();
      n.has_post = post != run_.post.end();
      n.pre = n.has_pre ? extract_counters(pre->second, "pre") : absent("pre");
      n.post = n.has_post ? extract_counters(post->second, "post") : absent("post");
      n.d = compute_deltas(n.pre, n.post);
      if (dispatcher_exempt.count(name)) n.exempt.insert(kExemptDispatcherTimeout);
      if (suppression_exempt.count(name)) n.exempt.insert(kExemptSuppressionRatio);
      nodes_.push_back(std::move(n));
    }
    for (auto& n : nodes_) v_.nodes[n.name] = node_json(n);
  }

  static NodeCounters absent(const std::string& side) {
    NodeCounters c;
    for (auto* names : {&gossip_counters(), &connectivity_counters()})
      for (auto& name : *names) {
        c.values[name] = std::nullopt;
        c.unknown_why[name] = "no " + side + " snapshot";
      }
    c.problems.push_back("no " + side + " snapshot");
    return c;
  }

  std::string file(const std::string& dir, const std::string& node, const char* side, bool gossip) const {
    const auto& snaps = std::string(side) == "pre" ? run_.pre : run_.post;
    auto it = snaps.find(node);
    if (it != snaps.end() && !(gossip ? it->second.gossip : it->second.connectivity).body.is_null())
      return dir + "/" + run_.name + "/" + node + "-" + side + ".json";
    return "scenarios/" + run_.name + "/scenario.json";
  }

  std::string evidence(const NodeState& n, Needs needs) const {
    bool gossip = needs != Needs::kConnectivityWindow;
    std::string dir = gossip ? "diagnostics" : "diagnostics_connectivity";
    std::vector<std::string> files;
    if (needs != Needs::kGossipPost) files.push_back(file(dir, n.name, "pre", gossip));
    files.push_back(file(dir, n.name, "post", gossip));
    files.erase(std::unique(files.begin(), files.end()), files.end());
    return join(files, " ");
  }

  void node_rules(const std::vector<NodeRule>& rules) {
    std::map<std::string, RuleOutcome> outcomes;
    std::map<std::string, double> worst_value;
    for (auto& r : rules)
      if (auto g = p_.thresholds.find(r.key); g != p_.thresholds.end())
        outcomes[r.key] = {r.key, RuleStatus::pass, "", "", gate_text(g->second, r.is_ratio)};
    for (auto& n : nodes_) {
      for (auto& r : rules) {
        auto g = p_.thresholds.find(r.key);
        if (g == p_.thresholds.end()) continue;
        auto& out = outcomes[r.key];
        if (r.exemption && n.exempt.count(r.exemption)) continue;
        Observation o = r.observe(n);
        if (!o.value) {
          std::string message;
          if (!o.missing.empty()) message = fmt::format("{}: no {} snapshot", n.name, o.missing);
          else if (std::string(r.key) == kDataTxHighWater)
            message = fmt::format("{}: data_tx_high_water_count_delta unmeasurable: /diagnostics/connectivity unreachable or "
                                  "missing data_tx ({})", n.name, o.why);
          else message = fmt::format("{}: {} unmeasurable: {}", n.name, r.label, o.why);
          add({r.key, n.name, "unknown", out.threshold, message, evidence(n, r.needs)});
          if (out.observed != "unknown") out.worst_node = n.name, out.observed = "unknown";  // unknown is the worst
          out.status = RuleStatus::fail;
          continue;
        }
        double v = *o.value;
        if (out.observed != "unknown" && (out.worst_node.empty() || v > worst_value[r.key])) {
          out.worst_node = n.name;
          out.observed = r.is_ratio ? render(v, 3) : render(v);
          worst_value[r.key] = v;
        }
        if (v > g->second) {
          out.status = RuleStatus::fail;
          add({r.key, n.name, r.is_ratio ? render(v, 3) : render(v), out.threshold, r.message(n, v, g->second),
               evidence(n, r.needs)});
        }
      }
    }
    for (auto& r : rules)
      if (outcomes.count(r.key)) v_.rules.push_back(outcomes[r.key]);
  }

  // The node in the most failed pairs (src or dst); ties go to fleet order.
  std::string most_failed(const std::vector<const json*>& failed) const {
    std::map<std::string, int> count;
    for (auto* p : failed)
      for (auto* end : {"src", "dst"})
        if (p->contains(end) && (*p)[end].is_string()) ++count[(*p)[end].get<std::string>()];
    std::vector<std::string> order = run_.nodes;
    for (auto& [name, c] : count)
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
    std::string best;
    int best_count = 0;
    for (auto& name : order)
      if (count[name] > best_count) best = name, best_count = count[name];
    return best;
  }

  // A pair's send side and receive side, from its stage (spec mesh-protocol.md §3.5).
  static bool pair_sent(const json& p) {
    auto stage = p.value("stage", json()).is_string() ? p["stage"].get<std::string>() : std::string();
    return p.value("outcome", "") == "delivered" || stage == "not received";
  }
  static bool pair_received(const json& p) {
    auto stage = p.value("stage", json()).is_string() ? p["stage"].get<std::string>() : std::string();
    return p.value("outcome", "") == "delivered" || stage == "result lost";
  }
  static std::string end_of(const json& p, const char* k) {
    return p.contains(k) && p[k].is_string() ? p[k].get<std::string>() : std::string("?");
  }

  void phase_a() {
    if (!p_.has(kMinPhaseAPairs)) return;
    std::string threshold = threshold_text(kMinPhaseAPairs);
    if (!p_.phase_a_scenarios.count(run_.name)) {
      v_.rules.push_back({kMinPhaseAPairs, RuleStatus::not_applicable, "", "", threshold});
      return;
    }
    // Under a peer fault the target's own pairs fail on purpose: the bar is
    // over the others ((n−1)(n−2) for "all"), the target's pairs are reported apart.
    std::set<std::string> excluded;
    if (!scoring_.phase_a_excluded_role.empty())
      if (auto r = run_.roles.find(scoring_.phase_a_excluded_role); r != run_.roles.end()) excluded.insert(r->second.begin(), r->second.end());
    std::size_t scored_nodes = 0;
    for (auto& n : run_.nodes) scored_nodes += !excluded.count(n);
    long bar = p_.min_phase_a_pairs(scored_nodes).value_or(0);
    if (!excluded.empty()) threshold = std::to_string(bar);
    std::string file = "scenarios/" + run_.name + "/phase-a.json";
    RuleOutcome out{kMinPhaseAPairs, RuleStatus::pass, "", "", threshold};
    if (!run_.phase_a.is_object()) {
      add({kMinPhaseAPairs, "", "unknown", threshold, "phase A not observed", scenario_file()});
      out.status = RuleStatus::fail;
      out.observed = "unknown";
      v_.rules.push_back(out);
      return;
    }
    auto involves_excluded = [&](const json& p) { return excluded.count(end_of(p, "src")) || excluded.count(end_of(p, "dst")); };
    std::vector<const json*> failed;
    long scored_sent = 0, scored_received = 0;
    ExcludedPairs apart{scoring_.phase_a_excluded_role, {excluded.begin(), excluded.end()}, 0, 0};
    bool have_pairs = false;
    if (auto it = run_.phase_a.find("pairs"); it != run_.phase_a.end() && it->is_array()) {
      have_pairs = true;
      for (auto& p : *it) {
        if (!p.is_object()) continue;
        if (involves_excluded(p)) {
          ++apart.pairs;
          apart.delivered += p.value("outcome", "") == "delivered";
          continue;
        }
        scored_sent += pair_sent(p);
        scored_received += pair_received(p);
        if (p.value("outcome", "") != "delivered") failed.push_back(&p);
      }
    }
    if (!excluded.empty()) {
      v_.phase_a_excluded = apart;
      if (apart.pairs > 0 && apart.delivered == apart.pairs) {
        // Latency is the one sign left of a fault that did not fail any pair.
        auto median = [](std::vector<double> v) { return v.empty() ? -1.0 : (std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end()), v[v.size() / 2]); };
        std::vector<double> with, without;
        for (auto& p : run_.phase_a["pairs"])
          if (p.is_object() && p.contains("latency_ms") && p["latency_ms"].is_number())
            (involves_excluded(p) ? with : without).push_back(p["latency_ms"].get<double>());
        std::string latency = with.empty() || without.empty()
                                  ? std::string()
                                  : fmt::format(" (median latency {:.0f} ms, {:.0f} ms for the other pairs)", median(with), median(without));
        v_.warnings.push_back(fmt::format("the fault did not bite: all {} Phase A pairs of {} {} were delivered under {}{}", apart.pairs,
                                          scoring_.phase_a_excluded_role, join(apart.nodes, ","), run_.name, latency));
      }
    }
    std::string blamed = most_failed(failed);
    std::string pairs_text;
    for (std::size_t i = 0; i < failed.size() && i < 10; ++i) {
      auto& p = *failed[i];
      pairs_text += fmt::format("{}{}→{} ({})", i ? ", " : "", end_of(p, "src"), end_of(p, "dst"),
                                p.contains("stage") && p["stage"].is_string() ? p["stage"].get<std::string>() : "failed");
    }
    if (failed.size() > 10) pairs_text += fmt::format(", and {} more", failed.size() - 10);
    std::string scope = excluded.empty() ? "" : fmt::format(" (pairs without {} {})", scoring_.phase_a_excluded_role, join(apart.nodes, ","));
    std::optional<double> lowest;
    for (auto [field, word] : {std::pair{"received", "received"}, std::pair{"send_ok", "sent"}}) {
      std::optional<double> got;
      if (!excluded.empty()) {
        if (have_pairs) got = static_cast<double>(std::string(field) == "received" ? scored_received : scored_sent);
      } else if (auto it = run_.phase_a.find(field); it != run_.phase_a.end() && it->is_number()) {
        got = it->get<double>();
      }
      if (!got) {
        add({kMinPhaseAPairs, blamed, "unknown", threshold,
             fmt::format("phase A {} unmeasurable: missing phase_a.{}", word, excluded.empty() ? field : "pairs"), file});
        out.status = RuleStatus::fail;
        out.observed = "unknown";
        continue;
      }
      if (out.observed != "unknown" && (!lowest || *got < *lowest)) {
        lowest = got;
        out.observed = render(*got);
      }
      if (*got < static_cast<double>(bar)) {
        std::string message = fmt::format("phase A {} {} < gate {}{}", word, render(*got), bar, scope);
        if (!pairs_text.empty()) message += "; failed pairs: " + pairs_text;
        add({kMinPhaseAPairs, blamed, render(*got), threshold, message, file});
        out.status = RuleStatus::fail;
      }
    }
    if (out.status == RuleStatus::fail) out.worst_node = blamed;
    v_.rules.push_back(out);
  }

  // Phase B (spec mesh-protocol.md §4): the checks that passed, counted from
  // the raw checks in phase-b.json (not its summary counts), against the bar;
  // the message lists the failed checks with their stage.
  void phase_b() {
    if (!p_.has(kMinPhaseBChecks)) return;
    std::string threshold = threshold_text(kMinPhaseBChecks);
    if (!own_rule(kMinPhaseBChecks)) {
      v_.rules.push_back({kMinPhaseBChecks, RuleStatus::not_applicable, "", "", threshold});
      return;
    }
    const std::string file = "scenarios/" + run_.name + "/phase-b.json";
    auto checks = run_.phase_b.is_object() ? run_.phase_b.find("checks") : run_.phase_b.end();
    if (!run_.phase_b.is_object() || checks == run_.phase_b.end() || !checks->is_array()) {
      add({kMinPhaseBChecks, "", "unknown", threshold,
           run_.phase_b.is_object() ? "phase B unmeasurable: missing phase_b.checks" : "phase B not observed",
           run_.phase_b.is_object() ? file : scenario_file()});
      v_.rules.push_back({kMinPhaseBChecks, RuleStatus::fail, "", "unknown", threshold});
      return;
    }
    long passed = 0;
    std::vector<const json*> failed;
    std::map<std::string, int> failed_per_node;
    for (auto& c : *checks) {
      if (!c.is_object()) continue;
      if (c.value("outcome", "") == "pass") {
        ++passed;
        continue;
      }
      failed.push_back(&c);
      ++failed_per_node[end_of(c, "node")];
    }
    std::string blamed;
    int most = 0;
    for (auto& [node, n] : failed_per_node)
      if (n > most) blamed = node, most = n;
    long bar = p_.min_phase_b_checks(run_.nodes.size()).value_or(0);
    RuleOutcome out{kMinPhaseBChecks, RuleStatus::pass, "", render(static_cast<double>(passed)), threshold};
    if (passed < bar) {
      std::string listed;
      for (std::size_t i = 0; i < failed.size() && i < 10; ++i) {
        auto& c = *failed[i];
        auto stage = c.contains("stage") && c["stage"].is_string() ? c["stage"].get<std::string>() : c.value("outcome", "failed");
        auto detail = c.contains("detail") && c["detail"].is_string() ? ": " + c["detail"].get<std::string>().substr(0, 160) : "";
        listed += fmt::format("{}{} ({}{})", i ? ", " : "", end_of(c, "label"), stage, detail);
      }
      if (failed.size() > 10) listed += fmt::format(", and {} more", failed.size() - 10);
      std::string message = fmt::format("phase B checks passed {} < gate {}", passed, bar);
      if (!listed.empty()) message += "; failed checks: " + listed;
      add({kMinPhaseBChecks, blamed, render(static_cast<double>(passed)), threshold, message, file});
      out.status = RuleStatus::fail;
      out.worst_node = blamed;
    }
    v_.rules.push_back(out);
  }

  void restart_recovery() {
    if (!p_.has(kMaxRecoverySecs)) return;
    double gate = p_.thresholds.at(kMaxRecoverySecs);
    std::string threshold = render(gate);
    if (!own_rule(kMaxRecoverySecs)) {
      v_.rules.push_back({kMaxRecoverySecs, RuleStatus::not_applicable, "", "", threshold});
      return;
    }
    std::string file = scenario_file();
    RuleOutcome out{kMaxRecoverySecs, RuleStatus::pass, "", "", threshold};
    // Per node: -1 means it never came back.
    std::string slowest;
    double slowest_secs = -1;
    std::vector<std::string> never;
    if (auto it = run_.metrics.find("recovery_secs_per_node"); it != run_.metrics.end() && it->is_object()) {
      for (auto& [node, secs] : it->items()) {
        if (!secs.is_number() || secs.get<double>() < 0) never.push_back(node);
        else if (secs.get<double>() > slowest_secs) slowest = node, slowest_secs = secs.get<double>();
      }
    }
    if (!never.empty()) {
      for (auto& node : never)
        add({kMaxRecoverySecs, node, "never", threshold,
             fmt::format("restart recovery never > gate {}s: {} did not recover", threshold, node), file});
      out = {kMaxRecoverySecs, RuleStatus::fail, never.front(), "never", threshold};
      v_.rules.push_back(out);
      return;
    }
    auto it = run_.metrics.find("max_recovery_secs");
    if (it == run_.metrics.end() || !it->is_number() || it->get<double>() < 0) {
      add({kMaxRecoverySecs, slowest, "unknown", threshold,
           "restart recovery unmeasurable: " + std::string(it == run_.metrics.end() ? "missing metrics.max_recovery_secs"
                                                                                     : "metrics.max_recovery_secs is not a recovery time"),
           file});
      v_.rules.push_back({kMaxRecoverySecs, RuleStatus::fail, slowest, "unknown", threshold});
      return;
    }
    double secs = it->get<double>();
    out.worst_node = slowest;
    out.observed = render(secs);
    if (secs > gate) {
      out.status = RuleStatus::fail;
      add({kMaxRecoverySecs, slowest, render(secs), threshold, fmt::format("restart recovery {}s > gate {}s", render(secs), threshold),
           file});
    }
    v_.rules.push_back(out);
  }

  std::string first_of_role(const char* role) const {
    if (auto r = run_.roles.find(role); r != run_.roles.end() && !r->second.empty()) return r->second.front();
    return "";
  }

  void partition_recovery() {
    if (!p_.has(kMaxPartitionRecoverySecs)) return;
    double gate = p_.thresholds.at(kMaxPartitionRecoverySecs);
    std::string threshold = render(gate);
    if (!own_rule(kMaxPartitionRecoverySecs)) {
      v_.rules.push_back({kMaxPartitionRecoverySecs, RuleStatus::not_applicable, "", "", threshold});
      return;
    }
    auto it = run_.metrics.find("partition_recovery_secs");
    std::string message;
    std::string observed;
    if (it == run_.metrics.end() || !it->is_number()) {
      observed = "unknown";
      message = "partition recovery unmeasurable: missing metrics.partition_recovery_secs";
    } else if (it->get<double>() < 0) {
      observed = "never";
      message = fmt::format("partition recovery never > gate {}s: the pair did not return to baseline", threshold);
    } else {
      observed = render(it->get<double>());
      if (it->get<double>() > gate) message = fmt::format("partition recovery {}s > gate {}s", observed, threshold);
    }
    std::string pair = first_of_role("pair");
    if (!message.empty()) add({kMaxPartitionRecoverySecs, pair, observed, threshold, message, scenario_file()});
    v_.rules.push_back({kMaxPartitionRecoverySecs, message.empty() ? RuleStatus::pass : RuleStatus::fail, pair, observed, threshold});
  }

  // Reconciliation must have run: some side's anti-entropy counter moved
  // between the partition's start and the end of the heal (spec §4.5 step 8).
  void partition_anti_entropy() {
    if (!own_rule(kPartitionAntiEntropy)) return;
    std::string pair = first_of_role("pair");
    auto it = run_.metrics.find("anti_entropy_delta");
    std::string observed, message;
    if (it == run_.metrics.end() || !it->is_object() || it->empty()) {
      observed = "unknown";
      message = "partition anti-entropy unmeasurable: missing metrics.anti_entropy_delta";
    } else {
      double moved = 0;
      bool unknown = false;
      for (auto& [side, delta] : it->items()) {
        if (!delta.is_number()) unknown = true;
        else moved += std::max(0.0, delta.get<double>());
      }
      observed = unknown ? "unknown" : render(moved);
      if (unknown) message = "partition anti-entropy unmeasurable: a side's anti_entropy counter could not be read";
      else if (moved <= 0) message = "no anti_entropy traffic observed during partition/heal window";
    }
    if (!message.empty()) add({kPartitionAntiEntropy, pair, observed, "> 0", message, scenario_file()});
    v_.rules.push_back({kPartitionAntiEntropy, message.empty() ? RuleStatus::pass : RuleStatus::fail, pair, observed, "> 0"});
  }

  // Work still pending when the window closed counts against the gate (fail closed).
  void window_settled() {
    const auto& w = run_.settle;
    if (!w.recorded || w.settled) return;
    if (w.pending.empty()) {
      add({kWindowSettled, "", "pending", render(w.max_secs),
           fmt::format("the window did not settle within {}s", render(w.max_secs)), scenario_file()});
      return;
    }
    for (auto& node : run_.nodes) {
      auto it = w.pending.find(node);
      if (it == w.pending.end()) continue;
      add({kWindowSettled, node, "pending", render(w.max_secs),
           fmt::format("{}: work still pending when the window closed after {}s: {}", node, render(w.waited_secs, 1),
                       join(it->second, "; ")),
           scenario_file()});
    }
  }

  static json value_json(const Value& v) {
    if (!v) return nullptr;
    if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
    if (*v == std::floor(*v) && std::fabs(*v) < 9e15) return static_cast<long long>(*v);
    return *v;
  }

  static json values_json(const std::map<std::string, Value>& m) {
    json j = json::object();
    for (auto& [k, v] : m) j[k] = value_json(v);
    return j;
  }

  static json node_json(const NodeState& n) {
    json problems = json::array();
    for (auto* c : {&n.pre, &n.post})
      for (auto& p : c->problems) problems.push_back(p);
    json text = json::object();
    for (auto& [k, v] : n.post.text) text[k] = v;
    return {{"pre", values_json(n.pre.values)},
            {"post", values_json(n.post.values)},
            {"delta", values_json(n.d.delta)},
            {"ratios",
             {{"per_peer_timeout", value_json(n.d.per_peer_timeout_ratio)},
              {"drop", value_json(n.d.drop_ratio)},
              {"suppression", value_json(n.d.suppression_ratio)}}},
            {"text", text},
            {"has_pre", n.has_pre},
            {"has_post", n.has_post},
            {"gossip_pre_ok", n.pre.gossip_ok},
            {"gossip_post_ok", n.post.gossip_ok},
            {"conn_pre_ok", n.pre.connectivity_ok},
            {"conn_post_ok", n.post.connectivity_ok},
            {"counter_reset", n.d.counter_reset},
            {"exempt", std::vector<std::string>(n.exempt.begin(), n.exempt.end())},
            {"problems", problems}};
  }

  const GateProfile& p_;
  const ScenarioRun& run_;
  const ScenarioScoring& scoring_;
  ScenarioVerdict& v_;
  std::vector<NodeState> nodes_;
};

json fault_json(const FaultWindow& f) {
  return {{"node", f.node}, {"kind", f.kind}, {"detail", f.detail}, {"start_unix", f.start_unix}, {"end_unix", f.end_unix}};
}

}  // namespace

json settle_json(const WindowSettle& w) {
  return {{"min_secs", w.min_secs}, {"max_secs", w.max_secs}, {"waited_secs", w.waited_secs},
          {"settled", w.settled},   {"polls", w.polls},       {"pending", w.pending}};
}

json violation_json(const Violation& v) {
  return {{"scenario", v.scenario}, {"rule", v.rule},           {"node", v.node},         {"observed", v.observed},
          {"threshold", v.threshold}, {"message", v.message}, {"evidence", v.evidence}};
}

RunVerdict score(const GateProfile& profile, const std::vector<ScenarioRun>& runs, const ScoringLookup& scoring) {
  RunVerdict out;
  out.gate = profile.name;
  out.gate_source = profile.source;
  for (auto& run : runs)
    for (auto& n : run.nodes)
      if (std::find(out.nodes.begin(), out.nodes.end(), n) == out.nodes.end()) out.nodes.push_back(n);
  out.thresholds = json::object();
  for (auto& [key, value] : profile.thresholds) {
    if (key == kMinPhaseAPairs || key == kMinPhaseBChecks) continue;
    if (value == std::floor(value)) out.thresholds[key] = static_cast<long long>(value);
    else out.thresholds[key] = value;
  }
  if (auto bar = profile.min_phase_a_pairs(out.nodes.size())) out.thresholds[kMinPhaseAPairs] = *bar;
  if (auto bar = profile.min_phase_b_checks(out.nodes.size())) out.thresholds[kMinPhaseBChecks] = *bar;
  for (auto& run : runs) {
    ScenarioVerdict v;
    ScenarioScoring sc = scoring ? scoring(run.name) : ScenarioScoring{};
    ScenarioScorer(profile, run, sc, v).score();
    out.scenarios.push_back(std::move(v));
  }
  bool go = !out.scenarios.empty() && std::all_of(out.scenarios.begin(), out.scenarios.end(),
                                                  [](const ScenarioVerdict& s) { return s.status == ScenarioStatus::pass; });
  out.verdict = go ? Verdict::go : Verdict::no_go;
  return out;
}

json RunVerdict::to_json(const std::vector<ScenarioRun>& runs) const {
  json blocking = json::array(), scenarios_json = json::array();
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const auto& s = scenarios[i];
    // The run this verdict came from: same position, else the same name.
    const ScenarioRun* run = i < runs.size() && runs[i].name == s.name ? &runs[i] : nullptr;
    for (auto& r : runs)
      if (!run && r.name == s.name) run = &r;
    json violations = json::array(), rules = json::array();
    for (auto& v : s.violations) {
      violations.push_back(violation_json(v));
      blocking.push_back(violation_json(v));
    }
    for (auto& r : s.rules)
      rules.push_back({{"rule", r.rule}, {"status", to_string(r.status)}, {"worst_node", r.worst_node}, {"observed", r.observed},
                       {"threshold", r.threshold}});
    json faults = json::array();
    if (run)
      for (auto& f : run->faults) faults.push_back(fault_json(f));
    scenarios_json.push_back({{"name", s.name},
                              {"index", run ? run->index : static_cast<int>(i)},
                              {"status", to_string(s.status)},
                              {"reason", s.reason},
                              {"violations", violations},
                              {"rules", rules},
                              {"nodes", s.nodes},
                              {"scored_nodes", run ? json(run->nodes) : json::array()},
                              {"roles", run ? json(run->roles) : json::object()},
                              {"metrics", run ? run->metrics : json::object()},
                              {"phase_a", run ? run->phase_a : json(nullptr)},
                              {"phase_b", run ? run->phase_b : json(nullptr)},
                              {"faults", faults},
                              {"settle", run && run->settle.recorded ? settle_json(run->settle) : json(nullptr)},
                              {"warnings", s.warnings},
                              {"phase_a_excluded", s.phase_a_excluded ? json{{"role", s.phase_a_excluded->role},
                                                                             {"nodes", s.phase_a_excluded->nodes},
                                                                             {"pairs", s.phase_a_excluded->pairs},
                                                                             {"delivered", s.phase_a_excluded->delivered}}
                                                                      : json(nullptr)},
                              {"started_unix", run ? run->started_unix : 0.0},
                              {"ended_unix", run ? run->ended_unix : 0.0}});
  }
  return {{"gate", gate},         {"gate_source", gate_source}, {"verdict", to_string(verdict)}, {"nodes", nodes},
          {"thresholds", thresholds}, {"blocking", blocking},     {"scenarios", scenarios_json}};
}

}  // namespace x0x::gates
