#include "harness/phase_a.h"

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "probes/rest_client.h"
#include "probes/sse.h"
#include "runners/control_protocol.h"

namespace x0x::harness {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string PhaseAReport::verdict() const {
  return fmt::format("Phase A: {}/{} delivered", delivered_pairs, expected_pairs);
}

json PhaseAReport::to_json() const {
  json pairs_json = json::array();
  for (auto& p : pairs)
    pairs_json.push_back({{"src", p.src}, {"dst", p.dst}, {"outcome", p.delivered ? "delivered" : "failed"},
                          {"stage", p.stage.empty() ? json(nullptr) : json(p.stage)},
                          {"detail", p.detail.empty() ? json(nullptr) : json(p.detail)},
                          {"latency_ms", p.latency_ms < 0 ? json(nullptr) : json(p.latency_ms)},
                          {"path", p.path.empty() ? json(nullptr) : json(p.path)}, {"runner_attempts", p.attempts}});
  return {{"phase_a",
           {{"expected_pairs", expected_pairs}, {"delivered_pairs", delivered_pairs}, {"verdict", verdict()},
            {"passed", passed()}, {"send_ok", send_ok}, {"received", received}, {"nodes", nodes},
            {"discovered", discovered}, {"missing", missing}, {"allow_missing", allow_missing},
            {"discover_secs", discover_secs}, {"matrix_secs", matrix_secs}, {"pairs", pairs_json}}}};
}

namespace {

struct Receipt {
  runners::Result result;
  Clock::time_point arrived;
};

// Everything the runners report, from either channel, keyed for lookups.
class ResultBus {
 public:
  void add(const runners::Result& r) {
    {
      std::lock_guard lk(mu_);
      if (r.kind == "discover_reply") {
        // Only an answer to one of this run's probes proves the runner is alive
        // now; a runner_ready or a late reply to an older run does not.
        bool ours = r.command_id && probes_.count(*r.command_id);
        if (ours && !r.node.empty() && runners_.find(r.node) == runners_.end()) runners_[r.node] = {r.agent_id, r.machine_id};
      } else if (r.kind == "ack" && r.command_id) {
        acked_.insert(*r.command_id);
      } else if (r.kind == "send_result" && r.request_id) {
        auto it = sends_.find(*r.request_id);
        if (it == sends_.end() || !it->second.ok()) sends_[*r.request_id] = r;  // an ok is never overwritten
      } else if (r.kind == "received_dm" && r.request_id) {
        receipts_.try_emplace({r.node, *r.request_id}, Receipt{r, Clock::now()});
      }
    }
    cv_.notify_all();
  }
  void add_probe(const std::string& command_id) {
    std::lock_guard lk(mu_);
    probes_.insert(command_id);
  }
  template <class Pred>
  bool wait_until(Clock::time_point deadline, Pred pred) {
    std::unique_lock lk(mu_);
    return cv_.wait_until(lk, deadline, [&] { return pred(*this); });
  }
  // Accessors, called with the lock held (inside wait_until) or via snapshot().
  std::map<std::string, std::pair<std::string, std::string>> runners_;
  std::set<std::string> probes_;  // this run's discover command ids
  std::set<std::string> acked_;
  std::map<std::string, runners::Result> sends_;
  std::map<std::pair<std::string, std::string>, Receipt> receipts_;
  std::mutex mu_;

