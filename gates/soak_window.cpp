#include "gates/soak_window.h"

#include <algorithm>
#include <cmath>

#include "core/contained_files.h"
#include "gates/counters.h"
#include "gates/observations_io.h"
#include "gates/profile.h"
#include "gates/soak_policy.h"

namespace x0x::gates::soak {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxWindowFile = 64u * 1024 * 1024;

const json& at(const json& j, const char* key) {
  static const json null;
  if (!j.is_object()) return null;
  auto it = j.find(key);
  return it == j.end() ? null : *it;
}

std::optional<double> number(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    auto s = j.get<std::string>();
    if (s == "inf") return kInf;
    // harvest facts are key=value text: "12345"
    try {
      std::size_t used = 0;
      double v = std::stod(s, &used);
      if (used == s.size() && std::isfinite(v)) return v;
    } catch (...) {
    }
  }
  return std::nullopt;
}

std::optional<double> percentile(std::vector<double> v, double q) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];  // nearest rank
}

// The scored scenario of the window: the one named w.scenario, else the first.
const json& window_scenario(const json& verdict, const std::string& name) {
  static const json null;
  const auto& scenarios = at(verdict, "scenarios");
  if (!scenarios.is_array() || scenarios.empty()) return null;
  for (auto& s : scenarios)
    if (at(s, "name").is_string() && at(s, "name").get<std::string>() == name) return s;
  return scenarios.front();
}

std::string text_of(const json& j) { return j.is_string() ? j.get<std::string>() : std::string(); }

// RSS and CPU of the node's daemon from the harvest facts: the pidfile's
// process (plain hosts, local fleets) or the systemd unit.
void host_facts(NodeWindow& n, const json& facts) {
  const auto& proc = at(at(facts, "processes"), "node");
  if (auto rss = number(at(proc, "rss_kb"))) n.rss_kb = rss;
  if (auto cpu = number(at(proc, "cpu_seconds"))) n.cpu_seconds = cpu;
  const auto& unit = at(at(facts, "units"), "node");
  if (!n.rss_kb)
    if (auto mem = number(at(unit, "MemoryCurrent"))) n.rss_kb = *mem / 1024.0;
  if (!n.cpu_seconds)
    if (auto ns = number(at(unit, "CPUUsageNSec"))) n.cpu_seconds = *ns / 1e9;
}

void phase_a_facts(SoakWindow& w, const json& scenario) {
  const auto& metrics = at(scenario, "metrics");
  const auto& pa = at(scenario, "phase_a");
  if (auto s = number(at(metrics, "phase_a_sent"))) w.phase_a_sent = static_cast<long>(*s);
  if (auto r = number(at(metrics, "phase_a_received"))) w.phase_a_received = static_cast<long>(*r);
  if (auto e = number(at(pa, "expected_pairs"))) w.phase_a_expected = static_cast<long>(*e);
  std::vector<double> all;
  std::map<std::string, std::vector<double>> by_src;
  const auto& pairs = at(pa, "pairs");
  if (!pairs.is_array()) return;
  for (auto& p : pairs) {
    auto src = text_of(at(p, "src")), dst = text_of(at(p, "dst"));
    bool delivered = text_of(at(p, "outcome")) == "delivered";
    if (w.nodes.count(src)) {
      auto& n = w.nodes[src];
      ++n.phase_a_expected;
      if (delivered) ++n.phase_a_delivered;
    }
    if (!delivered) {
      w.phase_a_failed_pairs.emplace_back(src, dst);
      continue;
    }
    if (auto ms = number(at(p, "latency_ms")); ms && *ms >= 0) {
      all.push_back(*ms);
      by_src[src].push_back(*ms);
    }
  }
  w.phase_a_p50_ms = percentile(all, 0.50);
  w.phase_a_p99_ms = percentile(all, 0.99);
  for (auto& [src, v] : by_src)
    if (w.nodes.count(src)) {
      w.nodes[src].phase_a_p50_ms = percentile(v, 0.50);
      w.nodes[src].phase_a_p99_ms = percentile(v, 0.99);
    }
}

