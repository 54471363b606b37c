// Faults on SSH hosts: tc netem/tbf, iptables/ip6tables, SIGSTOP. Order per
// fault: read the state to restore → write undo script + marker + expiry and
// arm the dead-man (one command) → apply (one command) → on failure undo at
// once. Renew: rewrite the expiry file the dead-man watches. Revert: undo →
// cancel the dead-man → remove the marker files → read the state again and
// compare with the recorded one.
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "core/socket_addr.h"
#include "core/text.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/faults/fault_backend.h"
#include "orchestrator/faults/fault_commands.h"
#include "orchestrator/lifecycle/service_manager.h"
#include "orchestrator/control/ssh_remote.h"

namespace x0x::orchestrator {

using nlohmann::json;

namespace {


// Lines with trailing blanks dropped: `tc qdisc show` ends lines with a space.
std::string normalized(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string l; std::getline(in, l);) {
    l = trim_end(l);
    if (!l.empty()) out += l + "\n";
  }
  return out;
}

std::set<std::string> line_set(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!trim_end(l).empty()) out.insert(trim_end(l));
  return out;
}

std::string marker_dir_of(const Host& h) {
  return h.install_root.empty() ? std::string("/run/x0xctl") : h.install_root + "/run/chaos";
}

int gossip_port_of(const Host& h) {
  auto a = parse_socket_addr(h.gossip_addr);
  if (!a || a->port == 0)
    throw FaultError(h.name + ": gossip_addr \"" + h.gossip_addr + "\" has no port; a partition needs the gossip port");
  return a->port;
}

std::string script_of(const std::vector<std::string>& cmds, bool stop_on_error) {
  std::string s = stop_on_error ? "set -e\n" : "";
  for (auto& c : cmds) s += c + "\n";
  return s;
}

// A connection lent to one thread at a time; returned to the pool when done
// unless it failed (a broken session is dropped).
class Pool {
 public:
  explicit Pool(bool accept_new) : accept_new_(accept_new) {}
  class Lease {
   public:
    Lease(Pool& p, std::string host, std::unique_ptr<RemoteHost> r) : pool_(p), host_(std::move(host)), r_(std::move(r)) {}
    ~Lease() {
      if (r_ && !broken_) pool_.give_back(host_, std::move(r_));
    }
    RemoteHost& operator*() { return *r_; }
    RemoteHost* operator->() { return r_.get(); }
    void broken() { broken_ = true; }

   private:
    Pool& pool_;
    std::string host_;
    std::unique_ptr<RemoteHost> r_;
    bool broken_ = false;
  };
  Lease take(const Host& h) {
    {
      std::lock_guard lk(mu_);
      auto& idle = idle_[h.name];
      if (!idle.empty()) {
        auto r = std::move(idle.back());
        idle.pop_back();
        return Lease(*this, h.name, std::move(r));
      }
    }
    return Lease(*this, h.name, ssh_connect(ssh_target_of(h, accept_new_)));
  }

 private:
  void give_back(const std::string& host, std::unique_ptr<RemoteHost> r) {
    std::lock_guard lk(mu_);
    idle_[host].push_back(std::move(r));
  }
  bool accept_new_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<RemoteHost>>> idle_;
};

class SshBackend : public FaultBackend {
 public:
  SshBackend(const Fleet&, const FaultInjectorOptions& opts) : opts_(opts), pool_(opts.accept_new_host_keys) {}

