// baseline (Phase A) and fanout_burst (PubSub pressure from the anchor). Unlike
// the reference, fanout_burst subscribes every other node to the burst topic
// and counts what each one receives, and counts failed publishes, instead of
// only watching counters (spec gates-and-proofs.md §9.1 item 9). Its window
// then settles like every scenario's (harness/settle.h): the post snapshot
// waits until no node has work from the burst pending.
#include <fmt/core.h>

#include "harness/scenario_impl.h"
#include "harness/snapshots.h"
#include "harness/topic_traffic.h"

namespace x0x::harness::detail {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void baseline(ScenarioContext& ctx, gates::ScenarioRun& run) {
  if (phase_a_asked(ctx, run)) run_phase_a_into(ctx, run);
}

void fanout_burst(ScenarioContext& ctx, gates::ScenarioRun& run) {
  const auto& o = ctx.opts;
  auto topic = fmt::format("x0x.launch.fanout.{}", static_cast<long long>(unix_now()));
  run.metrics["burst_topic"] = topic;
  run.metrics["burst_messages"] = o.burst_messages;
  run.metrics["burst_payload_bytes"] = o.burst_payload_bytes;
  run.metrics["burst_delay_ms"] = o.burst_delay_ms;

  std::vector<NodeApi> subscribers;
  for (auto& name : non_anchor_nodes(ctx)) subscribers.push_back(api_of(ctx.apis, name));
  TopicTraffic traffic(topic, subscribers, o.request_timeout);
  ctx.say(fmt::format("{} × {} B to {} from {} ({} subscribers)", o.burst_messages, o.burst_payload_bytes, topic,
                      ctx.anchor, subscribers.size()));
  auto st = traffic.publish(api_of(ctx.apis, ctx.anchor), o.burst_messages, o.burst_payload_bytes,
                            std::chrono::milliseconds(o.burst_delay_ms), ctx.interrupted);
  run.metrics["burst_publish_secs"] = st.secs;
  run.metrics["burst_publish_errors"] = st.errors;

  // Until every subscriber has the whole burst, or the settle limit.
  auto all_in = [&] {
    for (auto& [node, got] : traffic.received())
      if (got < static_cast<std::size_t>(st.published)) return false;
    return true;
  };
  auto settle_start = Clock::now();
  while (!all_in() && secs_since(settle_start) < o.burst_settle_secs && ctx.wait(std::chrono::milliseconds(100))) {
  }
  run.metrics["burst_settle_secs"] = secs_since(settle_start);
  traffic.stop();
  json delivered = json::object();
  double min_ratio = 1.0;
  std::string short_nodes;
  for (auto& [node, got] : traffic.received()) {
    delivered[node] = got;
    double r = o.burst_messages > 0 ? static_cast<double>(got) / o.burst_messages : 1.0;
    min_ratio = std::min(min_ratio, r);
    if (got < static_cast<std::size_t>(o.burst_messages))
      short_nodes += fmt::format("{}{} {}/{}", short_nodes.empty() ? "" : ", ", node, got, o.burst_messages);
  }
  run.metrics["burst_delivered_per_node"] = delivered;
  run.metrics["burst_delivery_min_ratio"] = min_ratio;
  if (st.errors > 0) {
    run.status = gates::RunStatus::errored;
    run.reason = fmt::format("burst publish: {} of {} publishes failed (first: {})", st.errors, o.burst_messages, st.first_error);
  } else if (!short_nodes.empty() && !ctx.stop_requested()) {
    run.status = gates::RunStatus::errored;
    run.reason = fmt::format("fanout delivery incomplete after {:.0f} s: {}", o.burst_settle_secs, short_nodes);
  }
}

}  // namespace x0x::harness::detail
