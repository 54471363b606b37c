// Peer faults: high_rtt_peer (a slow, jittery link), slow_peer, stale_peer
// (keeps its connections, answers nothing) and partition_recovery. Each fault
// goes through the FaultInjector (lean node API locally, tc/iptables with a
// dead-man revert over SSH) inside a FaultGuard, so it is reverted and the
// revert verified on every path, and held under a short lease its heartbeat
// renews (a killed gate's fault ends within seconds). Recovery is measured
// from the heal, on the monotonic clock, and partition recovery only counts
// once the partition was seen to bite (spec gates-and-proofs.md §9.1 item 9).
#include <atomic>
#include <cmath>
#include <thread>

#include <fmt/core.h>
#include <fmt/format.h>

#include "harness/scenario_impl.h"
#include "harness/snapshots.h"
#include "harness/topic_traffic.h"

namespace x0x::harness::detail {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// One observer's view of one peer in its /diagnostics/gossip.
json peer_view(const gates::RawFetch& f, const std::string& peer) {
  if (!f.fetched || f.http_status != 200 || !f.body.is_object()) return {{"error", f.error.empty() ? "HTTP " + std::to_string(f.http_status) : f.error}};
  const json empty = json::object();
  const json& st = f.body.contains("pubsub_stages") && f.body["pubsub_stages"].is_object() ? f.body["pubsub_stages"] : empty;
  long scores = 0, suppressed = 0;
  double timeouts = 0, cooling = 0;
  json topics = json::array();
  for (auto& row : st.value("peer_scores", json::array())) {
    if (!row.is_object() || !same_peer(row.value("peer_id", std::string()), peer)) continue;
    ++scores;
    timeouts += row.value("outbound_send_timeouts", 0.0);
    cooling += row.value("cooling_events", 0.0);
  }
  for (auto& row : st.value("suppressed_peers", json::array())) {
    if (!row.is_object() || !same_peer(row.value("peer_id", std::string()), peer)) continue;
    ++suppressed;
    topics.push_back(row.value("topic", std::string()));
  }
  return {{"score_entries", scores}, {"suppressed_entries", suppressed}, {"suppressed_topics", topics},
          {"outbound_send_timeouts", timeouts}, {"cooling_events", cooling}};
}

json sample(ScenarioContext& ctx, const std::string& label, const std::string& peer) {
  json observers = json::object();
  for (auto& [n, f] : fetch_all(ctx.apis, "/diagnostics/gossip", ctx.opts.request_timeout)) observers[n] = peer_view(f, peer);
  return {{"label", label}, {"unix", unix_now()}, {"target_peer_id", peer}, {"observers", observers}};
}

long sum_observers(const json& s, const std::string& target, const char* field) {
  long n = 0;
  for (auto& [node, v] : s["observers"].items())
    if (node != target && !v.contains("error")) n += v.value(field, 0L);
  return n;
}

std::string target_of(gates::ScenarioRun& run) {
  auto t = role(run, "target").front();
  run.metrics["target_node"] = t;
  return t;
}

// Traffic through the whole mesh for as long as a fault lasts: every node
// subscribes to a fresh topic and the anchor publishes on it, so that sends
// towards a slow target can time out and the observers can cool it (an idle
// fleet shows no cooling whatever its links do).
class BackgroundTraffic {
 public:
  BackgroundTraffic(ScenarioContext& ctx, const std::string& label)
      : traffic_(fmt::format("x0x.launch.{}.{}", label, static_cast<long long>(unix_now())), ctx.apis, ctx.opts.request_timeout) {
    const auto& anchor = api_of(ctx.apis, ctx.anchor);
    // Nothing may escape a thread body: an error ends up in the stats.
    thread_ = std::thread([this, anchor] {
      try {
        stats_ = traffic_.publish(anchor, 1 << 30, kPayloadBytes, kGap, &stop_, &paused_);
      } catch (const std::exception& e) {
        stats_.errors++;
        stats_.first_error = e.what();
      }
    });
  }
  ~BackgroundTraffic() { finish(); }
  void pause(bool p) { paused_ = p; }
  PublishStats finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    traffic_.stop();
    return stats_;
  }
  const std::string& topic() const { return traffic_.topic(); }

 private:
  static constexpr int kPayloadBytes = 1024;
  static constexpr std::chrono::milliseconds kGap{100};  // 10 messages a second
  TopicTraffic traffic_;
  std::atomic<bool> stop_{false}, paused_{false};
  PublishStats stats_;
  std::thread thread_;
};