  AppliedFault apply(const FaultRequest& req, const Host& target, const std::vector<const Host*>& peers,
                     const std::string& id) override {
    if (req.kind == "stall")
      throw FaultError(target.name + ": stall is not available over SSH (a dispatcher cannot be stalled from "
                                     "outside the node); use stale (SIGSTOP) instead");
    auto conn = take(target);
    auto paths = MarkerPaths::for_fault(marker_dir_of(target), id);
    json before = json::object();
    std::vector<std::string> apply_cmds, undo;
    std::string mechanism;
    json plan = {{"marker", paths.marker}, {"undo_script", paths.undo_script}, {"expiry_file", paths.expiry},
                 {"marker_dir", paths.dir}};

    if (req.kind == "delay" || req.kind == "loss" || req.kind == "slow") {
      auto iface = interface_of(*conn, target, peers);
      auto show = run(*conn, target, "read the qdisc of " + iface, qdisc_show_command(iface));
      before["qdisc"] = show.out;
      std::string restore;
      try {
        restore = qdisc_restore_command(iface, show.out);
      } catch (const FaultError& e) {
        throw FaultError(target.name + ": " + e.what());
      }
      if (req.kind == "delay") apply_cmds.push_back(netem_delay_command(iface, req.delay_ms, req.jitter_ms));
      if (req.kind == "loss") apply_cmds.push_back(netem_loss_command(iface, req.loss));
      if (req.kind == "slow") apply_cmds.push_back(tbf_slow_command(iface));
      undo.push_back(restore);
      mechanism = req.kind == "slow" ? "tc tbf" : "tc netem";
      plan["interface"] = iface;
      plan["scope"] = "all egress on " + iface;
    } else if (req.kind == "partition") {
      int my_port = gossip_port_of(target);
      json rules = json::array();
      for (auto* p : peers)
        for (auto& addr : addresses_of(*p))  // IPv4 and IPv6: one family must not survive the "partition"
          for (auto& r : partition_rules(addr, gossip_port_of(*p), my_port, opts_.partition_protocols)) {
            apply_cmds.push_back(rule_insert_command(r));
            undo.push_back(rule_delete_command(r));
            rules.push_back({{"tool", r.tool}, {"spec", r.spec}});
          }
      before["rules"] = run(*conn, target, "list our firewall rules", our_rules_command()).out;
      mechanism = "iptables";
      plan["rules"] = rules;
    } else if (req.kind == "stale") {
      int pid = node_pid(*conn, target);
      auto state = trim_end(run(*conn, target, "read the node's process state", process_state_command(pid)).out);
      if (state.empty()) throw FaultError(target.name + ": node pid " + std::to_string(pid) + " is not running");
      if (state == "T" || state == "t") throw FaultError(target.name + ": the node (pid " + std::to_string(pid) + ") is already stopped");
      before["process_state"] = state;
      apply_cmds.push_back("kill -STOP " + std::to_string(pid));
      undo.push_back("kill -CONT " + std::to_string(pid) + " 2>/dev/null || true");
      mechanism = "sigstop";
      plan["pid"] = pid;
    } else {
      throw FaultError("unknown fault kind \"" + req.kind + "\"");
    }

    AppliedFault f;
    f.id = id;
    f.request = req;
    f.mechanism = mechanism;
    f.before = before;
    f.applied_unix = unix_now();
    f.expires_unix = f.applied_unix + static_cast<double>(req.lease.count());
    json marker = {{"tool", "x0xctl"}, {"id", id}, {"kind", req.kind}, {"host", target.name}, {"mechanism", mechanism},
                   {"applied_unix", f.applied_unix}, {"expires_unix", f.expires_unix}, {"lease_secs", req.lease.count()},
                   {"undo", undo}, {"undo_script", paths.undo_script}, {"before", before}, {"plan", plan}};
    auto arm = arm_script(paths, id, marker, undo, static_cast<long>(req.lease.count()));
    plan["undo"] = undo;
    plan["apply"] = apply_cmds;
    f.revert_plan = plan;
    if (opts_.dry_run) {
      json would = json::array({"sh -s <<'EOF'\n" + arm + "EOF"});
      for (auto& c : apply_cmds) would.push_back(c);
      f.revert_plan["would_run"] = would;
      return f;
    }

    // The dead-man first: from here on the host reverts by itself.
    auto armed = run(*conn, target, "arm the dead-man", "sh -s", arm);
    json deadman;
    for (auto& l : lines_of(armed.out))
      if (l.rfind("deadman ", 0) == 0) deadman = json::parse(l.substr(8), nullptr, false);
    if (!deadman.is_object()) {
      undo_now(conn, target, f);
      throw FaultError(target.name + ": arming the dead-man printed no record: " + one_line(armed.out + armed.err));
    }
    f.revert_plan["deadman"] = deadman;

    ExecResult r;
    std::string failure;
    try {
      r = conn->exec("sh -s", opts_.command_timeout + delay_allowance(req), script_of(apply_cmds, true));
      if (r.exit_code != 0) failure = fmt::format("exit {}: {}", r.exit_code, one_line(r.err + " " + r.out));
    } catch (const RemoteError& e) {
      conn.broken();
      failure = e.what();
    }
    if (!failure.empty()) {
      auto rev = revert(f, target);
      throw FaultError(fmt::format("{}: applying {} failed ({}); reverted: {}", target.name, req.kind, failure,
                                   rev.value("clean", false) ? "clean" : "NOT clean, the dead-man fires at expiry"));
    }
    return f;
  }

