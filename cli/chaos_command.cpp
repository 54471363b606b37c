// `x0xctl chaos`: one fault (or a restart) on named hosts, held by a lease the
// host enforces by itself (the lean node's lease, or an on-host dead-man), so
// this command applies, prints what expires when, and exits. The lease is
// the fault's planned duration (--for): unlike a gate's faults, which are
// renewed by a heartbeat while the gate runs, there is no process left to
// renew it, and none is needed. `clear` removes whatever we may have left
// and verifies; `status` lists what is active (over SSH with the expiry the
// host holds now).
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/verb_support.h"
#include "core/utc_time.h"
#include "orchestrator/faults/chaos_policy.h"
#include "orchestrator/faults/fault_injector.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_fleet.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct ChaosOptions {
  std::string action, fleet, network, json_path, for_text, iface;
  std::vector<std::string> hosts, peers;
  std::optional<int> delay_ms, jitter_ms;
  std::optional<double> loss;
  bool dry_run = false, accept_new_host_keys = false;
};

const std::vector<std::string> kFaultKinds = {"delay", "loss", "partition", "stall", "stale", "slow"};

bool is_fault(const std::string& a) { return std::find(kFaultKinds.begin(), kFaultKinds.end(), a) != kFaultKinds.end(); }

std::string utc(double unix) { return format_utc(static_cast<std::time_t>(unix), "%Y-%m-%dT%H:%M:%SZ"); }

double now_unix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string expires_in(const json& row) {
  if (!row.contains("expires_unix") || !row["expires_unix"].is_number()) return "?";
  auto left = row["expires_unix"].get<double>() - now_unix();
  return left > 0 ? fmt::format("{:.0f} s", left) : "expired (dead-man due)";
}

std::string deadman_text(const json& dm) {
  if (!dm.is_object()) return "";
  if (dm.value("kind", "") == "sleeper") return fmt::format("dead-man sleeper pid {}", dm.value("pid", 0));
  if (dm.value("kind", "") == "systemd") return "dead-man timer " + dm.value("unit", std::string());
  return "";
}

