// Faults on local hosts through the lean node's /lean/faults: the node holds
// each kind under its own lease and drops it by itself at expiry. A kind is
// removed on its own by POSTing its "off" value (delay 0, loss 0, partition
// [], stall/stale false), so reverting one fault leaves the others armed.
#include <algorithm>
#include <map>
#include <mutex>

#include "orchestrator/control/api_access.h"
#include "orchestrator/faults/fault_backend.h"
#include "probes/rest_client.h"

namespace x0x::orchestrator {

using nlohmann::json;

namespace {

// The /lean/faults "active" key a request kind occupies.
std::string slot_of(const std::string& kind) {
  if (kind == "delay" || kind == "slow") return "delay";
  if (kind == "stall") return "stall_dispatcher";
  return kind;  // loss, partition, stale
}

// A high-RTT link in the lean node: at most this many frames per round trip
// (QUIC's initial congestion window is 10 packets), so that traffic queues
// behind the delay and sends time out as they do behind tc netem.
constexpr int kHighRttWindowFrames = 10;

json off_body(const std::string& slot) {
  if (slot == "delay") return {{"delay_ms", 0}, {"jitter_ms", 0}};
  if (slot == "loss") return {{"loss", 0.0}};
  if (slot == "partition") return {{"partition", json::array()}};
  return {{slot, false}};  // stall_dispatcher, stale
}

class LeanApiBackend : public FaultBackend {
 public:
  LeanApiBackend(const Fleet& fleet, const FaultInjectorOptions& opts)
      : opts_(opts), hosts_(fleet.hosts), access_(make_api_access(fleet, {opts.accept_new_host_keys})) {}

  AppliedFault apply(const FaultRequest& req, const Host& target, const std::vector<const Host*>& peers,
                     const std::string& id) override {
    auto slot = slot_of(req.kind);
    json body = {{"lease_secs", req.lease.count()}};
    json ids = json::array();
    for (auto* p : peers) {
      auto agent = get(*p, "/agent");
      for (const char* k : {"machine_id", "agent_id"})
        if (agent.contains(k) && agent[k].is_string()) ids.push_back(agent[k]);
        else throw FaultError(p->name + ": GET /agent has no " + k + "; cannot name it in a fault");
    }
    if (req.kind == "delay") {
      body["delay_ms"] = req.delay_ms;
      body["jitter_ms"] = req.jitter_ms;
      body["window_frames"] = kHighRttWindowFrames;
    } else if (req.kind == "slow") {
      body["delay_ms"] = 300;
      body["jitter_ms"] = 50;
    } else if (req.kind == "loss") {
      body["loss"] = req.loss;
    } else if (req.kind == "partition") {
      body["partition"] = ids;
    } else {
      body[slot] = true;
    }
    if ((req.kind == "delay" || req.kind == "loss") && !ids.empty()) body["peers"] = ids;

    auto before = get(target, "/lean/faults");
    const auto& active = before.value("active", json::object());
    if (active.contains(slot))
      throw FaultError(target.name + ": a " + slot + " fault is already active (expires in " +
                       std::to_string(active[slot].value("expires_in_ms", 0) / 1000) +
                       " s); revert it or run `x0xctl chaos clear --hosts " + target.name + "` first");

    AppliedFault f;
    f.id = id;
    f.request = req;
    f.mechanism = "lean-api";
    f.before = before;
    f.revert_plan = {{"slot", slot}, {"off", off_body(slot)}};
    f.applied_unix = unix_now();
    f.expires_unix = f.applied_unix + static_cast<double>(req.lease.count());
    if (opts_.dry_run) {
      f.revert_plan["would_run"] = json::array({"POST " + target.api_addr + "/lean/faults " + body.dump()});
      return f;
    }
    auto r = client(target).post("/lean/faults", body.dump());
    if (!r.ok())
      throw FaultError(target.name + ": POST /lean/faults " + body.dump() + " → HTTP " + std::to_string(r.status) +
                       ": " + probes::detail::snippet(r.body));
    auto state = r.json();
    if (!state["active"].contains(slot)) {
      revert(f, target);
      throw FaultError(target.name + ": the node accepted the " + req.kind + " fault but does not show it active");
    }
    if (state["active"][slot].contains("expires_at_unix_ms"))
      f.expires_unix = state["active"][slot]["expires_at_unix_ms"].get<double>() / 1000.0;
    if (req.kind == "delay" && peers.empty()) delay_link_ends(f, req, target, body);
    return f;
  }

