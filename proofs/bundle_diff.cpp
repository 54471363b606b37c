#include "proofs/bundle_diff.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "proofs/diff_values.h"
#include "proofs/render_text.h"

namespace x0x::proofs {

using nlohmann::json;
using namespace diff_values;

std::string_view to_string(BundleKind k) { return k == BundleKind::gate ? "gate" : "soak"; }

std::string_view to_string(PairChangeKind k) {
  switch (k) {
    case PairChangeKind::newly_failed: return "newly_failed";
    case PairChangeKind::recovered: return "recovered";
    case PairChangeKind::latency_shift: return "latency_shift";
    case PairChangeKind::only_a: return "only_a";
    case PairChangeKind::only_b: return "only_b";
  }
  return "?";
}

std::optional<BundleKind> bundle_kind(const json& doc) {
  if (!doc.is_object()) return std::nullopt;
  if (text::str(doc, "kind") == "soak" && text::at(doc, "windows").is_array()) return BundleKind::soak;
  if (doc.contains("verdict") && text::at(doc, "scenarios").is_array()) return BundleKind::gate;
  return std::nullopt;
}

double CounterChange::magnitude() const {
  if (!a || !b) return std::numeric_limits<double>::infinity();
  return std::fabs(*b - *a);
}

bool latency_shifted(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return a.has_value() != b.has_value();
  return std::fabs(*b - *a) > std::max(kLatencyShiftRatio * *a, kLatencyShiftMinMs);
}

bool PhaseADiff::has_changes() const {
  return in_a != in_b || !pairs.empty() || a.delivered != b.delivered || a.pairs != b.pairs || latency_shifted(a.p50, b.p50) ||
         latency_shifted(a.p99, b.p99);
}

bool ScenarioDiff::has_changes() const {
  return status_a != status_b || !rules.empty() || (phase_a && phase_a->has_changes()) || !counters.empty() ||
         !nodes_only_a.empty() || !nodes_only_b.empty();
}

namespace {

// pass and n/a: the rule held or did not apply. Anything else (fail,
// not_run, an unknown spelling) is bad, as the renderers read it.
bool good_rule_status(const std::string& s) { return s == "pass" || s == "n/a"; }

void judge(RuleChange& r) {
  bool present_a = !r.status_a.empty(), present_b = !r.status_b.empty();
  r.regressed = present_a && present_b && good_rule_status(r.status_a) && !good_rule_status(r.status_b);
  r.recovered = present_a && present_b && !good_rule_status(r.status_a) && good_rule_status(r.status_b);
}

// ---- gate ----------------------------------------------------------------

// Objects of a list by their name field (the first of a duplicated name), in
// document order, with an index: a hostile bundle's long lists stay n log n.
struct Named {
  std::vector<std::pair<std::string, const json*>> order;
  std::map<std::string, const json*> by_name;
  const json* find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }
};

Named named(const json& list, std::string_view key) {
  Named out;
  for (auto& item : array_of(list)) {
    auto name = text::str(item, key);
    if (!name.empty() && out.by_name.emplace(name, &item).second) out.order.emplace_back(name, &item);
  }
  return out;
}

std::vector<RuleChange> diff_gate_rules(const std::string& scenario, const json& sa, const json& sb) {
  auto ra = named(text::at(sa, "rules"), "rule"), rb = named(text::at(sb, "rules"), "rule");
  std::vector<RuleChange> out;
  auto add = [&](const std::string& name, const json* a, const json* b) {
    static const json none;
    const json& ja = a ? *a : none;
    const json& jb = b ? *b : none;
    RuleChange c{scenario, name, text::str(ja, "status"), text::str(jb, "status"), text::str(ja, "worst_node"),
                 text::str(jb, "worst_node"), text::str(ja, "observed"), text::str(jb, "observed"), text::str(ja, "threshold"),
                 text::str(jb, "threshold"), "", "", false, false};
    if (a && c.status_a.empty()) c.status_a = "?";  // present with no status: shown, and bad
    if (b && c.status_b.empty()) c.status_b = "?";
    if (c.status_a == c.status_b && c.observed_a == c.observed_b && c.threshold_a == c.threshold_b && a && b) return;
    judge(c);
    out.push_back(std::move(c));
  };
  for (auto& [name, a] : ra.order) add(name, a, rb.find(name));
  for (auto& [name, b] : rb.order)
    if (!ra.find(name)) add(name, nullptr, b);
  return out;
}

// ---- Phase A ---

struct PairFacts {
  bool delivered = false;
  std::string outcome;
  std::optional<double> latency;
};

std::map<std::pair<std::string, std::string>, PairFacts> pairs_of(const json& phase_a) {
  std::map<std::pair<std::string, std::string>, PairFacts> out;
  for (auto& p : array_of(text::at(phase_a, "pairs"))) {
    auto src = text::str(p, "src"), dst = text::str(p, "dst");
    if (src.empty() || dst.empty()) continue;
    PairFacts f;
    f.delivered = text::str(p, "outcome") == "delivered";
    f.outcome = f.delivered ? "delivered" : (text::str(p, "stage").empty() ? "failed" : text::str(p, "stage"));
    auto lat = number_of(text::at(p, "latency_ms"));
    if (f.delivered && lat && std::isfinite(*lat) && *lat >= 0) f.latency = lat;
    out.emplace(std::make_pair(src, dst), std::move(f));  // the first of a duplicated pair
  }
  return out;
}

LatencySide latency_side(const std::map<std::pair<std::string, std::string>, PairFacts>& pairs) {
  LatencySide s;
  std::vector<double> lat;
  s.pairs = pairs.size();
  for (auto& [_, f] : pairs) {
    if (f.delivered) ++s.delivered;
    if (f.latency) lat.push_back(*f.latency);
  }
  s.p50 = percentile(lat, 50);
  s.p99 = percentile(lat, 99);
  return s;
}

PhaseADiff diff_phase_a(const json& pa, const json& pb) {
  PhaseADiff d;
  d.in_a = pa.is_object();
  d.in_b = pb.is_object();
  auto a = pairs_of(pa), b = pairs_of(pb);
  d.a = latency_side(a);
  d.b = latency_side(b);
  std::vector<PairChange> failures, shifts, one_sided;
  for (auto& [key, fa] : a) {
    auto it = b.find(key);
    PairChange c{key.first, key.second, PairChangeKind::latency_shift, fa.outcome, "", fa.latency, std::nullopt};
    if (it == b.end()) {
      if (d.in_b) {  // B ran Phase A without this pair
        c.kind = PairChangeKind::only_a;
        one_sided.push_back(std::move(c));
      }
      continue;
    }
    auto& fb = it->second;
    c.outcome_b = fb.outcome;
    c.latency_b = fb.latency;
    if (fa.delivered && !fb.delivered) {
      c.kind = PairChangeKind::newly_failed;
      failures.push_back(std::move(c));
    } else if (!fa.delivered && fb.delivered) {
      c.kind = PairChangeKind::recovered;
      failures.push_back(std::move(c));
    } else if (fa.latency && fb.latency && latency_shifted(fa.latency, fb.latency)) {
      shifts.push_back(std::move(c));
    }
  }
  if (d.in_a)
    for (auto& [key, fb] : b)
      if (!a.count(key)) one_sided.push_back({key.first, key.second, PairChangeKind::only_b, "", fb.outcome, std::nullopt, fb.latency});
  std::stable_sort(failures.begin(), failures.end(), [](auto& x, auto& y) { return x.kind < y.kind; });  // new failures first
  std::stable_sort(shifts.begin(), shifts.end(), [](auto& x, auto& y) {
    return std::fabs(*x.latency_b - *x.latency_a) > std::fabs(*y.latency_b - *y.latency_a);
  });
  for (auto* part : {&failures, &shifts, &one_sided})
    for (auto& c : *part) d.pairs.push_back(std::move(c));
  return d;
}

// ---- counters ---

void diff_counters(ScenarioDiff& out, const json& sa, const json& sb) {
  auto& na = object_of(text::at(sa, "nodes"));
  auto& nb = object_of(text::at(sb, "nodes"));
  for (auto& [node, va] : na.items()) {
    if (!nb.contains(node)) {
      out.nodes_only_a.push_back(node);
      continue;
    }
    auto& da = object_of(text::at(va, "delta"));
    auto& db = object_of(text::at(nb[node], "delta"));
    std::set<std::string> names;
    for (auto& [k, _] : da.items()) names.insert(k);
    for (auto& [k, _] : db.items()) names.insert(k);
    for (auto& name : names) {
      auto a = number_of(text::at(da, name)), b = number_of(text::at(db, name));
      if (a == b) continue;  // both unknown, or equal
      out.counters.push_back({node, name, a, b});
    }
  }
  for (auto& [node, _] : nb.items())
    if (!na.contains(node)) out.nodes_only_b.push_back(node);
  std::stable_sort(out.counters.begin(), out.counters.end(), [](const CounterChange& x, const CounterChange& y) {
    auto mx = x.magnitude(), my = y.magnitude();
    if (mx != my) return mx > my;
    return std::tie(x.node, x.counter) < std::tie(y.node, y.counter);
  });
}

// Blocking violations keyed by (scenario, rule, node): the first of each key.
std::map<std::tuple<std::string, std::string, std::string>, ViolationChange> blocking_of(const json& verdict) {
  std::map<std::tuple<std::string, std::string, std::string>, ViolationChange> out;
  for (auto& v : array_of(text::at(verdict, "blocking"))) {
    if (!v.is_object()) continue;
    ViolationChange c{text::str(v, "scenario"), text::str(v, "rule"),      text::str(v, "node"),
                      text::str(v, "observed"), text::str(v, "threshold"), text::str(v, "message")};
    out.emplace(std::make_tuple(c.scenario, c.rule, c.node), std::move(c));
  }
  return out;
}

// ---- soak ----------------------------------------------------------------

const json& policy_of(const json& soak) { return object_of(text::at(soak, "policy")); }

void add_value(std::vector<ValueChange>& out, std::string name, const json& a, const json& b) {
  out.push_back({std::move(name), value_text(a), value_text(b)});
}

std::vector<ValueChange> diff_policy(const json& sa, const json& sb) {
  std::vector<ValueChange> out;
  auto& pa = policy_of(sa);
  auto& pb = policy_of(sb);
  auto both = [&](std::string_view group, std::initializer_list<const char*> keys) {
    auto& ga = text::at(pa, group);
    auto& gb = text::at(pb, group);
    for (auto* k : keys) add_value(out, std::string(group) + "." + k, text::at(ga, k), text::at(gb, k));
  };
  both("dispatcher_noise", {"verdict", "passed", "total_ratio", "max_window_ratio", "max_consecutive_anomalies", "anomaly_windows"});
  both("aggregate_phase_a", {"status", "pass", "sent_ratio", "recv_ratio", "sent", "received", "target"});
  both("burn_rate", {"any_fired", "budget_consumed"});
  // Each alert's fired windows, by alert name (either side's).
  auto alerts = [](const json& p) {
    std::map<std::string, const json*> m;
    for (auto& al : array_of(text::at(text::at(p, "burn_rate"), "alerts"))) {
      auto name = text::str(al, "name");
      if (!name.empty()) m.emplace(name, &al);
    }
    return m;
  };
  auto aa = alerts(pa), ab = alerts(pb);
  std::set<std::string> names;
  for (auto& [n, _] : aa) names.insert(n);
  for (auto& [n, _] : ab) names.insert(n);
  static const json none;
  for (auto& n : names)
    add_value(out, "burn_rate." + n + ".fired_windows", aa.count(n) ? text::at(*aa[n], "fired_windows") : none,
              ab.count(n) ? text::at(*ab[n], "fired_windows") : none);
  both("cumulative", {"dispatcher_timeouts", "drop_full", "completions", "timeout_ratio", "per_peer_ratio"});
  for (auto* k : {"effective_failed", "missing_windows", "unaccounted_gap_windows", "overall_pass"})
    add_value(out, k, text::at(pa, k), text::at(pb, k));
  return out;
}

std::vector<RuleChange> diff_soak_rules(const json& sa, const json& sb) {
  auto ra = named(text::at(sa, "rules"), "rule"), rb = named(text::at(sb, "rules"), "rule");
  std::vector<RuleChange> out;
  auto add = [&](const std::string& name, const json* a, const json* b) {
    static const json none;
    const json& ja = a ? *a : none;
    const json& jb = b ? *b : none;
    RuleChange c;
    c.scope = "soak";
    c.rule = name;
    c.status_a = text::str(ja, "status");
    c.status_b = text::str(jb, "status");
    if (a && c.status_a.empty()) c.status_a = "?";
    if (b && c.status_b.empty()) c.status_b = "?";
    c.detail_a = text::str(ja, "detail");
    c.detail_b = text::str(jb, "detail");
    if (a && b && c.status_a == c.status_b && c.detail_a == c.detail_b) return;
    judge(c);
    out.push_back(std::move(c));
  };
  for (auto& [name, a] : ra.order) add(name, a, rb.find(name));
  for (auto& [name, b] : rb.order)
    if (!ra.find(name)) add(name, nullptr, b);
  return out;
}

struct SoakWindowFacts {
  int index = 0;
  std::string cls;
  bool warmup = false, ran = false;
  const json* doc = nullptr;
};

std::vector<SoakWindowFacts> windows_of(const json& soak) {
  std::vector<SoakWindowFacts> out;
  std::set<int> seen;
  for (auto& w : array_of(text::at(soak, "windows"))) {
    auto& idx = text::at(w, "index");
    if (!idx.is_number_integer() || !seen.insert(idx.get<int>()).second) continue;
    auto& warm = text::at(w, "warmup");
    out.push_back({idx.get<int>(), text::str(w, "class"), warm.is_boolean() && warm.get<bool>(), text::str(w, "state") == "ran", &w});
  }
  return out;
}

std::map<std::string, std::array<double, 4>> node_totals(const std::vector<SoakWindowFacts>& windows) {
  std::map<std::string, std::array<double, 4>> out;
  for (auto& w : windows) {
    if (w.warmup) continue;
    for (auto& [node, n] : object_of(text::at(text::at(*w.doc, "continuous"), "nodes")).items()) {
      auto& t = out.try_emplace(node, std::array<double, 4>{0, 0, 0, 0}).first->second;
      for (std::size_t i = 0; i < NodeTotalsChange::kFields.size(); ++i)
        if (auto v = number_of(text::at(n, NodeTotalsChange::kFields[i])); v && std::isfinite(*v)) t[i] += *v;
    }
  }
  return out;
}

SoakPhaseASide soak_phase_a(const std::vector<SoakWindowFacts>& windows) {
  SoakPhaseASide s;
  std::vector<double> p99;
  for (auto& w : windows) {
    if (w.warmup || !w.ran) continue;
    auto& pa = text::at(*w.doc, "phase_a");
    if (!pa.is_object()) continue;
    ++s.windows;
    auto count = [&](const char* k) {
      auto v = number_of(text::at(pa, k));
      return v && *v >= 0 && std::isfinite(*v) ? static_cast<long>(*v) : 0L;
    };
    s.sent += count("sent");
    s.received += count("received");
    s.expected += count("expected");
    s.failed_pairs += static_cast<long>(array_of(text::at(pa, "failed_pairs")).size());
    if (auto v = number_of(text::at(pa, "p99_ms")); v && std::isfinite(*v)) p99.push_back(*v);
  }
  if (p99.empty()) return s;
  s.p99_last = p99.back();
  s.p99_max = *std::max_element(p99.begin(), p99.end());
  s.p99_median = percentile(p99, 50);
  if (p99.size() >= 2) {  // least squares of p99 on the window's position
    double n = static_cast<double>(p99.size()), sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < p99.size(); ++i) {
      double x = static_cast<double>(i);
      sx += x, sy += p99[i], sxx += x * x, sxy += x * p99[i];
    }
    s.p99_slope_ms_per_window = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  }
  return s;
}

