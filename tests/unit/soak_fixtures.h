// Soak windows built in code for the soak certifier's tests: a 3-node fleet
// (6 Phase A pairs), 30-minute slots, counters chained across windows.
#pragma once
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gates/soak_model.h"

namespace x0x::testing::soak {

using namespace x0x::gates::soak;
using x0x::gates::Verdict;

inline constexpr double kT0 = 1779000000;   // the soak's start
inline constexpr double kInterval = 1800;  // 30 min
inline constexpr long kPairs = 6;          // 3 nodes: n(n−1)

inline AccountingSample sample(double completed, double timed_out, double dropped = 0, double pp = 0, double at = 0,
                               std::optional<double> uptime = std::nullopt) {
  AccountingSample s;
  s.completed = completed;
  s.timed_out = timed_out;
  s.dropped_full = dropped;
  s.per_peer_timeout = pp;
  s.unix_time = at;
  s.uptime_secs = uptime;
  return s;
}

// A GO window in slot `index` with every Phase A pair delivered and no snapshots.
inline SoakWindow go_window(int index) {
  SoakWindow w;
  w.index = index;
  w.slot_unix = kT0 + (index - 1) * kInterval;
  w.start_unix = w.slot_unix + 1;
  w.end_unix = w.start_unix + 180;
  w.state = WindowState::ran;
  w.verdict = Verdict::go;
  w.exit_code = 0;
  w.scenario = "baseline";
  w.phase_a_sent = w.phase_a_received = w.phase_a_expected = kPairs;
  w.node_order = {"alpha", "beta", "gamma"};
  for (auto& n : w.node_order) w.nodes[n];
  return w;
}

inline SoakWindow no_go_window(int index, std::vector<WindowViolation> violations) {
  SoakWindow w = go_window(index);
  w.verdict = Verdict::no_go;
  w.exit_code = 1;
  w.violations = std::move(violations);
  return w;
}

inline SoakWindow missing_window(int index) {
  SoakWindow w = go_window(index);
  w.state = WindowState::missing;
  w.verdict.reset();
  w.exit_code = -1;
  w.phase_a_sent = w.phase_a_received = -1;
  w.note = "timed out";
  return w;
}

inline SoakWindow skipped_window(int index) {
  SoakWindow w;
  w.index = index;
  w.slot_unix = kT0 + (index - 1) * kInterval;
  w.state = WindowState::skipped;
  w.note = "orchestrator down";
  return w;
}

inline WindowViolation dispatcher_violation(std::string node = "alpha", std::string observed = "3") {
  return {"max_dispatcher_timed_out_delta", node, observed, "0",
          "dispatcher_timed_out delta " + observed + " > gate 0 on " + node, ViolationClass::dispatcher};
}

// The scorer's Phase A violation: "phase A received 5 < gate 6".
inline WindowViolation phase_a_violation(const std::string& word, long observed, long bar = kPairs) {
  std::string o = std::to_string(observed), t = std::to_string(bar);
  return {"min_phase_a_pairs", "alpha", o, t, "phase A " + word + " " + o + " < gate " + t, ViolationClass::phase_a};
}

inline WindowViolation drop_violation() {
  return {"max_recv_pump_dropped_full_delta", "beta", "2", "0", "recv_pump dropped_full delta 2 > gate 0 on beta",
          ViolationClass::drop};
}

// Counters on every node, chained: each window's pre is the previous post (no
// idle work), and each node adds `per_node` = (timeouts, completions) in the window.
inline void chain(std::vector<SoakWindow>& windows, const std::vector<std::pair<double, double>>& per_node) {
  std::map<std::string, AccountingSample> last;
  for (std::size_t i = 0; i < windows.size() && i < per_node.size(); ++i) {
    SoakWindow& w = windows[i];
    if (w.state != WindowState::ran) continue;
    for (auto& name : w.node_order) {
      AccountingSample pre = last.count(name) ? last[name] : sample(1000, 0, 0, 0, w.start_unix);
      pre.unix_time = w.start_unix;
      AccountingSample post = pre;
      post.timed_out += per_node[i].first;
      post.completed += per_node[i].second;
      post.unix_time = w.end_unix;
      w.nodes[name].pre = pre;
      w.nodes[name].post = post;
      last[name] = post;
    }
  }
}

// The soak's settings: `target` counted windows after `warmup` warm-up windows.
inline SoakConfig config(int target, int warmup = 0) {
  SoakConfig c;
  c.gate = "broad-launch";
  c.gate_source = "built-in";
  c.duration_secs = target * kInterval;
  c.interval_secs = kInterval;
  c.warmup_windows = warmup;
  c.target_windows = target;
  c.expected_pairs = kPairs;
  c.nodes = {"alpha", "beta", "gamma"};
  c.started_unix = kT0;
  return c;
}

}  // namespace x0x::testing::soak