void write_json(const std::string& path, const json& j) {
  if (path.empty()) return;
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

int run_faults(const orchestrator::Fleet& fleet, const ChaosOptions& o, orchestrator::FaultInjector& inj) {
  auto lease = parse_duration(o.for_text);
  std::vector<std::future<std::pair<std::optional<orchestrator::AppliedFault>, std::string>>> futs;
  auto run_id = "chaos-" + std::to_string(static_cast<long>(now_unix()));
  for (auto& h : o.hosts) {
    orchestrator::FaultRequest req;
    req.kind = o.action;
    req.target = h;
    req.peers = o.peers;
    req.delay_ms = o.delay_ms.value_or(o.action == "delay" ? 1500 : 0);
    req.jitter_ms = o.jitter_ms.value_or(o.action == "delay" ? 200 : 0);
    req.loss = o.loss.value_or(0);
    req.lease = std::chrono::seconds(*lease);
    req.run_id = run_id;
    futs.push_back(std::async(std::launch::async, [&inj, req] {
      try {
        return std::make_pair(std::optional(inj.apply(req)), std::string());
      } catch (const std::exception& e) {
        return std::make_pair(std::optional<orchestrator::AppliedFault>(), std::string(e.what()));
      }
    }));
  }
  std::vector<orchestrator::AppliedFault> applied;
  std::vector<std::string> errors;
  for (auto& f : futs) {
    auto [fault, err] = f.get();
    if (fault) applied.push_back(*fault);
    else errors.push_back(err);
  }
  json report = json::array();
  for (auto& f : applied) {
    report.push_back({{"id", f.id}, {"host", f.request.target}, {"kind", f.request.kind}, {"mechanism", f.mechanism},
                      {"applied_unix", f.applied_unix}, {"expires_unix", f.expires_unix}, {"plan", f.revert_plan}});
    if (o.dry_run) {
      fmt::print("[dry-run] {} on {} ({}) would run:\n", f.request.kind, f.request.target, f.mechanism);
      for (auto& c : f.revert_plan.value("would_run", json::array())) fmt::print("  {}\n", c.get<std::string>());
      continue;
    }
    auto scope = f.revert_plan.value("scope", std::string());
    auto dm = deadman_text(f.revert_plan.value("deadman", json()));
    fmt::print("applied {} on {} ({}{}), id {}: expires {} (in {:.0f} s){}\n", f.request.kind, f.request.target,
               f.mechanism, scope.empty() ? "" : ", " + scope, f.id, utc(f.expires_unix), f.expires_unix - now_unix(),
               dm.empty() ? ", the node's own lease" : ", " + dm);
  }
  for (auto& e : errors) fmt::print(stderr, "x0xctl chaos: {}\n", e);
  if (!errors.empty() && !applied.empty() && !o.dry_run) {
    // All or nothing: a half-applied chaos run misleads whoever reads the results.
    fmt::print(stderr, "x0xctl chaos: reverting the {} host(s) where {} was applied\n", applied.size(), o.action);
    for (auto& f : applied) {
      auto r = inj.revert(f);
      fmt::print(stderr, "  {}: {}\n", f.request.target, r.value("clean", false) ? "reverted, clean" : "NOT clean: " + r.dump());
    }
  }
  write_json(o.json_path, report);
  return errors.empty() ? kExitPass : kExitFail;
}

int run_restart(const ChaosOptions& o, orchestrator::FaultInjector& inj) {
  int rc = kExitPass;
  for (auto& h : o.hosts) {
    try {
      auto t = inj.restart(h);
      fmt::print("{}restart of {} issued at {}\n", o.dry_run ? "[dry-run] " : "", h, utc(t));
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl chaos: {}\n", e.what());
      rc = kExitFail;
    }
  }
  return rc;
}

int run_clear(const ChaosOptions& o, orchestrator::FaultInjector& inj) {
  auto res = inj.clear(o.hosts);
  int dirty = 0;
  for (auto& h : res) {
    bool clean = h.value("clean", false);
    dirty += !clean;
    fmt::print("{:<14} {}\n", h.value("host", std::string("?")),
               o.dry_run ? "[dry-run]" : clean ? "clean" : "NOT clean");
    for (auto& r : h.value("removed", json::array())) fmt::print("  {} {}\n", o.dry_run ? "would remove" : "removed", r.get<std::string>());
    for (auto& l : h.value("left", json::array())) fmt::print("  left: {}\n", l.get<std::string>());
    for (auto& n : h.value("notes", json::array())) fmt::print("  note: {}\n", n.get<std::string>());
    for (auto& e : h.value("errors", json::array())) fmt::print("  error: {}\n", e.get<std::string>());
    if (h.contains("error")) fmt::print("  error: {}\n", h["error"].get<std::string>());
    if (o.dry_run)
      for (auto& c : h.value("would_run", json::array())) fmt::print("  would run: {}\n", c.get<std::string>());
  }
  write_json(o.json_path, res);
  if (o.dry_run) return kExitPass;
  fmt::print("\n{} host(s), {} not clean\n", res.size(), dirty);
  return dirty ? kExitFail : kExitPass;
}

int run_status(const ChaosOptions& o, orchestrator::FaultInjector& inj) {
  auto res = inj.status(o.hosts);
  int errors = 0, active = 0;
  fmt::print("{:<14} {:<10} {:<10} {}\n", "host", "kind", "mechanism", "expires in");
  for (auto& h : res) {
    auto host = h.value("host", std::string("?"));
    if (h.contains("error")) {
      ++errors;
      fmt::print("{:<14} {:<10} {:<10} {}\n", host, "?", "?", "unreachable: " + h["error"].get<std::string>());
      continue;
    }
    for (auto& f : h.value("faults", json::array())) {
      ++active;
      std::string scope;
      if (f.contains("peers") && !f["peers"].empty()) {
        std::vector<std::string> names;
        for (auto& p : f["peers"]) names.push_back(p.get<std::string>());
        scope = fmt::format("  (links to {})", fmt::join(names, ", "));
      }
      fmt::print("{:<14} {:<10} {:<10} {}{}\n", host, f.value("kind", "?"), f.value("mechanism", "?"), expires_in(f), scope);
    }
    // Live leftovers that no marker explains are shown too.
    for (auto& r : h.value("rules", json::array())) {
      ++active;
      fmt::print("{:<14} {:<10} {:<10} {}\n", host, "rule", "iptables", r.get<std::string>());
    }
    for (auto& q : h.value("netem", json::array())) {
      ++active;
      fmt::print("{:<14} {:<10} {:<10} {}\n", host, "qdisc", "tc", q.get<std::string>());
    }
  }
  fmt::print("\n{} host(s), {} active item(s){}\n", res.size(), active,
             errors ? fmt::format(", {} host(s) unreachable", errors) : "");
  write_json(o.json_path, res);
  return errors ? kExitFail : kExitPass;
}

int run_chaos(const ChaosOptions& o) {
  fs::path path = o.fleet.empty() ? fs::path("fleet.toml") : fs::path(o.fleet);
  if (o.fleet.empty() && !fs::exists(path)) {
    fmt::print(stderr, "x0xctl chaos: no --fleet given and no ./fleet.toml here\n");
    return kExitUsage;
  }
  orchestrator::Fleet fleet;
  try {
    fleet = orchestrator::load_fleet(path, o.network);
  } catch (const orchestrator::InventoryError& e) {
    fmt::print(stderr, "x0xctl chaos: invalid inventory:\n{}\n", e.what());
    return kExitUsage;
  }
  for (auto& h : o.hosts)
    if (!fleet.find(h)) {
      fmt::print(stderr, "x0xctl chaos: --hosts {}: not a host of {}\n", h, path.string());
      return kExitUsage;
    }
  for (auto& p : o.peers)
    if (!fleet.find(p)) {
      fmt::print(stderr, "x0xctl chaos: --peers {}: not a host of {}\n", p, path.string());
      return kExitUsage;
    }
  bool mutating = is_fault(o.action) || o.action == "restart";
  if (mutating) {
    if (o.hosts.empty()) {
      fmt::print(stderr, "x0xctl chaos {}: --hosts is required (targets are always named explicitly)\n", o.action);
      return kExitUsage;
    }
    if (auto why = orchestrator::chaos_refusal(fleet, o.action); !why.empty()) {
      fmt::print(stderr, "x0xctl chaos: {}\n", why);
      return kExitUsage;
    }
    for (auto& h : o.hosts)
      if (h == fleet.anchor) {
        fmt::print(stderr, "x0xctl chaos: {} is the anchor; it is never a fault target\n", h);
        return kExitUsage;
      }
  }
  if (is_fault(o.action)) {
    if (o.for_text.empty() || !parse_duration(o.for_text)) {
      fmt::print(stderr, "x0xctl chaos {}: --for is required (e.g. 60s, 5m): the lease is what guarantees the revert\n",
                 o.action);
      return kExitUsage;
    }
    if (o.action == "loss" && !o.loss) {
      fmt::print(stderr, "x0xctl chaos loss: --loss is required (a ratio, e.g. 0.2)\n");
      return kExitUsage;
    }
    if (o.action == "partition" && o.peers.empty()) {
      fmt::print(stderr, "x0xctl chaos partition: --peers is required (the hosts to cut the targets off from)\n");
      return kExitUsage;
    }
  }
  orchestrator::FaultInjectorOptions fo;
  fo.accept_new_host_keys = o.accept_new_host_keys;
  fo.dry_run = o.dry_run;
  fo.restart_local = orchestrator::local_fleet_restarter(path);  // a `local up` fleet
  if (!o.iface.empty())
    for (auto& h : o.hosts) fo.interfaces[h] = o.iface;
  auto inj = orchestrator::make_fault_injector(fleet, fo);
  try {
    if (is_fault(o.action)) return run_faults(fleet, o, *inj);
    if (o.action == "restart") return run_restart(o, *inj);
    if (o.action == "clear") return run_clear(o, *inj);
    return run_status(o, *inj);
  } catch (const orchestrator::FaultError& e) {
    fmt::print(stderr, "x0xctl chaos: {}\n", e.what());
    return kExitUsage;
  }
}

}  // namespace