std::vector<ValueChange> settings_changes(BundleKind kind, const json& a, const json& b) {
  std::vector<ValueChange> out;
  if (kind == BundleKind::gate) {
    for (auto* k : {"gate", "gate_source", "nodes"}) add_value(out, k, text::at(a, k), text::at(b, k));
  } else {
    auto& ca = text::at(a, "config");
    auto& cb = text::at(b, "config");
    for (auto* k : {"gate", "gate_source", "variant", "duration_secs", "interval_secs", "warmup_windows", "target_windows",
                    "expected_pairs", "nodes"})
      add_value(out, std::string("config.") + k, text::at(ca, k), text::at(cb, k));
    add_value(out, "state", text::at(a, "state"), text::at(b, "state"));
  }
  std::erase_if(out, [](const ValueChange& c) { return !c.changed(); });
  return out;
}

}  // namespace

GateDiff diff_gate(const json& a, const json& b) {
  GateDiff d;
  auto sa = named(text::at(a, "scenarios"), "name"), sb = named(text::at(b, "scenarios"), "name");
  for (auto& [name, ja] : sa.order) {
    auto* jb = sb.find(name);
    if (!jb) {
      d.scenarios_only_a.push_back(name);
      continue;
    }
    ScenarioDiff s;
    s.name = name;
    s.status_a = text::str(*ja, "status");
    s.status_b = text::str(*jb, "status");
    s.rules = diff_gate_rules(name, *ja, *jb);
    auto& pa = text::at(*ja, "phase_a");
    auto& pb = text::at(*jb, "phase_a");
    if (pa.is_object() || pb.is_object()) s.phase_a = diff_phase_a(pa, pb);
    diff_counters(s, *ja, *jb);
    d.scenarios.push_back(std::move(s));
  }
  for (auto& [name, _] : sb.order)
    if (!sa.find(name)) d.scenarios_only_b.push_back(name);
  auto va = blocking_of(a), vb = blocking_of(b);
  for (auto& [key, v] : vb)
    if (!va.count(key)) d.violations_appeared.push_back(v);
  for (auto& [key, v] : va)
    if (!vb.count(key)) d.violations_disappeared.push_back(v);
  return d;
}