void node_facts(NodeWindow& n, const json& node) {
  const auto& delta = at(node, "delta");
  const auto& post = at(node, "post");
  n.disp_to = number(at(delta, "dispatcher_timed_out"));
  n.drop_full = number(at(delta, "recv_pump_dropped_full"));
  n.pp_to = number(at(delta, "per_peer_timeout_count"));
  n.completed = number(at(delta, "dispatcher_completed"));
  n.suppressed = number(at(post, "suppressed_peers_size"));
  n.suppressed_ratio = number(at(at(node, "ratios"), "suppression"));
  n.suppressed_topics = number(at(post, "suppressed_topics_total"));
  n.transport_peers = number(at(post, "transport_peer_count"));
  n.transport_rtt_ms = number(at(post, "transport_rtt_ms_max"));
  n.transport_loss_ppm = number(at(post, "transport_packet_loss_ppm_max"));
  n.workers = number(at(post, "pubsub_workers"));
  n.top_suppressed_topics = text_of(at(at(node, "text"), "suppressed_topics_top3"));
}

}  // namespace

WindowBundle read_window_bundle(const fs::path& dir, const std::vector<std::string>& nodes) {
  WindowBundle b;
  auto note = [&](const std::string& what) { b.problem += (b.problem.empty() ? "" : "; ") + what; };
  try {
    auto j = json::parse(contained::read_file(dir, "verdict.json", kMaxWindowFile), nullptr, false);
    if (j.is_object()) b.verdict = std::move(j);
    else note("verdict.json: not a JSON object");
  } catch (const std::exception& e) {
    note(std::string("verdict.json: ") + e.what());
  }
  try {
    b.runs = read_scenario_runs(dir);
  } catch (const std::exception& e) {
    note(std::string("scenarios: ") + e.what());
  }
  for (auto& node : nodes) {
    try {
      auto j = json::parse(contained::read_file(dir, "harvest/" + node + "/facts.json", kMaxWindowFile), nullptr, false);
      if (j.is_object()) b.facts[node] = std::move(j);
    } catch (const std::exception&) {
      // no harvest for this node (unreachable, or the window was cut short): RSS/CPU unknown
    }
  }
  return b;
}

std::optional<AccountingSample> accounting_sample(const RawSnapshot& s) {
  auto c = extract_counters(s);
  if (!c.gossip_ok) return std::nullopt;
  auto value = [&](const char* name) {
    auto it = c.values.find(name);
    return it != c.values.end() && it->second ? *it->second : 0.0;
  };
  AccountingSample out;
  out.completed = value("dispatcher_completed");
  out.timed_out = value("dispatcher_timed_out");
  out.dropped_full = value("recv_pump_dropped_full");
  out.per_peer_timeout = value("per_peer_timeout_count");
  out.unix_time = s.gossip.unix_time;
  if (auto up = number(at(s.connectivity.body, "uptime_s"))) out.uptime_secs = up;
  else if (auto up2 = number(at(at(s.gossip.body, "recv_pump"), "uptime_secs"))) out.uptime_secs = up2;
  return out;
}

void fill_window(SoakWindow& w, const WindowBundle& b) {
  const auto& scenario = window_scenario(b.verdict, w.scenario);
  if (auto v = parse_verdict(text_of(at(b.verdict, "verdict")))) w.verdict = v;
  if (w.node_order.empty())
    for (auto& n : at(b.verdict, "nodes"))
      if (n.is_string()) w.node_order.push_back(n.get<std::string>());
  for (auto& n : w.node_order) w.nodes[n];
  for (auto& [name, node] : at(scenario, "nodes").items())
    if (w.nodes.count(name)) node_facts(w.nodes[name], node);
  phase_a_facts(w, scenario);
  bool errored = text_of(at(scenario, "status")) == "ERROR";
  const auto& blocking = at(b.verdict, "blocking");
  if (blocking.is_array())
    for (auto& v : blocking) {
      WindowViolation x{text_of(at(v, "rule")), text_of(at(v, "node")), text_of(at(v, "observed")),
                        text_of(at(v, "threshold")), text_of(at(v, "message"))};
      bool scenario_error = x.rule == kScenarioErrored || x.rule == kScenarioNotRun || (errored && x.rule.empty());
      x.cls = classify_rule(x.rule, scenario_error);
      w.violations.push_back(std::move(x));
    }
  for (auto& run : b.runs) {
    if (run.name != text_of(at(scenario, "name"))) continue;
    for (auto& [node, snap] : run.pre)
      if (w.nodes.count(node)) w.nodes[node].pre = accounting_sample(snap);
    for (auto& [node, snap] : run.post)
      if (w.nodes.count(node)) w.nodes[node].post = accounting_sample(snap);
  }
  for (auto& [node, facts] : b.facts)
    if (w.nodes.count(node)) host_facts(w.nodes[node], facts);
}

}  // namespace x0x::gates::soak