void register_chaos(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ChaosOptions>();
  auto* sub = app.add_subcommand("chaos", "Inject a fault under a lease, restart nodes, clear or list faults");
  std::vector<std::string> actions = kFaultKinds;
  for (auto* a : {"restart", "clear", "status"}) actions.push_back(a);
  sub->add_option("action", o->action, "delay|loss|partition|stall|stale|slow|restart|clear|status")
      ->required()
      ->check(CLI::IsMember(actions));
  sub->add_option("--fleet", o->fleet, "inventory (default ./fleet.toml)");
  sub->add_option("--network", o->network, "the [network.NAME] to act on (default: the inventory's)");
  sub->add_option("--hosts", o->hosts, "target hosts (clear/status: default all)")->delimiter(',');
  sub->add_option("--peers", o->peers, "the other side: partition from them; delay/loss only towards them (lean nodes)")
      ->delimiter(',');
  sub->add_option("--delay-ms", o->delay_ms, "delay: added delay (default 1500)");
  sub->add_option("--jitter-ms", o->jitter_ms, "delay: jitter (default 200)");
  sub->add_option("--loss", o->loss, "loss: ratio 0..1");
  sub->add_option("--for", o->for_text, "lease, e.g. 60s, 5m (required for faults): the host reverts by itself then");
  sub->add_option("--iface", o->iface, "SSH hosts: the interface for tc (default: from `ip route get`)");
  sub->add_option("--json", o->json_path, "write what was applied / found to this file");
  sub->add_flag("--dry-run", o->dry_run, "print the commands and requests it would run; change nothing");
  sub->add_flag("--accept-new-host-keys", o->accept_new_host_keys, "record unknown SSH host keys (a changed key is refused)");
  sub->callback([o, &exit_code] {
    try {
      exit_code = run_chaos(*o);
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl chaos: {}\n", e.what());
      exit_code = kExitFail;
    }
  });
}

}  // namespace x0x::cli