// Waits until `node` lists at least `peers` peers again (after a heal); seconds or -1.
double wait_rejoined(ScenarioContext& ctx, const std::string& node, std::size_t peers, double limit) {
  auto t0 = Clock::now();
  while (secs_since(t0) < limit && !ctx.stop_requested()) {
    if (peer_ids_of(ctx, node).size() >= peers) return secs_since(t0);
    ctx.wait(std::chrono::duration<double>(ctx.opts.poll_secs));
  }
  return -1;
}

// slow_peer and stale_peer: the fault on the target for the window, Phase A in
// the middle of it (when the gate asks), then heal and wait for the target to
// be back in the mesh.
void peer_fault(ScenarioContext& ctx, gates::ScenarioRun& run, const std::string& kind) {
  const auto& o = ctx.opts;
  auto target = target_of(run);
  auto peers_before = peer_ids_of(ctx, target).size();
  run.metrics["window_secs"] = o.peer_fault_secs;
  {
    FaultGuard guard(ctx, run);
    orchestrator::FaultRequest req;
    req.kind = kind;
    req.target = target;
    guard.apply(req);
    auto t0 = Clock::now();
    if (ctx.wait(std::chrono::duration<double>(o.peer_fault_secs / 2)) && phase_a_asked(ctx, run))
      run_phase_a_into(ctx, run);
    ctx.wait(std::chrono::duration<double>(std::max(0.0, o.peer_fault_secs - secs_since(t0))));
    if (!guard.revert_all()) {
      run.status = gates::RunStatus::errored;
      run.reason = kind + " fault cleanup failed on " + target;
      return;
    }
  }
  auto back = wait_rejoined(ctx, target, peers_before, o.heal_secs);
  run.metrics["rejoin_secs"] = back;
  if (back < 0 && !ctx.stop_requested()) {
    run.status = gates::RunStatus::errored;
    run.reason = fmt::format("{} did not rejoin the mesh within {:.0f} s after the {} fault", target, o.heal_secs, kind);
  }
}

}  // namespace

void slow_peer(ScenarioContext& ctx, gates::ScenarioRun& run) { peer_fault(ctx, run, "slow"); }
void stale_peer(ScenarioContext& ctx, gates::ScenarioRun& run) { peer_fault(ctx, run, "stale"); }

// Cooling per observer between two samples: timeouts or cooling events
// towards the target rose, or its first suppression appeared (spec §4.4 step 7).
json cooling_between(const json& from, const json& to, const std::string& target, bool& any) {
  json observers = json::object();
  any = false;
  for (auto& [node, s] : from["observers"].items()) {
    if (node == target || s.contains("error") || !to["observers"].contains(node) || to["observers"][node].contains("error")) continue;
    auto& m = to["observers"][node];
    double dc = std::max(0.0, m.value("cooling_events", 0.0) - s.value("cooling_events", 0.0));
    double dt = std::max(0.0, m.value("outbound_send_timeouts", 0.0) - s.value("outbound_send_timeouts", 0.0));
    bool new_supp = s.value("suppressed_entries", 0L) == 0 && m.value("suppressed_entries", 0L) > 0;
    observers[node] = {{"cooling_events_delta", dc}, {"outbound_send_timeouts_delta", dt}, {"new_suppression", new_supp}};
    any = any || dc > 0 || dt > 0 || new_supp;
  }
  return observers;
}

