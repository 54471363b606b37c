#include "harness/runner_session.h"

#include <algorithm>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "probes/rest_client.h"
#include "probes/sse.h"

namespace x0x::harness {

using nlohmann::json;
using namespace std::chrono_literals;

// --- ResultBus ---

void ResultBus::expect_probe(const std::string& command_id) {
  std::lock_guard lk(mu_);
  probes_.insert(command_id);
}

void ResultBus::add(const runners::Result& r, SessionClock::time_point arrived) {
  {
    std::lock_guard lk(mu_);
    auto& s = results_;
    const bool ours = r.command_id && probes_.count(*r.command_id);
    if (r.kind == "discover_reply") {
      if (ours && !r.node.empty() && !s.runners.count(r.node)) s.runners[r.node] = {r.agent_id, r.machine_id};
    } else if (r.kind == "error" && ours && !r.node.empty() && r.outcome.is_object() &&
               r.outcome.value("error", nlohmann::json()).is_string() &&
               r.outcome["error"].get<std::string>().rfind("unauthorised", 0) == 0) {
      // A runner that trusts another orchestrator (runners/control_trust.h).
      s.refused_by.try_emplace(r.node, r.outcome["error"].get<std::string>());
    } else if (r.kind == "ack") {
      if (r.command_id) s.acked.insert(*r.command_id);
    } else if (r.kind == "received_dm") {
      if (r.request_id) s.receipts.try_emplace({r.node, *r.request_id}, Receipt{r, arrived});
    } else if (r.request_id && r.kind != "runner_ready") {
      auto it = s.by_request.find(*r.request_id);
      if (it == s.by_request.end() || !it->second.ok()) s.by_request[*r.request_id] = r;
    }
  }
  cv_.notify_all();
}

bool ResultBus::wait_until(SessionClock::time_point deadline, const std::function<bool(const SessionResults&)>& pred) {
  std::unique_lock lk(mu_);
  return cv_.wait_until(lk, deadline, [&] { return pred(results_); });
}

void ResultBus::read(const std::function<void(const SessionResults&)>& fn) const {
  std::lock_guard lk(mu_);
  fn(results_);
}

SessionResults ResultBus::snapshot() const {
  std::lock_guard lk(mu_);
  return results_;
}

// --- RunnerSession ---

namespace {

json dm_body(const std::string& agent, const std::string& payload) {
  // The reference's command DM flags (spec mesh-protocol.md §3.3 step 9).
  return {{"agent_id", agent}, {"payload", base64_encode(payload)}, {"prefer_raw_quic_if_connected", true},
          {"raw_quic_receive_ack_ms", 12000}, {"stop_fallback_on_raw_error", true}};
}

}  // namespace

RunnerSession::RunnerSession(SessionOptions opts, ProgressFn progress) : opts_(std::move(opts)), progress_(std::move(progress)) {
  auto anchor = client();
  auto health = anchor.get("/health");
  auto health_json = json::parse(health.body, nullptr, false);
  if (!health.ok() || !health_json.is_object() || !health_json.value("ok", false))
    throw SessionError("anchor " + opts_.anchor_base_url + " is not healthy: HTTP " + std::to_string(health.status));
  auto agent = anchor.get_json("/agent");
  anchor_aid_ = agent.is_object() ? agent.value("agent_id", "") : "";
  if (!is_hex(anchor_aid_, 64)) throw SessionError("anchor /agent returned no 64-hex agent_id");

  // The legacy results topic is a fallback channel for runners that cannot DM us.
  try {
    results_sub_ = anchor.post_json("/subscribe", {{"topic", runners::kResultsTopic}}).value("subscription_id", "");
  } catch (const std::exception& e) {
    say(std::string("results topic subscription failed (DM results still arrive): ") + e.what());
  }
  auto feed = [this](const probes::SseEvent& e) { on_event(e.event, e.data); };
  dm_stream_ = std::make_unique<probes::SseStream>(probes::SseStream::Options{opts_.anchor_base_url, "/direct/events", opts_.anchor_token}, feed);
  ev_stream_ = std::make_unique<probes::SseStream>(probes::SseStream::Options{opts_.anchor_base_url, "/events", opts_.anchor_token}, feed);
  dm_stream_->start();
  ev_stream_->start();
  if (!dm_stream_->wait_connected(10s)) {
    auto why = dm_stream_->last_error();
    close();  // the destructor does not run for a constructor that throws
    throw SessionError("cannot open /direct/events on the anchor: " + why);
  }
  if (!ev_stream_->wait_connected(10s)) say("anchor /events did not connect; results come over DMs only: " + ev_stream_->last_error());
}

RunnerSession::~RunnerSession() { close(); }

void RunnerSession::close() {
  if (dm_stream_) dm_stream_->stop();
  if (ev_stream_) ev_stream_->stop();
  dm_stream_.reset();
  ev_stream_.reset();
  if (!results_sub_.empty()) {
    try {
      auto r = client().del("/subscribe/" + results_sub_);
      if (!r.ok()) say(fmt::format("removing the results subscription: HTTP {}", r.status));
    } catch (const std::exception& e) {
      say(std::string("removing the results subscription: ") + e.what());
    }
    results_sub_.clear();
  }
}

probes::RestClient RunnerSession::client() const {
  return probes::RestClient(opts_.anchor_base_url, opts_.anchor_token, opts_.request_timeout);
}

void RunnerSession::on_event(const std::string& event, const std::string& data) {
  try {
    auto j = json::parse(data, nullptr, false);
    if (!j.is_object()) return;
    auto now = SessionClock::now();
    if (event == "direct_message") {
      auto payload = base64_decode(j.value("payload", ""));
      if (!payload) return;
      auto m = runners::decode_dm(*payload);
      if (m.kind == runners::DmKind::result && m.result) bus_.add(*m.result, now);
    } else if (event == "message") {
      const auto& d = j.contains("data") ? j["data"] : j;
      if (!d.is_object() || d.value("topic", "") != runners::kResultsTopic) return;
      auto payload = base64_decode(d.value("payload", ""));
      if (payload) bus_.add(runners::decode_topic_result(*payload), now);
    }
  } catch (const std::exception&) {
    // Somebody else's malformed traffic: the command it would have answered
    // shows up as missing, with its stage.
  }
}

runners::Command RunnerSession::command(std::string command_id, std::string target_node, std::string action,
                                        json params) const {
  runners::Command c;
  c.command_id = std::move(command_id);
  c.target_node = std::move(target_node);
  c.action = std::move(action);
  c.anchor_aid = anchor_aid_;
  if (!params.is_object()) params = json::object();
  if (!params.contains("request_id")) params["request_id"] = c.command_id;
  params["anchor_aid"] = anchor_aid_;
  c.params = std::move(params);
  if (opts_.no_pubsub_after_discover) {  // top level and mirrored in params, as the reference sends it
    c.no_pubsub_after_discover = true;
    c.params["no_pubsub_after_discover"] = true;
  }
  return c;
}

Dispatch RunnerSession::send(probes::RestClient& anchor, const runners::Command& cmd, const std::string& to_agent) const {
  Dispatch d;
  d.sent_at = SessionClock::now();
  d.attempts = 1;
  try {
    auto r = anchor.post("/direct/send", dm_body(to_agent, runners::encode_command_dm(cmd)).dump());
    d.http_status = static_cast<int>(r.status);
    if (!r.ok()) {
      auto j = json::parse(r.body, nullptr, false);
      std::string why = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                                       : probes::detail::snippet(r.body, 120);
      d.error = fmt::format("HTTP {} {}", r.status, why);
    }
  } catch (const std::exception& e) {
    d.error = e.what();
  }
  return d;
}

void RunnerSession::discover() {
  const std::set<std::string> expected(opts_.nodes.begin(), opts_.nodes.end());
  auto t0 = SessionClock::now();
  auto deadline = t0 + opts_.discover;
  auto all_found = [&](const SessionResults& s) {
    return std::all_of(expected.begin(), expected.end(), [&](auto& n) { return s.runners.count(n) > 0; });
  };
  auto anchor = client();
  // Republish until every runner answered or the window closed (the reference
  // publishes every 12 s; a runner that missed one probe waits less here).
  while (true) {
    auto probe = command(random_hex(16), "*", "discover", {{"no_pubsub_after_discover", false}});
    probe.params["request_id"] = probe.command_id;
    probe.no_pubsub_after_discover = false;  // discovery itself is PubSub
    probe.params["no_pubsub_after_discover"] = false;
    bus_.expect_probe(probe.command_id);
    try {
      auto r = anchor.post("/publish", json{{"topic", runners::kDiscoverTopic}, {"payload", base64_encode(probe.to_json().dump())}}.dump());
      if (!r.ok()) say(fmt::format("discover publish: HTTP {} {}", r.status, probes::detail::snippet(r.body, 120)));
    } catch (const std::exception& e) {
      say(std::string("discover publish failed: ") + e.what());
    }
    auto next = std::min(SessionClock::now() + opts_.republish_every, deadline);
    if (bus_.wait_until(next, all_found)) break;
    bus_.read([&](const SessionResults& s) {
      say(fmt::format("discover {}/{}", std::count_if(expected.begin(), expected.end(), [&](auto& n) { return s.runners.count(n) > 0; }),
                      expected.size()));
    });
    if (SessionClock::now() >= deadline) break;
  }
  agents_.clear();
  discovered_.clear();
  missing_.clear();
  bus_.read([&](const SessionResults& s) {
    for (auto& n : opts_.nodes) {
      auto it = s.runners.find(n);
      if (it != s.runners.end()) {
        agents_[n] = it->second.agent_id;
        discovered_.push_back(n);
      } else {
        missing_.push_back(n);
        if (auto why = s.refused_by.find(n); why != s.refused_by.end())
          say(fmt::format("{}'s runner refuses this anchor ({}): its X0X_RUNNER_TRUSTED_AGENTS does not list {}, or "
                          "it trusted another orchestrator's discover first (restart it to forget that)",
                          n, why->second.substr(0, 200), anchor_aid_));
      }
    }
  });

  // Readiness: a noop_ack over the DM path proves each runner's
  // /direct/events stream is attached (instead of the reference's blind 10 s).
  std::map<std::string, std::string> pending;  // command id -> node
  for (auto& [node, agent] : agents_) {
    auto ping = command("ready-" + random_hex(8), node, "noop_ack");
    pending[ping.command_id] = node;
    auto d = send(anchor, ping, agent);
    if (!d.accepted()) say(fmt::format("readiness probe to {}: {}", node, d.error));
  }
  auto ready_deadline = std::max(SessionClock::now() + 5s, deadline);
  bool ready = bus_.wait_until(ready_deadline, [&](const SessionResults& s) {
    return std::all_of(pending.begin(), pending.end(), [&](auto& p) { return s.acked.count(p.first) > 0; });
  });
  if (!ready)
    bus_.read([&](const SessionResults& s) {
      for (auto& [id, node] : pending)
        if (!s.acked.count(id)) say(node + " did not acknowledge the readiness probe; its commands may be lost");
    });
  discover_secs_ = std::chrono::duration<double>(SessionClock::now() - t0).count();
}

}  // namespace x0x::harness
