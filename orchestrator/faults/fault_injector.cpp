// make_fault_injector: validates a request (kind, hosts, anchor, lease, the
// kind's parameters), names the fault, and hands it to the backend of the
// target's transport. status/clear run on all the hosts at once.
#include "orchestrator/faults/fault_injector.h"

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <set>

#include "core/encoding.h"
#include "core/utc_time.h"
#include "orchestrator/faults/chaos_policy.h"
#include "orchestrator/faults/fault_backend.h"
#include "orchestrator/faults/fault_commands.h"
#include "orchestrator/control/remote.h"
#include "orchestrator/lifecycle/service_manager.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/control/ssh_remote.h"

namespace x0x::orchestrator {

using nlohmann::json;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

const std::set<std::string> kKinds = {"delay", "loss", "partition", "stall", "stale", "slow"};

class Injector : public FaultInjector {
 public:
  Injector(const Fleet& fleet, FaultInjectorOptions opts)
      : fleet_(fleet), opts_(std::move(opts)), lean_(make_lean_api_backend(fleet_, opts_)),
        ssh_(make_ssh_backend(fleet_, opts_)) {}

  AppliedFault apply(const FaultRequest& req) override {
    const Host& target = host(req.target, "target");
    validate(req, target);
    std::vector<const Host*> peers;
    for (auto& p : req.peers) peers.push_back(&host(p, "peer"));
    auto run = req.run_id.empty() ? default_run_id() : req.run_id;
    auto id = safe_id(run + "-" + target.name + "-" + req.kind);
    try {
      return backend(target).apply(req, target, peers, id);
    } catch (const FaultError&) {
      throw;
    } catch (const std::exception& e) {
      throw FaultError(target.name + ": " + req.kind + ": " + e.what());
    }
  }

  json revert(const AppliedFault& fault) override {
    const Host* target = fleet_.find(fault.request.target);
    if (!target) return {{"id", fault.id}, {"clean", false}, {"error", "unknown host " + fault.request.target}};
    return backend(*target).revert(fault, *target);
  }

  double renew(const AppliedFault& fault, std::chrono::seconds lease) override {
    const Host& target = host(fault.request.target, "target");
    if (lease.count() < 1) throw FaultError(target.name + ": the lease must be at least 1 s");
    if (opts_.dry_run) return unix_now() + static_cast<double>(lease.count());
    try {
      return backend(target).renew(fault, target, lease);
    } catch (const FaultError&) {
      throw;
    } catch (const std::exception& e) {
      throw FaultError(target.name + ": renewing the " + fault.request.kind + " lease: " + e.what());
    }
  }

  json status(const std::vector<std::string>& hosts) override {
    return each(hosts, false, [this](const Host& h) { return backend(h).status(h); });
  }

  json clear(const std::vector<std::string>& hosts) override {
    // Hosts on one machine share its firewall and qdiscs: cleared one after another.
    return each(hosts, true, [this](const Host& h) { return backend(h).clear(h); });
  }

  double restart(const std::string& name, const std::string& scenario) override {
    const Host& h = host(name, "restart target");
    if (h.name == fleet_.anchor) throw FaultError(h.name + " is the anchor; it is never a fault target");
    if (auto why = chaos_refusal(fleet_, "restart", scenario); !why.empty()) throw FaultError(why);
    if (h.transport == "local") {
      if (!opts_.restart_local)
        throw FaultError(h.name + ": a local host is restarted by the process that supervises it; none was given");
      auto t = unix_now();
      if (!opts_.dry_run) opts_.restart_local(h.name);
      return t;
    }
    auto layout = HostLayout::for_host(h);
    auto sm = make_service_manager(h, layout);
    auto t = unix_now();
    if (opts_.dry_run) return t;
    try {
      auto conn = ssh_connect(ssh_target_of(h, opts_.accept_new_host_keys));
      t = unix_now();
      sm->restart(*conn, Service::node);
    } catch (const std::exception& e) {
      throw FaultError(h.name + ": restart of " + sm->unit(Service::node) + " failed: " + e.what());
    }
    return t;
  }

 private:
  const Host& host(const std::string& name, const char* role) const {
    const Host* h = fleet_.find(name);
    if (!h) throw FaultError(fmt::format("{} \"{}\" is not a host of the fleet", role, name));
    return *h;
  }

  void validate(const FaultRequest& req, const Host& target) const {
    if (!kKinds.count(req.kind))
      throw FaultError("unknown fault kind \"" + req.kind + "\" (delay, loss, partition, stall, stale, slow)");
    if (target.name == fleet_.anchor)
      throw FaultError(target.name + " is the anchor; it is never a fault target");
    if (auto why = chaos_refusal(fleet_, req.kind, req.scenario); !why.empty()) throw FaultError(why);
    if (req.lease.count() < 1) throw FaultError(target.name + ": the lease must be at least 1 s");
    std::set<std::string> seen;
    for (auto& p : req.peers) {
      if (p == target.name) throw FaultError(target.name + ": a host cannot be its own peer");
      if (!seen.insert(p).second) throw FaultError(target.name + ": peer " + p + " named twice");
    }
    if (req.kind == "partition" && req.peers.empty())
      throw FaultError(target.name + ": a partition needs the peers to cut off");
    if (req.kind == "delay" && (req.delay_ms <= 0 || req.jitter_ms < 0 || req.delay_ms > 600000 || req.jitter_ms > 600000))
      throw FaultError(target.name + ": delay needs delay_ms in 1..600000 and jitter_ms in 0..600000");
    if (req.kind == "loss" && !(req.loss > 0.0 && req.loss <= 1.0))
      throw FaultError(target.name + ": loss needs a ratio in (0, 1]");
  }

  FaultBackend& backend(const Host& h) { return h.transport == "local" ? *lean_ : *ssh_; }

  // One thread per host, or per machine (address) when serial_per_machine;
  // each thread has its own connections. Results in the order asked.
  json each(const std::vector<std::string>& names, bool serial_per_machine, const std::function<json(const Host&)>& fn) {
    std::vector<const Host*> hosts;
    if (names.empty())
      for (auto& h : fleet_.hosts) hosts.push_back(&h);
    else
      for (auto& n : names) hosts.push_back(&host(n, "host"));
    std::vector<std::vector<std::size_t>> groups;
    std::map<std::string, std::size_t> group_of;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      auto key = serial_per_machine ? hosts[i]->address : hosts[i]->name + "#" + std::to_string(i);
      auto [it, fresh] = group_of.emplace(key, groups.size());
      if (fresh) groups.emplace_back();
      groups[it->second].push_back(i);
    }
    std::vector<json> results(hosts.size());
    std::vector<std::future<void>> futs;
    for (auto& g : groups)
      futs.push_back(std::async(std::launch::async, [&, g] {
        for (auto i : g) {
          try {
            results[i] = fn(*hosts[i]);
          } catch (const std::exception& e) {
            results[i] = json{{"host", hosts[i]->name}, {"clean", false}, {"error", e.what()}};
          }
        }
      }));
    for (auto& f : futs) f.get();
    return json(results);
  }

  static std::string default_run_id() {
    return format_utc(std::time(nullptr), "%Y%m%dT%H%M%SZ") + "-" + random_hex(2);
  }

  Fleet fleet_;
  FaultInjectorOptions opts_;
  std::unique_ptr<FaultBackend> lean_, ssh_;
};

}  // namespace

std::unique_ptr<FaultInjector> make_fault_injector(const Fleet& fleet, FaultInjectorOptions opts) {
  return std::make_unique<Injector>(fleet, std::move(opts));
}

}  // namespace x0x::orchestrator