  json revert(const AppliedFault& f, const Host& target) override {
    json out = revert_one(f, target);
    // The other ends of a delayed node's links (delay_link_ends).
    for (auto& name : f.revert_plan.value("link_ends", json::array())) {
      const Host* h = find_host(name.get<std::string>());
      json end = h ? revert_one(f, *h) : json{{"host", name}, {"clean", false}, {"error", "not a host of the fleet"}};
      out["steps"].push_back({{"step", "link end " + name.get<std::string>()}, {"clean", end.value("clean", false)}});
      if (!end.value("clean", false)) {
        out["clean"] = false;
        if (end.contains("error")) out["error"] = end["error"];
      }
    }
    return out;
  }

  json revert_one(const AppliedFault& f, const Host& target) {
    json out = {{"id", f.id}, {"host", target.name}, {"before", f.before}, {"steps", json::array()}};
    auto slot = f.revert_plan.value("slot", slot_of(f.request.kind));
    auto off = f.revert_plan.value("off", off_body(slot));
    if (opts_.dry_run) {
      out["would_run"] = json::array({"POST " + target.api_addr + "/lean/faults " + off.dump()});
      out["clean"] = true;
      return out;
    }
    try {
      auto c = client(target);
      auto r = c.post("/lean/faults", off.dump());
      out["steps"].push_back({{"step", "POST /lean/faults " + off.dump()}, {"status", r.status}});
      auto after = c.get_json("/lean/faults");
      out["after"] = after;
      out["clean"] = !after.value("active", json::object()).contains(slot);
    } catch (const std::exception& e) {
      out["clean"] = false;
      out["error"] = target.name + ": " + e.what();
    }
    return out;
  }

  // The renewal form of POST /lean/faults: the node moves the expiry of the
  // kind only while it is still active, so a fault that was cleared or that
  // lapsed stays gone. The link ends of a delayed node are renewed with it.
  double renew(const AppliedFault& f, const Host& target, std::chrono::seconds lease) override {
    auto slot = f.revert_plan.value("slot", slot_of(f.request.kind));
    json body = {{"renew", json::array({slot})}, {"lease_secs", lease.count()}};
    double expires = renew_one(target, body, slot);
    for (auto& name : f.revert_plan.value("link_ends", json::array())) {
      const Host* h = find_host(name.get<std::string>());
      if (!h) throw FaultError(name.get<std::string>() + ": not a host of the fleet");
      expires = std::min(expires, renew_one(*h, body, slot));
    }
    return expires;
  }

  json status(const Host& h) override {
    json out = {{"host", h.name}, {"transport", "local"}, {"faults", json::array()}};
    try {
      auto state = client(h).get_json("/lean/faults");
      const auto active = state.value("active", json::object());  // named: items() must not outlive it
      for (auto& [kind, v] : active.items()) {
        json row = {{"kind", kind}, {"mechanism", "lean-api"}, {"detail", v}};
        if (v.contains("expires_at_unix_ms")) row["expires_unix"] = v["expires_at_unix_ms"].get<double>() / 1000.0;
        // A fault scoped to some peers (a link end of a delayed node, a
        // one-way loss) names them, so status says which links it is on.
        if (v.contains("peers") && v["peers"].is_array()) {
          json names = json::array();
          for (auto& id : v["peers"])
            if (id.is_string())
              if (auto name = host_of_id(id.get<std::string>()); !name.empty() && std::find(names.begin(), names.end(), name) == names.end())
                names.push_back(name);
          row["peers"] = names;
        }
        out["faults"].push_back(row);
      }
    } catch (const std::exception& e) {
      out["error"] = e.what();
    }
    return out;
  }

  json clear(const Host& h) override {
    json out = {{"host", h.name}, {"removed", json::array()}, {"clean", false}};
    try {
      auto c = client(h);
      auto before = c.get_json("/lean/faults");
      const auto active = before.value("active", json::object());
      for (auto& [kind, _] : active.items()) out["removed"].push_back("lean " + kind);
      if (opts_.dry_run) {
        out["would_run"] = json::array({"DELETE " + h.api_addr + "/lean/faults"});
        out["clean"] = out["removed"].empty();
        return out;
      }
      auto r = c.del("/lean/faults");
      if (!r.ok()) throw FaultError("DELETE /lean/faults → HTTP " + std::to_string(r.status));
      auto after = c.get_json("/lean/faults");
      out["clean"] = !after.value("any", true) && after.value("active", json::object()).empty();
    } catch (const std::exception& e) {
      out["error"] = h.name + ": " + e.what();
    }
    return out;
  }

