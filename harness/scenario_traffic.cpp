// baseline (Phase A) and fanout_burst (PubSub pressure from the anchor). Unlike
// the reference, fanout_burst subscribes every other node to the burst topic
// and counts what each one receives, and counts failed publishes, instead of
// only watching counters (spec gates-and-proofs.md §9.1 item 9).
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/core.h>

#include "core/encoding.h"
#include "harness/scenario_impl.h"
#include "harness/snapshots.h"
#include "probes/rest_client.h"
#include "probes/sse.h"

namespace x0x::harness::detail {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

static bool phase_a_asked(const ScenarioContext& ctx, const std::string& scenario) {
  return ctx.profile.phase_a_scenarios.count(scenario) > 0;
}

void baseline(ScenarioContext& ctx, gates::ScenarioRun& run) {
  if (phase_a_asked(ctx, "baseline")) run_phase_a_into(ctx, run);
}

namespace {

// One subscriber: its subscription and an SSE reader counting the topic's messages.
struct Subscriber {
  std::string node, subscription_id;
  std::unique_ptr<probes::SseStream> stream;
  std::mutex mu;
  std::size_t received = 0;
};

}  // namespace

void fanout_burst(ScenarioContext& ctx, gates::ScenarioRun& run) {
  const auto& o = ctx.opts;
  auto topic = fmt::format("x0x.launch.fanout.{}", static_cast<long long>(unix_now()));
  run.metrics["burst_topic"] = topic;
  run.metrics["burst_messages"] = o.burst_messages;
  run.metrics["burst_payload_bytes"] = o.burst_payload_bytes;
  run.metrics["burst_delay_ms"] = o.burst_delay_ms;

  std::vector<std::unique_ptr<Subscriber>> subs;
  for (auto& name : non_anchor_nodes(ctx)) {
    auto s = std::make_unique<Subscriber>();
    s->node = name;
    const auto& api = api_of(ctx.apis, name);
    probes::RestClient c(api.base_url, api.token, o.request_timeout);
    s->subscription_id = c.post_json("/subscribe", {{"topic", topic}}).value("subscription_id", std::string());
    auto* raw = s.get();
    s->stream = std::make_unique<probes::SseStream>(
        probes::SseStream::Options{api.base_url, "/events", api.token},
        [raw, topic](const probes::SseEvent& e) {
          auto j = json::parse(e.data, nullptr, false);
          if (j.is_object() && j.contains("data") && j["data"].value("topic", std::string()) == topic) {
            std::lock_guard lk(raw->mu);
            raw->received++;
          }
        });
    s->stream->start();
    subs.push_back(std::move(s));
  }
  for (auto& s : subs)
    if (!s->stream->wait_connected(o.request_timeout))
      throw std::runtime_error(s->node + ": /events did not connect: " + s->stream->last_error());

  ctx.say(fmt::format("fanout_burst: {} × {} B to {} from {} ({} subscribers)", o.burst_messages,
                      o.burst_payload_bytes, topic, ctx.anchor, subs.size()));
  const auto& anchor = api_of(ctx.apis, ctx.anchor);
  probes::RestClient pub(anchor.base_url, anchor.token, o.request_timeout);
  auto payload = base64_encode(std::string(static_cast<std::size_t>(o.burst_payload_bytes), 'X'));
  auto body = json{{"topic", topic}, {"payload", payload}}.dump();
  int errors = 0;
  std::string first_error;
  auto t0 = Clock::now();
  for (int i = 0; i < o.burst_messages && !ctx.stop_requested(); ++i) {
    try {
      auto r = pub.post("/publish", body);
      if (!r.ok()) {
        ++errors;
        if (first_error.empty()) first_error = "HTTP " + std::to_string(r.status) + ": " + probes::detail::snippet(r.body, 120);
      }
    } catch (const std::exception& e) {
      ++errors;
      if (first_error.empty()) first_error = e.what();
    }
    if (o.burst_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.burst_delay_ms));  // pacing, as the reference
  }
  run.metrics["burst_publish_secs"] = secs_since(t0);
  run.metrics["burst_publish_errors"] = errors;

  // Wait until every subscriber has the whole burst, or the settle limit.
  auto settle_start = Clock::now();
  auto all_in = [&] {
    for (auto& s : subs) {
      std::lock_guard lk(s->mu);
      if (s->received < static_cast<std::size_t>(o.burst_messages - errors)) return false;
    }
    return true;
  };
  while (!all_in() && secs_since(settle_start) < o.burst_settle_secs && ctx.wait(std::chrono::milliseconds(200))) {
  }
  run.metrics["burst_settle_secs"] = secs_since(settle_start);
  json delivered = json::object();
  double min_ratio = 1.0;
  std::string short_nodes;
  for (auto& s : subs) {
    s->stream->stop();
    std::size_t got;
    {
      std::lock_guard lk(s->mu);
      got = s->received;
    }
    delivered[s->node] = got;
    double r = o.burst_messages > 0 ? static_cast<double>(got) / o.burst_messages : 1.0;
    if (r < min_ratio) min_ratio = r;
    if (got < static_cast<std::size_t>(o.burst_messages))
      short_nodes += fmt::format("{}{} {}/{}", short_nodes.empty() ? "" : ", ", s->node, got, o.burst_messages);
    try {
      const auto& api = api_of(ctx.apis, s->node);
      probes::RestClient(api.base_url, api.token, o.request_timeout).del("/subscribe/" + s->subscription_id);
    } catch (...) {
    }
  }
  run.metrics["burst_delivered_per_node"] = delivered;
  run.metrics["burst_delivery_min_ratio"] = min_ratio;
  if (errors > 0) {
    run.status = "errored";
    run.reason = fmt::format("burst publish: {} of {} publishes failed (first: {})", errors, o.burst_messages, first_error);
  } else if (!short_nodes.empty() && !ctx.stop_requested()) {
    run.status = "errored";
    run.reason = fmt::format("fanout delivery incomplete after {:.0f} s: {}", o.burst_settle_secs, short_nodes);
  }
}

}  // namespace x0x::harness::detail
