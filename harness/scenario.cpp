#include "harness/scenario.h"

#include <algorithm>
#include <thread>

#include <fmt/core.h>
#include <fmt/format.h>

#include "harness/scenario_impl.h"
#include "harness/snapshots.h"
#include "probes/rest_client.h"

namespace x0x::harness {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

bool ScenarioContext::wait(std::chrono::duration<double> d) const {
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(d);
  while (Clock::now() < until) {
    if (stop_requested()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(100), until - Clock::now()));
  }
  return !stop_requested();
}

bool phase_a_asked(const ScenarioContext& ctx, const gates::ScenarioRun& run) {
  return ctx.profile.phase_a_scenarios.count(run.name) > 0;
}

void run_phase_a_into(ScenarioContext& ctx, gates::ScenarioRun& run) {
  const auto& anchor = api_of(ctx.apis, ctx.anchor);
  PhaseAOptions po;
  po.anchor_base_url = anchor.base_url;
  po.anchor_token = anchor.token;
  po.nodes = run.nodes;
  po.discover = ctx.opts.discover;
  po.settle = ctx.opts.settle;
  po.parallel = ctx.opts.phase_a_parallel;
  po.no_pubsub_after_discover = ctx.opts.no_pubsub_after_discover;
  ctx.say("Phase A on " + std::to_string(po.nodes.size()) + " nodes");
  auto rep = run_phase_a(po, [&](const std::string& line) { ctx.say("Phase A: " + line); });
  run.phase_a = rep.to_json()["phase_a"];
  run.metrics["phase_a_sent"] = rep.send_ok;
  run.metrics["phase_a_received"] = rep.received;
  ctx.say(rep.verdict());
}

void run_scenario_body(void (*body)(ScenarioContext&, gates::ScenarioRun&), ScenarioContext& ctx, gates::ScenarioRun& run) {
  try {
    body(ctx, run);
  } catch (const std::exception& e) {
    run.status = gates::RunStatus::errored;
    run.reason = e.what();
  }
  if (ctx.stop_requested() && run.status == gates::RunStatus::ran) {
    run.status = gates::RunStatus::errored;
    run.reason = "interrupted (faults reverted)";
  }
}

namespace detail {

double secs_since(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

std::vector<std::string> non_anchor_nodes(const ScenarioContext& ctx) {
  std::vector<std::string> out;
  for (auto& h : ctx.fleet.hosts)
    if (h.name != ctx.anchor) out.push_back(h.name);
  return out;
}

const std::vector<std::string>& role(const gates::ScenarioRun& run, const std::string& name, std::size_t at_least) {
  auto it = run.roles.find(name);
  if (it == run.roles.end() || it->second.size() < at_least)
    throw std::runtime_error(fmt::format("{}: no {} (its role was not set)", run.name, name));
  return it->second;
}

std::string machine_id_of(const ScenarioContext& ctx, const std::string& node) {
  auto f = fetch_json(api_of(ctx.apis, node), "/agent", ctx.opts.request_timeout);
  if (!f.fetched || !f.body.is_object()) return "";
  const json& b = f.body.contains("data") && f.body["data"].is_object() ? f.body["data"] : f.body;
  return b.value("machine_id", std::string());
}

bool same_peer(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  return a.rfind(b, 0) == 0 || b.rfind(a, 0) == 0;
}

std::vector<std::string> peer_ids_of(const ScenarioContext& ctx, const std::string& node) {
  std::vector<std::string> out;
  auto f = fetch_json(api_of(ctx.apis, node), "/peers", ctx.opts.request_timeout);
  if (!f.fetched || f.http_status != 200 || !f.body.is_object()) return out;
  for (auto& p : f.body.value("peers", json::array()))
    if (p.is_object()) out.push_back(p.value("id", std::string()));
  return out;
}

FaultGuard::~FaultGuard() {
  try {
    revert_all();
  } catch (...) {
  }
}

void FaultGuard::apply(orchestrator::FaultRequest req) {
  req.run_id = ctx_.run_id;
  req.scenario = run_.name;
  if (const auto* target = ctx_.fleet.find(req.target)) req.lease = orchestrator::heartbeat_lease(*target, req);
  auto window = run_.faults.size();
  gates::FaultWindow w;
  w.node = req.target;
  w.kind = req.kind;
  w.detail = req.kind == "delay" ? fmt::format("{} ms ± {} ms", req.delay_ms, req.jitter_ms)
             : req.kind == "loss" ? fmt::format("{:.0f}% loss", req.loss * 100)
             : req.peers.empty()  ? std::string()
                                  : "peers " + fmt::format("{}", fmt::join(req.peers, ","));
  w.start_unix = unix_now();
  run_.faults.push_back(w);
  ctx_.say(fmt::format("fault {} on {} (lease {} s, renewed until the revert)", req.kind, req.target, req.lease.count()));
  orchestrator::AppliedFault applied;
  try {
    applied = ctx_.faults.apply(req);  // throws after undoing a partial apply
  } catch (...) {
    run_.faults.pop_back();  // never applied: no window to draw
    throw;
  }
  run_.faults[window].start_unix = applied.applied_unix > 0 ? applied.applied_unix : w.start_unix;
  active_.push_back({std::move(applied), window, nullptr});  // first: reverted even if the heartbeat cannot start
  active_.back().heartbeat = std::make_unique<orchestrator::FaultHeartbeat>(ctx_.faults, active_.back().fault, req.lease);
}

bool FaultGuard::revert_all() {
  while (!active_.empty()) {
    auto a = std::move(active_.back());
    active_.pop_back();
    json renewals;
    if (a.heartbeat) {
      a.heartbeat->stop();  // no renewal may land after the revert
      renewals = a.heartbeat->summary();
    }
    json rec;
    try {
      rec = ctx_.faults.revert(a.fault);
    } catch (const std::exception& e) {
      rec = {{"id", a.fault.id}, {"host", a.fault.request.target}, {"clean", false}, {"error", e.what()}};
    }
    rec["lease_renewals"] = renewals;
    run_.faults[a.window].end_unix = unix_now();
    bool clean = rec.value("clean", false);
    all_clean_ = all_clean_ && clean;
    if (!run_.metrics.contains("cleanup")) run_.metrics["cleanup"] = json::array();
    run_.metrics["cleanup"].push_back(rec);
    ctx_.say(fmt::format("fault {} on {} reverted: {}", a.fault.request.kind, a.fault.request.target,
                         clean ? "clean" : "NOT CLEAN"));
  }
  run_.metrics["cleanup_ok"] = all_clean_;
  return all_clean_;
}

}  // namespace detail
}  // namespace x0x::harness
