// restart_storm: restart N non-anchor nodes and time each one until it is
// healthy at the same version and back in the mesh (as many peers as before).
// Fixes the reference (spec deploy-and-harvest.md §5.2): every target is timed
// from its own restart, all are polled together, and "/health answers" is not
// enough.
#include <algorithm>
#include <cmath>

#include <fmt/core.h>
#include <fmt/format.h>

#include "harness/scenario_impl.h"
#include "harness/snapshots.h"

namespace x0x::harness::detail {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Health {
  bool healthy = false;
  std::string version;
  long peers = 0;
};

Health read_health(const gates::RawFetch& f) {
  Health h;
  if (!f.fetched || f.http_status != 200 || !f.body.is_object()) return h;
  h.healthy = f.body.value("status", std::string()) == "healthy" && f.body.value("ok", true);
  h.version = f.body.value("version", std::string());
  h.peers = f.body.value("peers", 0L);
  return h;
}

}  // namespace

void restart_storm(ScenarioContext& ctx, gates::ScenarioRun& run) {
  const auto& o = ctx.opts;
  const auto targets = role(run, "target");
  std::vector<NodeApi> target_apis;
  for (auto& t : targets) target_apis.push_back(api_of(ctx.apis, t));
  run.metrics["restart_count"] = targets.size();
  run.metrics["restart_targets"] = fmt::format("{}", fmt::join(targets, ","));

  std::map<std::string, Health> before;
  for (auto& [n, f] : fetch_all(target_apis, "/health", o.request_timeout)) before[n] = read_health(f);

  // Restarts are issued from this thread (a local fleet's children are tied to it).
  std::map<std::string, Clock::time_point> issued;
  auto t0 = Clock::now();
  for (auto& t : targets) {
    ctx.say("restart " + t);
    gates::FaultWindow w{t, "restart", "service restart", unix_now(), 0};
    issued[t] = Clock::now();
    ctx.faults.restart(t, run.name);
    run.faults.push_back(w);
  }
  run.metrics["issued_secs"] = secs_since(t0);

  std::map<std::string, double> recovery;
  while (recovery.size() < targets.size() && secs_since(t0) < o.recovery_limit_secs && !ctx.stop_requested()) {
    std::vector<NodeApi> pending;
    for (auto& a : target_apis)
      if (!recovery.count(a.name)) pending.push_back(a);
    for (auto& [n, f] : fetch_all(pending, "/health", std::chrono::milliseconds(2000))) {
      auto h = read_health(f);
      const auto& b = before[n];
      bool same_version = b.version.empty() || h.version == b.version;
      if (h.healthy && same_version && h.peers >= std::max(1L, b.peers)) {
        recovery[n] = secs_since(issued[n]);
        ctx.say(fmt::format("{} recovered in {:.1f} s ({} peers)", n, recovery[n], h.peers));
      }
    }
    if (recovery.size() < targets.size()) ctx.wait(std::chrono::duration<double>(o.poll_secs));
  }

  json per_node = json::object();
  double max_recovery = 0;
  bool all = true;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto& t = targets[i];
    auto it = recovery.find(t);
    double secs = it == recovery.end() ? -1 : it->second;
    per_node[t] = secs < 0 ? -1.0 : std::round(secs * 10) / 10;
    if (secs < 0) all = false;
    else max_recovery = std::max(max_recovery, secs);
    for (auto& w : run.faults)
      if (w.node == t && w.kind == "restart") w.end_unix = secs < 0 ? 0 : w.start_unix + secs;
  }
  run.metrics["recovery_secs_per_node"] = per_node;
  run.metrics["max_recovery_secs"] = all ? std::round(max_recovery * 10) / 10 : -1.0;
  if (!all) {
    run.status = gates::RunStatus::errored;
    run.reason = fmt::format("one or more nodes failed to recover within {:.0f}s", o.recovery_limit_secs);
    return;
  }
  if (phase_a_asked(ctx, run)) run_phase_a_into(ctx, run);
}

}  // namespace x0x::harness::detail