  json revert(const AppliedFault& f, const Host& target) override {
    json out = {{"id", f.id}, {"host", target.name}, {"before", f.before}, {"steps", json::array()}};
    const auto& plan = f.revert_plan;
    auto paths = MarkerPaths::for_fault(plan.value("marker_dir", marker_dir_of(target)), f.id);
    std::vector<std::string> undo = plan.value("undo", std::vector<std::string>{});
    std::vector<std::pair<std::string, std::string>> steps = {
        {"undo", script_of(undo, false)},
        {"cancel dead-man", cancel_deadman_command(plan.value("deadman", json()), paths)},
        {"remove marker", remove_marker_files_command(paths)}};
    if (opts_.dry_run) {
      out["would_run"] = json::array();
      for (auto& [_, cmd] : steps) out["would_run"].push_back(cmd);
      out["clean"] = true;
      return out;
    }
    try {
      auto conn = take(target);
      for (auto& [what, cmd] : steps) {
        auto r = conn->exec("sh -s", opts_.command_timeout + delay_allowance(f.request), cmd);
        out["steps"].push_back({{"step", what}, {"exit", r.exit_code}, {"out", one_line(r.out)}, {"err", one_line(r.err)}});
      }
      auto after = read_state(*conn, target, f);
      out["after"] = after;
      out["clean"] = same_state(f, after, *conn);
    } catch (const std::exception& e) {
      out["clean"] = false;
      out["error"] = target.name + ": " + e.what();
    }
    return out;
  }

  double renew(const AppliedFault& f, const Host& target, std::chrono::seconds lease) override {
    auto paths = MarkerPaths::for_fault(f.revert_plan.value("marker_dir", marker_dir_of(target)), f.id);
    auto conn = take(target);
    ExecResult r;
    try {
      r = conn->exec(renew_expiry_command(paths, static_cast<long>(lease.count())),
                     opts_.command_timeout + delay_allowance(f.request));
    } catch (const RemoteError& e) {
      conn.broken();
      throw FaultError(target.name + ": renewing the " + f.request.kind + " lease: " + e.what());
    }
    auto expires = parse_renewed_expiry(r.out);
    if (r.exit_code != 0 || !expires)
      throw FaultError(fmt::format("{}: renewing the {} lease failed (exit {}): {}", target.name, f.request.kind,
                                   r.exit_code, one_line(r.err.empty() ? r.out : r.err)));
    return *expires;
  }

  json status(const Host& h) override {
    json out = {{"host", h.name}, {"transport", "ssh"}, {"faults", json::array()}};
    try {
      auto conn = take(h);
      for (auto& m : markers(*conn, h)) {
        json row = {{"id", m.value("id", "?")}, {"kind", m.value("kind", "?")}, {"mechanism", m.value("mechanism", "?")},
                    {"deadman", m.value("deadman", json())}};
        if (m.contains("expires_unix")) row["expires_unix"] = m["expires_unix"];
        out["faults"].push_back(row);
      }
      out["rules"] = lines_of(run(*conn, h, "list our firewall rules", our_rules_command()).out);
      out["netem"] = netem_lines(*conn, h);
    } catch (const std::exception& e) {
      out["error"] = e.what();
    }
    return out;
  }