SoakDiff diff_soak(const json& a, const json& b) {
  SoakDiff d;
  d.rules = diff_soak_rules(a, b);
  d.policy = diff_policy(a, b);
  auto wa = windows_of(a), wb = windows_of(b);
  std::map<std::string, std::pair<int, int>> counts;
  for (auto& w : wa) ++counts[w.cls.empty() ? "(none)" : w.cls].first;
  for (auto& w : wb) ++counts[w.cls.empty() ? "(none)" : w.cls].second;
  for (auto& [cls, n] : counts) d.class_counts.push_back({cls, std::to_string(n.first), std::to_string(n.second)});
  auto indexes = [](const std::vector<SoakWindowFacts>& ws) {
    std::set<int> s;
    for (auto& w : ws) s.insert(w.index);
    return s;
  };
  d.same_windows = !wa.empty() && indexes(wa) == indexes(wb);
  if (d.same_windows) {
    std::map<int, std::string> cb;
    for (auto& w : wb) cb[w.index] = w.cls;
    std::vector<WindowClassChange> changes;
    for (auto& w : wa)
      if (cb[w.index] != w.cls) changes.push_back({w.index, w.cls, cb[w.index]});
    std::sort(changes.begin(), changes.end(), [](auto& x, auto& y) { return x.index < y.index; });
    d.window_classes = std::move(changes);
  }
  auto ta = node_totals(wa), tb = node_totals(wb);
  std::set<std::string> nodes;
  for (auto& [n, _] : ta) nodes.insert(n);
  for (auto& [n, _] : tb) nodes.insert(n);
  for (auto& n : nodes) {
    NodeTotalsChange c;
    c.node = n;
    for (std::size_t i = 0; i < c.a.size(); ++i) {
      if (ta.count(n)) c.a[i] = ta[n][i];
      if (tb.count(n)) c.b[i] = tb[n][i];
    }
    if (c.a != c.b) d.node_totals.push_back(std::move(c));
  }
  d.phase_a_a = soak_phase_a(wa);
  d.phase_a_b = soak_phase_a(wb);
  return d;
}

