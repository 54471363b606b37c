#include "gates/soak_scenario.h"

#include <algorithm>
#include <set>

namespace x0x::gates::soak {
namespace {

// One column folded over the nodes: max, or sum, of the known values.
struct Column {
  std::optional<double> max, sum;
  void add(std::optional<double> v, bool clamp) {
    if (!v) return;
    double x = clamp ? std::max(0.0, *v) : *v;
    max = max ? std::max(*max, x) : x;
    sum = sum ? *sum + x : x;
  }
};

}  // namespace

ScenarioSummary summarize_scenario(const SoakWindow& w) {
  Column disp, drop, pp, suppressed, ratio, topics, peers, rtt, loss, workers;
  std::set<std::string> top;
  for (auto& [name, n] : w.nodes) {
    disp.add(n.disp_to, true);
    drop.add(n.drop_full, true);
    pp.add(n.pp_to, true);
    suppressed.add(n.suppressed, true);
    ratio.add(n.suppressed_ratio, true);
    topics.add(n.suppressed_topics, true);
    peers.add(n.transport_peers, true);
    rtt.add(n.transport_rtt_ms, true);
    loss.add(n.transport_loss_ppm, true);
    workers.add(n.workers, true);
    if (!n.top_suppressed_topics.empty()) top.insert(n.top_suppressed_topics);
  }
  ScenarioSummary s;
  s.max_disp_to_delta = disp.max;
  s.sum_disp_to_delta = disp.sum;
  s.max_drop_full_delta = drop.max;
  s.sum_drop_full_delta = drop.sum;
  s.max_pp_to_delta = pp.max;
  s.max_suppressed = suppressed.max;
  s.max_suppressed_ratio = ratio.max;
  s.max_suppressed_topics = topics.max;
  s.max_transport_peers = peers.max;
  s.max_transport_rtt_ms = rtt.max;
  s.max_transport_loss_ppm = loss.max;
  s.max_workers = workers.max;
  for (auto& t : top) s.top_suppressed_topics += (s.top_suppressed_topics.empty() ? "" : " | ") + t;
  s.violations = static_cast<long>(w.violations.size());
  return s;
}

}  // namespace x0x::gates::soak