  json clear(const Host& h) override {
    json out = {{"host", h.name}, {"removed", json::array()}, {"clean", false}};
    try {
      auto conn = take(h);
      auto ms = markers(*conn, h);
      std::vector<std::string> would;
      std::vector<int> stopped_pids;
      for (auto& m : ms) {
        auto id = m.value("id", std::string("?"));
        auto paths = MarkerPaths::for_fault(marker_dir_of(h), safe_id(id));
        std::vector<std::string> undo;
        if (m.contains("undo") && m["undo"].is_array())
          for (auto& u : m["undo"])
            if (u.is_string()) undo.push_back(u.get<std::string>());
        if (m.contains("plan") && m["plan"].contains("pid") && m["plan"]["pid"].is_number_integer())
          stopped_pids.push_back(m["plan"]["pid"].get<int>());
        auto script = script_of(undo, false) + cancel_deadman_command(m.value("deadman", json()), paths) + "\n" +
                      remove_marker_files_command(paths) + "\n";
        if (opts_.dry_run) {
          would.push_back(script);
        } else {
          auto r = conn->exec("sh -s", opts_.command_timeout, script);
          if (r.exit_code != 0) out["errors"].push_back(id + ": exit " + std::to_string(r.exit_code) + ": " + one_line(r.err));
        }
        out["removed"].push_back("marker " + id + " (" + m.value("kind", "?") + ")");
      }
      if (opts_.dry_run) {
        would.push_back(remove_all_our_rules_command());
        for (auto& l : lines_of(run(*conn, h, "list our firewall rules", our_rules_command()).out))
          out["removed"].push_back("rule " + l);
        out["would_run"] = would;
        out["clean"] = out["removed"].empty();
        return out;
      }
      for (auto& l : lines_of(run(*conn, h, "remove our firewall rules", remove_all_our_rules_command()).out))
        out["removed"].push_back(l);

      // Verify: no marker, no rule with our comment, no netem root, no node left stopped.
      json left = json::array();
      for (auto& m : markers(*conn, h)) left.push_back("marker " + m.value("id", std::string("?")));
      for (auto& l : lines_of(run(*conn, h, "list our firewall rules", our_rules_command()).out)) left.push_back("rule " + l);
      // A netem no marker of this host recorded may belong to another host on
      // the same machine, or to someone else: reported, never removed.
      for (auto& l : netem_lines(*conn, h)) out["notes"].push_back("qdisc " + l.get<std::string>() + " (no marker of this host recorded it: left alone)");
      for (int pid : stopped_pids) {
        auto st = trim_end(run(*conn, h, "read a process state", process_state_command(pid)).out);
        if (st == "T" || st == "t") left.push_back("process " + std::to_string(pid) + " still stopped");
      }
      out["left"] = left;
      out["clean"] = left.empty() && !out.contains("errors");
    } catch (const std::exception& e) {
      out["error"] = h.name + ": " + e.what();
    }
    return out;
  }

 private:
  Pool::Lease take(const Host& h) {
    try {
      return pool_.take(h);
    } catch (const RemoteError& e) {
      throw FaultError(e.what());
    }
  }

