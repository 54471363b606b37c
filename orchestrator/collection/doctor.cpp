#include "orchestrator/collection/doctor.h"

#include <ctime>
#include <sstream>

#include "core/parallel_for.h"
#include "core/socket_addr.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/control/ssh_remote.h"

namespace x0x::orchestrator {

bool DoctorHost::blocked() const {
  for (auto& c : checks)
    if (c.status == "blocker") return true;
  return false;
}

namespace {

// One shell script, one round trip: each line "key value...".
std::string probe_script(const Host& h) {
  auto root = shell_quote(h.install_root.empty() ? "/" : h.install_root);
  std::ostringstream s;
  s << "echo now $(date +%s)\n"
    << "d=" << root << "; while [ ! -d \"$d\" ]; do d=$(dirname \"$d\"); done; echo disk_kb $(df -Pk \"$d\" | awk 'NR==2{print $4}')\n"
    << "for t in tc iptables ss; do if command -v $t >/dev/null 2>&1; then echo tool $t yes; else echo tool $t no; fi; done\n"
    << "if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then echo systemd yes; "
       "else echo systemd no; fi\n";
  for (auto* addr : {&h.api_addr, &h.gossip_addr})
    if (auto a = parse_socket_addr(*addr))
      s << "if ss -Hltn 'sport = :" << a->port << "' 2>/dev/null | grep -q .; then "
        << "owner=$(ss -Hltnp 'sport = :" << a->port << "' 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2); "
        << "exe=$(readlink /proc/$owner/exe 2>/dev/null); echo port " << a->port << " busy \"$exe\"; "
        << "else echo port " << a->port << " free; fi\n";
  return s.str();
}

DoctorHost check_host(const Host& h, const DoctorOptions& o) {
  DoctorHost out{h.name, {}};
  auto add = [&](std::string n, std::string st, std::string d) { out.checks.push_back({std::move(n), std::move(st), std::move(d)}); };
  if (h.transport == "local") {
    add("ssh", "ok", "local host: no SSH needed");
    return out;
  }
  std::unique_ptr<RemoteHost> r;
  try {
    r = ssh_connect(ssh_target_of(h, o.accept_new_host_keys));
    add("ssh", "ok", h.ssh_user + "@" + h.address + ":" + std::to_string(h.ssh_port));
    add("host key", "ok", "pinned in " + h.known_hosts);
  } catch (const HostKeyError& e) {
    add("host key", "blocker", e.what());
    return out;
  } catch (const std::exception& e) {
    add("ssh", "blocker", e.what());
    return out;
  }
  ExecResult res;
  try {
    res = r->exec(probe_script(h), std::chrono::seconds(20));
  } catch (const std::exception& e) {
    add("probe", "blocker", e.what());
    return out;
  }
  std::istringstream lines(res.out);
  std::string key;
  bool systemd = false;
  std::vector<std::string> missing_tools;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ls(line);
    ls >> key;
    if (key == "now") {
      long remote = 0;
      ls >> remote;
      long skew = remote - static_cast<long>(std::time(nullptr));
      add("clock", std::labs(skew) > o.max_clock_skew_secs ? "blocker" : "ok", "skew " + std::to_string(skew) + " s");
    } else if (key == "disk_kb") {
      long kb = -1;
      ls >> kb;
      add("disk", kb >= 0 && kb / 1024 < o.min_free_mb ? "blocker" : "ok",
          kb < 0 ? "unknown" : std::to_string(kb / 1024) + " MB free under " + h.install_root);
    } else if (key == "tool") {
      std::string t, yes;
      ls >> t >> yes;
      if (yes != "yes") missing_tools.push_back(t);
    } else if (key == "systemd") {
      std::string yes;
      ls >> yes;
      systemd = yes == "yes";
    } else if (key == "port") {
      std::string port, state, exe;
      ls >> port >> state;
      std::getline(ls, exe);
      if (state == "free") {
        add("port " + port, "ok", "free");
      } else {
        // Busy is fine when our own node holds it: a binary under this host's
        // install root, or an x0xd / lean node binary.
        auto b = exe.find_first_not_of(" \"");
        auto e = exe.find_last_not_of(" \"");
        exe = b == std::string::npos ? "" : exe.substr(b, e - b + 1);
        auto base = exe.substr(exe.find_last_of('/') + 1);
        bool ours = (!h.install_root.empty() && exe.rfind(h.install_root + "/", 0) == 0) || base.rfind("x0xd", 0) == 0 ||
                    base == "x0x-lean-node" || base == "x0x-node";
        exe = exe.empty() ? "" : " (" + exe + ")";
        add("port " + port, ours ? "ok" : "blocker", (ours ? "held by our service" : "held by another program") + exe);
      }
    }
  }
  add("tools", missing_tools.empty() ? "ok" : "warn",
      missing_tools.empty() ? "tc, iptables, ss present"
                            : "missing: " + [&] { std::string s; for (auto& t : missing_tools) s += (s.empty() ? "" : ", ") + t; return s; }() +
                                  " (needed by chaos scenarios only)");
  if (h.service_manager == "systemd")
    add("service manager", systemd ? "ok" : "blocker", systemd ? "systemd running" : "the inventory says systemd, but systemd is not running here");
  else
    add("service manager", "ok", "supervisor (sh, pidfiles)");
  return out;
}

}  // namespace

std::vector<DoctorHost> run_doctor(const Fleet& fleet, const DoctorOptions& o) {
  std::vector<DoctorHost> out(fleet.hosts.size());
  // One host's trouble is that host's blocker, never the end of the others' checks.
  parallel_for(fleet.hosts.size(), o.parallel, [&](std::size_t k) {
    try {
      out[k] = check_host(fleet.hosts[k], o);
    } catch (const std::exception& e) {
      out[k] = DoctorHost{fleet.hosts[k].name, {{"doctor", "blocker", e.what()}}};
    }
  });
  return out;
}

}  // namespace x0x::orchestrator