void high_rtt_peer(ScenarioContext& ctx, gates::ScenarioRun& run) {
  const auto& o = ctx.opts;
  auto target = target_of(run);
  auto peer = machine_id_of(ctx, target);
  if (peer.empty()) throw std::runtime_error(target + " /agent response missing machine_id");
  peer = peer.substr(0, 16);
  json traj = {{"target_node", target}, {"target_peer_id", peer}, {"delay_ms", o.netem_delay_ms},
               {"jitter_ms", o.netem_jitter_ms}, {"distribution", "normal"}, {"window_secs", o.fault_secs},
               {"heal_secs", o.netem_heal_secs}, {"samples", json::array()}};
  auto save = [&] { ctx.artefact("scenarios/high_rtt_peer/peer-score-trajectory.json", traj); };
  run.metrics["netem_delay_ms"] = o.netem_delay_ms;
  run.metrics["netem_jitter_ms"] = o.netem_jitter_ms;
  run.metrics["netem_window_secs"] = o.fault_secs;
  run.metrics["netem_heal_secs"] = o.netem_heal_secs;
  run.metrics["trajectory_path"] = "scenarios/high_rtt_peer/peer-score-trajectory.json";

  // Traffic is what a slow link cools under, and what lets the observers'
  // recovery probes succeed after the heal: it runs while the fault shows no
  // cooling yet, pauses once it does (so the timeouts stay a signal, not a
  // flood), and resumes for the heal.
  BackgroundTraffic traffic(ctx, "high_rtt");
  run.metrics["traffic_topic"] = traffic.topic();
  auto start = sample(ctx, "start", peer);
  traj["samples"].push_back(start);
  save();
  json mid;
  bool cooling = false;
  {
    FaultGuard guard(ctx, run);
    orchestrator::FaultRequest req;
    req.kind = "delay";
    req.target = target;
    req.delay_ms = o.netem_delay_ms;
    req.jitter_ms = o.netem_jitter_ms;
    guard.apply(req);
    auto t0 = Clock::now();
    const double half = std::max(1.0, o.fault_secs / 2);
    while (secs_since(t0) < half && !cooling && ctx.wait(std::chrono::duration<double>(std::min(o.poll_secs, 1.0))))
      cooling_between(start, sample(ctx, "poll", peer), target, cooling);
    if (cooling) {
      traffic.pause(true);
      run.metrics["cooling_after_secs"] = std::round(secs_since(t0) * 10) / 10;
    }
    ctx.wait(std::chrono::duration<double>(std::max(0.0, half - secs_since(t0))));
    mid = sample(ctx, "mid", peer);
    traj["samples"].push_back(mid);
    save();
    ctx.wait(std::chrono::duration<double>(std::max(0.0, o.fault_secs - secs_since(t0))));
    bool clean = guard.revert_all();
    traj["cleanup"] = run.metrics["cleanup"];
    save();
    if (!clean) {
      run.status = gates::RunStatus::errored;
      run.reason = "netem cleanup failed on " + target;
      return;
    }
  }
  json observers = cooling_between(start, mid, target, cooling);
  // Heal: poll, with traffic, until the observers' suppression of the target drains (not a fixed wait).
  traffic.pause(false);
  long start_supp = sum_observers(start, target, "suppressed_entries");
  json end;
  auto heal0 = Clock::now();
  do {
    end = sample(ctx, "end", peer);
    if (sum_observers(end, target, "suppressed_entries") <= std::max(start_supp, 1L)) break;
  } while (secs_since(heal0) < o.netem_heal_secs && ctx.wait(std::chrono::duration<double>(o.poll_secs)));
  auto st = traffic.finish();
  run.metrics["traffic_published"] = st.published;
  run.metrics["traffic_publish_errors"] = st.errors;
  traj["samples"].push_back(end);
  bool recovered = sum_observers(end, target, "suppressed_entries") <= std::max(start_supp, 1L);
  traj["summary"] = {{"cooling_observed", cooling}, {"recovered", recovered}, {"observers", observers},
                     {"heal_secs_used", secs_since(heal0)}};
  save();
  run.metrics["cooling_observed"] = cooling;
  run.metrics["suppression_recovered"] = recovered;
  if (!cooling) {
    run.status = gates::RunStatus::errored;
    run.reason = "cooling signal was not observed for target peer";
  } else if (!recovered) {
    run.status = gates::RunStatus::errored;
    run.reason = "suppressed_peers for target peer did not drain after netem heal window";
  } else if (st.errors > 0) {
    run.status = gates::RunStatus::errored;
    run.reason = fmt::format("background traffic: {} publishes failed (first: {})", st.errors, st.first_error);
  }
}