bool BundleDiff::has_changes() const {
  if (verdict.changed() || !settings.empty()) return true;
  if (gate) {
    for (auto& s : gate->scenarios)
      if (s.has_changes()) return true;
    if (!gate->scenarios_only_a.empty() || !gate->scenarios_only_b.empty() || !gate->violations_appeared.empty() ||
        !gate->violations_disappeared.empty())
      return true;
  }
  if (soak) {
    auto moved = [](const std::vector<ValueChange>& v) {
      return std::any_of(v.begin(), v.end(), [](auto& c) { return c.changed(); });
    };
    auto& pa = soak->phase_a_a;
    auto& pb = soak->phase_a_b;
    if (!soak->rules.empty() || moved(soak->policy) || moved(soak->class_counts) || !soak->window_classes.empty() ||
        !soak->node_totals.empty() || pa.sent != pb.sent || pa.received != pb.received || pa.expected != pb.expected ||
        pa.failed_pairs != pb.failed_pairs || pa.p99_median != pb.p99_median || pa.p99_max != pb.p99_max)
      return true;
  }
  return false;
}

BundleDiff diff_bundles(const json& a, const json& b) {
  auto ka = bundle_kind(a), kb = bundle_kind(b);
  if (!ka) throw DiffUsageError("A is neither a gate verdict.json nor a soak.json");
  if (!kb) throw DiffUsageError("B is neither a gate verdict.json nor a soak.json");
  if (*ka != *kb)
    throw DiffUsageError("A is a " + std::string(to_string(*ka)) + " bundle and B a " + std::string(to_string(*kb)) +
                         " bundle: only bundles of one kind can be compared");
  BundleDiff d;
  d.kind = *ka;
  d.verdict = {"verdict", text::str(a, "verdict"), text::str(b, "verdict")};
  d.settings = settings_changes(d.kind, a, b);
  if (d.verdict.a == "GO" && d.verdict.b != "GO")
    d.regressions.push_back("verdict " + d.verdict.a + " -> " + (d.verdict.b.empty() ? "(none)" : d.verdict.b));
  auto rule_regressions = [&](const std::vector<RuleChange>& rules) {
    for (auto& r : rules)
      if (r.regressed) d.regressions.push_back("rule " + r.scope + "/" + r.rule + " " + r.status_a + " -> " + r.status_b);
  };
  if (d.kind == BundleKind::gate) {
    d.gate = diff_gate(a, b);
    for (auto& s : d.gate->scenarios) {
      rule_regressions(s.rules);
      if (s.phase_a)
        for (auto& p : s.phase_a->pairs)
          if (p.kind == PairChangeKind::newly_failed)
            d.regressions.push_back("pair " + s.name + "/" + p.src + "->" + p.dst + " newly fails (" + p.outcome_b + ")");
    }
  } else {
    d.soak = diff_soak(a, b);
    rule_regressions(d.soak->rules);
  }
  return d;
}

}  // namespace x0x::proofs