 private:
  // A delay on a node is a high round-trip time on all of its links: as tc
  // netem on its interface delays the acks that clock its peers' sends, every
  // other local node's frames towards it take the same delay and window.
  // Applied after the target's own, reverted with it; a failure undoes all.
  void delay_link_ends(AppliedFault& f, const FaultRequest& req, const Host& target, const json& body) {
    json ids = json::array();
    auto agent = get(target, "/agent");
    for (const char* k : {"machine_id", "agent_id"})
      if (agent.contains(k) && agent[k].is_string()) ids.push_back(agent[k]);
    json ends = json::array();
    f.revert_plan["link_ends"] = ends;
    try {
      if (ids.size() != 2) throw FaultError(target.name + ": GET /agent has no machine_id/agent_id; cannot delay its links");
      json end_body = body;
      end_body["peers"] = ids;
      for (auto& h : hosts_) {
        if (h.name == target.name || h.transport != "local") continue;
        auto state = get(h, "/lean/faults");
        if (state.value("active", json::object()).contains("delay"))
          throw FaultError(h.name + ": a delay fault is already active; the link to " + target.name + " cannot be delayed");
        if (opts_.dry_run) continue;
        auto r = client(h).post("/lean/faults", end_body.dump());
        if (!r.ok())
          throw FaultError(h.name + ": POST /lean/faults " + end_body.dump() + " → HTTP " + std::to_string(r.status) + ": " +
                           probes::detail::snippet(r.body));
        ends.push_back(h.name);
        f.revert_plan["link_ends"] = ends;
      }
    } catch (...) {
      revert(f, target);
      throw;
    }
  }

  double renew_one(const Host& h, const json& body, const std::string& slot) {
    auto r = client(h).post("/lean/faults", body.dump());
    if (!r.ok())
      throw FaultError(h.name + ": POST /lean/faults " + body.dump() + " → HTTP " + std::to_string(r.status) + ": " +
                       probes::detail::snippet(r.body));
    auto active = r.json().value("active", json::object());
    if (!active.contains(slot) || !active[slot].contains("expires_at_unix_ms"))
      throw FaultError(h.name + ": the " + slot + " fault is no longer active; it is not renewed");
    return active[slot]["expires_at_unix_ms"].get<double>() / 1000.0;
  }

  // The local host whose machine or agent id this is ("" if none); the ids
  // are read once, on first use.
  std::string host_of_id(const std::string& id) {
    std::lock_guard lk(ids_mu_);
    if (!ids_read_) {
      ids_read_ = true;
      for (auto& h : hosts_) {
        if (h.transport != "local") continue;
        try {
          auto agent = client(h).get_json("/agent");
          for (const char* k : {"machine_id", "agent_id"})
            if (agent.contains(k) && agent[k].is_string()) host_of_id_[agent[k].get<std::string>()] = h.name;
        } catch (const std::exception&) {
          // An unreachable host's ids stay unnamed; its own status row says why.
        }
      }
    }
    auto it = host_of_id_.find(id);
    return it == host_of_id_.end() ? std::string() : it->second;
  }

  const Host* find_host(const std::string& name) const {
    for (auto& h : hosts_)
      if (h.name == name) return &h;
    return nullptr;
  }

  // A fresh client per call: the backend is used from several threads.
  probes::RestClient client(const Host& h) {
    if (h.transport == "local") return probes::RestClient("http://" + h.api_addr, read_token_file(h.token_path, h.name));
    std::lock_guard lk(mu_);
    auto ep = access_->open(h);
    return probes::RestClient(ep.base_url, ep.token);
  }
  json get(const Host& h, const std::string& path) {
    try {
      return client(h).get_json(path);
    } catch (const std::exception& e) {
      throw FaultError(h.name + ": " + e.what());
    }
  }

  FaultInjectorOptions opts_;
  std::vector<Host> hosts_;  // the fleet's, for the other ends of a delayed node's links
  std::mutex mu_;  // guards access_ (its tunnels are shared)
  std::unique_ptr<ApiAccess> access_;
  std::mutex ids_mu_;  // guards the id → host map status fills once
  bool ids_read_ = false;
  std::map<std::string, std::string> host_of_id_;
};

}  // namespace

std::unique_ptr<FaultBackend> make_lean_api_backend(const Fleet& fleet, const FaultInjectorOptions& opts) {
  return std::make_unique<LeanApiBackend>(fleet, opts);
}

}  // namespace x0x::orchestrator