void partition_recovery(ScenarioContext& ctx, gates::ScenarioRun& run) {
  const auto& o = ctx.opts;
  const auto& pair = role(run, "pair", 2);
  auto a = pair[0], b = pair[1];
  run.metrics["partition_pair"] = a + "," + b;
  run.metrics["block_secs"] = o.block_secs;
  run.metrics["heal_secs"] = o.heal_secs;
  run.metrics["recovery_path"] = "scenarios/partition_recovery/recovery.json";
  std::map<std::string, std::string> id = {{a, machine_id_of(ctx, a)}, {b, machine_id_of(ctx, b)}};
  if (id[a].empty() || id[b].empty()) throw std::runtime_error("partition pair /agent response missing machine_id");
  auto other = [&](const std::string& n) { return n == a ? b : a; };
  auto sees = [&](const std::string& n) {
    for (auto& p : peer_ids_of(ctx, n))
      if (same_peer(p, id[other(n)])) return true;
    return false;
  };
  json rec = {{"pair", {a, b}}, {"peer_ids", {{a, id[a]}, {b, id[b]}}}, {"block_secs", o.block_secs},
              {"heal_secs", o.heal_secs}, {"poll_secs", o.poll_secs}, {"samples", json::array()}};
  auto save = [&] { ctx.artefact("scenarios/partition_recovery/recovery.json", rec); };
  auto pair_sample = [&](const std::string& label) {
    json s = {{"label", label}, {"unix", unix_now()}};
    for (auto& n : {a, b}) {
      auto f = fetch_json(api_of(ctx.apis, n), "/diagnostics/gossip", o.request_timeout);
      auto v = peer_view(f, id[other(n)].substr(0, 16));
      // Unknown stays unknown (null), never 0: a side that could not be read cannot show reconciliation.
      json ae = nullptr;
      if (f.fetched && f.http_status == 200 && f.body.is_object()) {
        auto ptr = "/pubsub_stages/message_kinds/anti_entropy"_json_pointer;
        if (f.body.contains(ptr) && f.body[ptr].is_number()) ae = f.body[ptr];
      }
      s[n] = {{"anti_entropy", ae}, {"suppressed_for_peer", v.value("suppressed_entries", 0L)}, {"connected", sees(n)}};
    }
    rec["samples"].push_back(s);
    save();
    return s;
  };
  auto start = pair_sample("start");
  if (!start[a]["connected"].get<bool>() || !start[b]["connected"].get<bool>())
    throw std::runtime_error(fmt::format("{} and {} are not peers before the partition: nothing to partition", a, b));

  double bite_secs = -1;
  double heal_unix = 0;
  {
    FaultGuard guard(ctx, run);
    for (auto& n : {a, b}) {
      orchestrator::FaultRequest req;
      req.kind = "partition";
      req.target = n;
      req.peers = {other(n)};
      guard.apply(req);
    }
    auto t0 = Clock::now();
    // The partition must be seen to bite: neither side lists the other.
    while (secs_since(t0) < o.block_secs && !ctx.stop_requested()) {
      if (!sees(a) && !sees(b)) {
        bite_secs = secs_since(t0);
        break;
      }
      ctx.wait(std::chrono::duration<double>(std::min(o.poll_secs, 0.5)));
    }
    ctx.wait(std::chrono::duration<double>(std::max(0.0, o.block_secs - secs_since(t0))));
    pair_sample("blocked");
    bool clean = guard.revert_all();
    heal_unix = unix_now();
    rec["cleanup"] = run.metrics["cleanup"];
    if (!clean) {
      run.status = gates::RunStatus::errored;
      run.reason = "iptables cleanup verification failed";
      save();
      return;
    }
  }
  run.metrics["partition_bite_secs"] = bite_secs;
  double recovered = -1;
  auto heal0 = Clock::now();
  if (bite_secs >= 0) {
    while (secs_since(heal0) < o.heal_secs && !ctx.stop_requested()) {
      auto s = pair_sample("heal");
      bool back = true;
      for (auto& n : {a, b})
        back = back && s[n]["connected"].get<bool>() &&
               s[n]["suppressed_for_peer"].get<long>() <= start[n]["suppressed_for_peer"].get<long>();
      if (back) {
        recovered = secs_since(heal0);
        break;
      }
      ctx.wait(std::chrono::duration<double>(o.poll_secs));
    }
  }
  run.metrics["partition_recovery_secs"] = recovered < 0 ? -1.0 : std::round(recovered * 10) / 10;
  // Reconciliation must show: each side's anti-entropy counter from the start
  // to the last sample (spec §4.5 step 7); the scorer fails the run when
  // neither moved (or when one could not be read).
  json ae = json::object();
  const auto& last = rec["samples"].back();
  for (auto& n : {a, b}) {
    auto before = start[n]["anti_entropy"], after = last[n]["anti_entropy"];
    ae[n] = before.is_number() && after.is_number() ? json(std::max(0.0, after.get<double>() - before.get<double>())) : json(nullptr);
  }
  run.metrics["anti_entropy_delta"] = ae;
  rec["summary"] = {{"partition_bite_secs", bite_secs}, {"heal_unix", heal_unix}, {"partition_recovery_secs", recovered},
                    {"anti_entropy_delta", ae}, {"cleanup_ok", true}};
  save();
  if (bite_secs < 0) {
    run.status = gates::RunStatus::errored;
    run.reason = fmt::format("the partition was not observed to bite within {:.0f} s ({} and {} still peers)", o.block_secs, a, b);
    return;
  }
  if (recovered < 0) {
    if (!ctx.stop_requested()) {
      run.status = gates::RunStatus::errored;
      run.reason = "partition pair did not return to baseline within heal window";
    }
    return;
  }
  if (phase_a_asked(ctx, run)) run_phase_a_into(ctx, run);
}

}  // namespace x0x::harness::detail