  static std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
      if (!trim_end(l).empty()) out.push_back(trim_end(l));
    return out;
  }

  // A delay we applied slows every round trip of this session too.
  static std::chrono::milliseconds delay_allowance(const FaultRequest& r) {
    return std::chrono::milliseconds(20 * (r.delay_ms + 2 * r.jitter_ms) + (r.kind == "slow" ? 20000 : 0));
  }

  ExecResult run(RemoteHost& conn, const Host& h, const std::string& what, const std::string& cmd,
                 std::string_view stdin_data = {}) {
    ExecResult r;
    try {
      r = conn.exec(cmd, opts_.command_timeout, stdin_data);
    } catch (const RemoteError& e) {
      throw FaultError(h.name + ": " + what + ": " + e.what());
    }
    if (r.exit_code != 0)
      throw FaultError(fmt::format("{}: {} failed (exit {}): {}", h.name, what, r.exit_code,
                                   one_line(r.err.empty() ? r.out : r.err)));
    return r;
  }

  std::string interface_of(RemoteHost& conn, const Host& target, const std::vector<const Host*>& peers) {
    if (auto it = opts_.interfaces.find(target.name); it != opts_.interfaces.end()) return it->second;
    std::string towards = peers.empty() ? "1.1.1.1" : peers.front()->address;
    auto r = run(conn, target, "find the egress interface", iface_probe_command(towards));
    auto dev = parse_route_dev(r.out);
    if (dev.empty()) throw FaultError(target.name + ": `ip route get " + towards + "` names no interface: " + one_line(r.out));
    return dev;
  }

  int node_pid(RemoteHost& conn, const Host& h) {
    std::string cmd;
    if (h.service_manager == "supervisor")
      cmd = "cat " + shell_quote(HostLayout::for_host(h).run_dir + "/node.pid");
    else
      cmd = "systemctl show -p MainPID --value " + shell_quote(systemd_unit_name(h, Service::node));
    auto out = trim_end(run(conn, h, "find the node's pid", cmd).out);
    int pid = 0;
    try {
      pid = std::stoi(out);
    } catch (...) {
    }
    if (pid <= 1) throw FaultError(h.name + ": no running node pid (`" + cmd + "` printed \"" + one_line(out) + "\")");
    return pid;
  }

  std::vector<json> markers(RemoteHost& conn, const Host& h) {
    return parse_marker_listing(run(conn, h, "list chaos markers", list_markers_command(marker_dir_of(h))).out);
  }

  json netem_lines(RemoteHost& conn, const Host& h) {
    json out = json::array();
    for (auto& l : lines_of(run(conn, h, "list qdiscs", "tc qdisc show 2>/dev/null || true").out))
      if (l.find(" netem ") != std::string::npos || l.rfind("qdisc netem", 0) == 0) out.push_back(l);
    return out;
  }

  json read_state(RemoteHost& conn, const Host& h, const AppliedFault& f) {
    json after = json::object();
    const auto& plan = f.revert_plan;
    if (f.before.contains("qdisc"))
      after["qdisc"] = run(conn, h, "read the qdisc", qdisc_show_command(plan.value("interface", ""))).out;
    if (f.before.contains("rules")) after["rules"] = run(conn, h, "list our firewall rules", our_rules_command()).out;
    if (f.before.contains("process_state"))
      after["process_state"] = trim_end(run(conn, h, "read the node's process state",
                                           process_state_command(plan.value("pid", 0))).out);
    return after;
  }

  bool same_state(const AppliedFault& f, const json& after, RemoteHost& conn) {
    if (f.before.contains("qdisc") &&
        normalized(f.before["qdisc"].get<std::string>()) != normalized(after.value("qdisc", "")))
      return false;
    if (f.before.contains("rules")) {
      if (line_set(f.before["rules"].get<std::string>()) != line_set(after.value("rules", ""))) return false;
      for (auto& r : f.revert_plan.value("rules", json::array()))
        if (conn.exec(r["tool"].get<std::string>() + " -C INPUT " + r["spec"].get<std::string>(), opts_.command_timeout)
                .exit_code == 0)
          return false;
    }
    if (f.before.contains("process_state")) {
      auto st = after.value("process_state", "");
      if (st == "T" || st == "t") return false;
    }
    return true;
  }

  void undo_now(Pool::Lease& conn, const Host& h, const AppliedFault& f) {
    try {
      auto paths = MarkerPaths::for_fault(f.revert_plan.value("marker_dir", marker_dir_of(h)), f.id);
      conn->exec("sh -s", opts_.command_timeout,
                 script_of(f.revert_plan.value("undo", std::vector<std::string>{}), false) +
                     remove_marker_files_command(paths) + "\n");
    } catch (const std::exception&) {
      conn.broken();
    }
  }

  FaultInjectorOptions opts_;
  Pool pool_;
};

}  // namespace

std::unique_ptr<FaultBackend> make_ssh_backend(const Fleet& fleet, const FaultInjectorOptions& opts) {
  return std::make_unique<SshBackend>(fleet, opts);
}

}  // namespace x0x::orchestrator