 private:
  std::condition_variable cv_;
};

void on_event(ResultBus& bus, const probes::SseEvent& e) {
  try {
    auto j = json::parse(e.data, nullptr, false);
    if (!j.is_object()) return;
    if (e.event == "direct_message") {
      auto payload = base64_decode(j.value("payload", ""));
      if (!payload) return;
      auto m = runners::decode_dm(*payload);
      if (m.kind == runners::DmKind::result && m.result) bus.add(*m.result);
    } else if (e.event == "message") {
      const auto& d = j.contains("data") ? j["data"] : j;
      if (d.value("topic", "") != runners::kResultsTopic) return;
      auto payload = base64_decode(d.value("payload", ""));
      if (payload) bus.add(runners::decode_topic_result(*payload));
    }
  } catch (const std::exception&) {
    // A malformed result is somebody else's traffic; the pair it would have
    // answered shows up as missing, with its stage.
  }
}

json dm_body(const std::string& agent, const std::string& payload) {
  return {{"agent_id", agent}, {"payload", base64_encode(payload)}, {"prefer_raw_quic_if_connected", true},
          {"raw_quic_receive_ack_ms", 12000}, {"stop_fallback_on_raw_error", true}};
}

std::string error_code_of(const json& outcome) {
  if (!outcome.is_object()) return outcome.dump();
  std::string code;
  const auto& err = outcome.contains("error") ? outcome["error"] : json();
  if (err.is_object() && err.contains("error") && err["error"].is_string()) code = err["error"].get<std::string>();
  else if (err.is_string()) code = err.get<std::string>();
  else code = err.dump();
  if (outcome.contains("http_status")) code = fmt::format("HTTP {} {}", outcome["http_status"].dump(), code);
  return code;
}

}  // namespace

PhaseAReport run_phase_a(const PhaseAOptions& o, const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  PhaseAReport rep;
  rep.nodes = o.nodes;
  rep.allow_missing = o.allow_missing;
  probes::RestClient anchor(o.anchor_base_url, o.anchor_token, 15s);
  auto health = anchor.get("/health");
  if (!health.ok() || !health.json().value("ok", false))
    throw PhaseAError("anchor " + o.anchor_base_url + " is not healthy: HTTP " + std::to_string(health.status));
  auto agent = anchor.get_json("/agent");
  std::string anchor_aid = agent.value("agent_id", "");
  if (!is_hex(anchor_aid, 64)) throw PhaseAError("anchor /agent returned no 64-hex agent_id");

  ResultBus bus;
  // The legacy results topic is a fallback channel; the subscription is
  // removed at the end (the reference leaks one per run).
  std::string results_sub;
  try {
    results_sub = anchor.post_json("/subscribe", {{"topic", runners::kResultsTopic}}).value("subscription_id", "");
  } catch (const std::exception&) {
  }
  probes::SseStream dm_stream({o.anchor_base_url, "/direct/events", o.anchor_token},
                              [&](const probes::SseEvent& e) { on_event(bus, e); });
  probes::SseStream ev_stream({o.anchor_base_url, "/events", o.anchor_token},
                              [&](const probes::SseEvent& e) { on_event(bus, e); });
  dm_stream.start();
  ev_stream.start();
  struct Cleanup {
    std::function<void()> f;
    ~Cleanup() { f(); }
  } cleanup{[&] {
    dm_stream.stop();
    ev_stream.stop();
    if (!results_sub.empty()) try {
        anchor.del("/subscribe/" + results_sub);
      } catch (...) {
      }
  }};
  if (!dm_stream.wait_connected(10s)) throw PhaseAError("cannot open /direct/events on the anchor: " + dm_stream.last_error());
  ev_stream.wait_connected(10s);

  // --- discovery: republish until everyone answered or the window closed ---
  const std::set<std::string> expected(o.nodes.begin(), o.nodes.end());
  auto t_discover = Clock::now();
  auto discover_deadline = t_discover + o.discover;
  auto all_found = [&](ResultBus& b) {
    for (auto& n : expected)
      if (!b.runners_.count(n)) return false;
    return true;
  };
  while (true) {
    runners::Command cmd;
    cmd.command_id = random_hex(16);
    cmd.action = "discover";
    cmd.anchor_aid = anchor_aid;
    cmd.params = {{"request_id", cmd.command_id}, {"anchor_aid", anchor_aid}, {"no_pubsub_after_discover", false}};
    cmd.no_pubsub_after_discover = false;
    bus.add_probe(cmd.command_id);
    try {
      anchor.post_json("/publish", {{"topic", runners::kDiscoverTopic}, {"payload", base64_encode(cmd.to_json().dump())}});
    } catch (const std::exception& e) {
      say(std::string("discover publish failed: ") + e.what());
    }
    auto next = std::min(Clock::now() + o.republish_every, discover_deadline);
    if (bus.wait_until(next, all_found)) break;
    {
      std::lock_guard lk(bus.mu_);
      say(fmt::format("discover {}/{}", std::count_if(expected.begin(), expected.end(), [&](auto& n) { return bus.runners_.count(n) > 0; }), expected.size()));
    }
    if (Clock::now() >= discover_deadline) break;
  }
  std::map<std::string, std::string> aid;  // node -> agent id
  {
    std::lock_guard lk(bus.mu_);
    for (auto& n : o.nodes) {
      auto it = bus.runners_.find(n);
      if (it != bus.runners_.end()) {
        aid[n] = it->second.first;
        rep.discovered.push_back(n);
      } else {
        rep.missing.push_back(n);
      }
    }
  }

  auto send_command = [&](probes::RestClient& c, const runners::Command& cmd, const std::string& to) {
    return c.post("/direct/send", dm_body(to, runners::encode_command_dm(cmd)).dump());
  };

  // --- readiness: a noop_ack over the DM path proves each runner's
  // /direct/events stream is attached (instead of the reference's blind 10 s).
  {
    std::map<std::string, std::string> pending;  // command id -> node
    for (auto& [node, a] : aid) {
      runners::Command ping;
      ping.command_id = "ready-" + random_hex(8);
      ping.target_node = node;
      ping.action = "noop_ack";
      ping.anchor_aid = anchor_aid;
      ping.params = {{"request_id", ping.command_id}, {"anchor_aid", anchor_aid}};
      pending[ping.command_id] = node;
      try {
        send_command(anchor, ping, a);
      } catch (const std::exception&) {
      }
    }
    auto ready_deadline = std::max(Clock::now() + 5s, discover_deadline);
    bus.wait_until(ready_deadline, [&](ResultBus& b) {
      for (auto& [id, _] : pending)
        if (!b.acked_.count(id)) return false;
      return true;
    });
  }
  rep.discover_secs = std::chrono::duration<double>(Clock::now() - t_discover).count();

  // --- fan-out: every directed pair over the expected nodes, concurrently ---
  auto t_matrix = Clock::now();
  // Milliseconds, not the reference's seconds: two runs in one second (verify
  // then gate, back-to-back scenarios) would reuse command ids, which runners
  // ignore as duplicates, and the second run would see no results at all.
  const auto run = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  struct Pending {
    std::size_t index;
    std::string request_id, marker;
    Clock::time_point sent_at{};
    int dispatch_status = 0;
    std::string dispatch_error;
  };
  std::vector<Pending> work;
  const auto& universe = o.allow_missing ? rep.discovered : o.nodes;
  for (auto& s : universe)
    for (auto& d : universe) {
      if (s == d) continue;
      PairResult p;
      p.src = s;
      p.dst = d;
      if (!aid.count(s) || !aid.count(d)) {
        p.stage = kStageNotDiscovered;
        p.detail = !aid.count(s) ? s + " did not answer discovery" : d + " did not answer discovery";
      } else {
        Pending pw;
        pw.index = rep.pairs.size();
        pw.request_id = "mesh-" + run + "-" + s + "-" + d;
        pw.marker = s.substr(0, 3) + "-" + d.substr(0, 3);
        work.push_back(std::move(pw));
      }
      rep.pairs.push_back(std::move(p));
    }
  rep.expected_pairs = rep.pairs.size();

  std::atomic<std::size_t> next{0}, dispatched{0};
  std::vector<std::thread> pool;
  for (std::size_t w = 0; w < std::max<std::size_t>(1, std::min(o.parallel, work.size())); ++w)
    pool.emplace_back([&] {
      probes::RestClient c(o.anchor_base_url, o.anchor_token, 15s);
      for (std::size_t k; (k = next++) < work.size();) {
        auto& pw = work[k];
        auto& pr = rep.pairs[pw.index];
        runners::Command cmd;
        cmd.command_id = "matrix-" + pw.request_id;
        cmd.target_node = pr.src;
        cmd.action = "send_dm";
        cmd.anchor_aid = anchor_aid;
        cmd.params = {{"recipient_aid", aid.at(pr.dst)}, {"payload_b64", base64_encode("matrix:" + pw.request_id)},
                      {"request_id", pw.request_id}, {"digest_marker", pw.marker}, {"anchor_aid", anchor_aid},
                      {"prefer_raw_quic_if_connected", true}, {"raw_quic_receive_ack_ms", 12000},
                      {"stop_fallback_on_raw_error", true}};
        pw.sent_at = Clock::now();
        try {
          auto r = send_command(c, cmd, aid.at(pr.src));
          pw.dispatch_status = static_cast<int>(r.status);
          if (!r.ok()) {
            auto j = json::parse(r.body, nullptr, false);
            pw.dispatch_error = fmt::format("HTTP {} {}", r.status, j.is_object() ? j.value("error", "") : r.body.substr(0, 120));
          }
        } catch (const std::exception& e) {
          pw.dispatch_error = e.what();
        }
        ++dispatched;
      }
    });
  for (auto& t : pool) t.join();
  say(fmt::format("matrix: dispatched {}/{}", dispatched.load(), work.size()));

  // --- settle: until every dispatched pair is complete, or the window closes ---
  auto complete = [&](ResultBus& b, const Pending& pw) {
    if (pw.dispatch_status < 200 || pw.dispatch_status >= 300) return true;
    auto s = b.sends_.find(pw.request_id);
    if (s != b.sends_.end() && !s->second.ok()) return true;
    return s != b.sends_.end() && b.receipts_.count({rep.pairs[pw.index].dst, pw.request_id});
  };
  auto settle_deadline = Clock::now() + o.settle;
  while (!bus.wait_until(std::min(settle_deadline, Clock::now() + 250ms), [&](ResultBus& b) {
    for (auto& pw : work)
      if (!complete(b, pw)) return false;
    return true;
  })) {
    if (Clock::now() >= settle_deadline) break;
    std::lock_guard lk(bus.mu_);
    std::size_t done = 0;
    for (auto& pw : work) done += complete(bus, pw);
    say(fmt::format("matrix: {}/{} pairs complete", done, work.size()));
  }

  // --- tally, with a stage for every failure ---
  {
    std::lock_guard lk(bus.mu_);
    for (auto& pw : work) {
      auto& pr = rep.pairs[pw.index];
      auto s = bus.sends_.find(pw.request_id);
      auto r = bus.receipts_.find({pr.dst, pw.request_id});
      bool have_send = s != bus.sends_.end(), send_ok = have_send && s->second.ok();
      bool have_receipt = r != bus.receipts_.end();
      std::string receipt_problem;
      if (have_receipt) {
        const auto& d = r->second.result.details;
        if (d.value("sender", "") != aid.at(pr.src)) receipt_problem = "receipt names another sender";
        else if (r->second.result.digest_marker.value_or("") != pw.marker) receipt_problem = "receipt carries another marker";
      }
      bool receipt_ok = have_receipt && receipt_problem.empty();
      if (send_ok) {
        rep.send_ok++;
        pr.path = s->second.details.value("path", "");
        pr.attempts = s->second.details.value("runner_attempts", 0);
      }
      if (receipt_ok) {
        rep.received++;
        pr.latency_ms = std::chrono::duration<double, std::milli>(r->second.arrived - pw.sent_at).count();
      }
      if (send_ok && receipt_ok) {
        pr.delivered = true;
        rep.delivered_pairs++;
      } else if (!pw.dispatch_error.empty() && !have_send && !have_receipt) {
        pr.stage = kStageNotDelivered;
        pr.detail = pw.dispatch_error;
      } else if (have_send && !send_ok) {
        pr.stage = kStageSendFailed;
        pr.detail = error_code_of(s->second.outcome);
      } else if (send_ok) {
        pr.stage = kStageNotReceived;
        pr.detail = receipt_problem.empty() ? "no received_dm from " + pr.dst : receipt_problem;
      } else if (have_receipt) {
        pr.stage = kStageResultLost;
        pr.detail = "the hop arrived but the source's send_result did not";
      } else {
        pr.stage = kStageNotDelivered;
        pr.detail = "no result from " + pr.src + " (command or result lost)";
      }
    }
  }
  rep.matrix_secs = std::chrono::duration<double>(Clock::now() - t_matrix).count();
  return rep;
}

}  // namespace x0x::harness
