#include "orchestrator/faults/fault_commands.h"

#include <fmt/format.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "orchestrator/faults/fault_injector.h"
#include "orchestrator/control/ssh_remote.h"

namespace x0x::orchestrator {

namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.find_first_not_of(" \t\r") != std::string::npos) out.push_back(l);
  return out;
}

}  // namespace

RootQdisc parse_root_qdisc(const std::string& show) {
  RootQdisc q;
  for (auto& line : lines(show)) {
    auto w = words(line);
    if (w.size() < 4 || w[0] != "qdisc") continue;
    if (w[3] != "root") {
      if (w[3] == "parent" && q.present && !q.kernel_default) q.has_children = true;
      continue;
    }
    q.present = true;
    q.kind = w[1];
    q.handle = w[2];
    q.kernel_default = q.handle == "0:";
    std::size_t i = 4;
    if (i + 1 < w.size() && w[i] == "refcnt") i += 2;
    q.params.assign(w.begin() + static_cast<long>(i), w.end());
  }
  // Children may be listed before the root line too.
  if (q.present && !q.kernel_default)
    for (auto& line : lines(show)) {
      auto w = words(line);
      if (w.size() >= 4 && w[0] == "qdisc" && w[3] == "parent") q.has_children = true;
    }
  return q;
}

std::string qdisc_restore_command(const std::string& iface, const std::string& before_show) {
  auto q = parse_root_qdisc(before_show);
  if (!q.present || q.kernel_default)
    return "tc qdisc del dev " + shell_quote(iface) + " root 2>/dev/null || true";
  // Kinds whose `show` output reads back as `add` arguments (with the fixes below).
  static const std::set<std::string> restorable = {"tbf", "netem", "pfifo", "bfifo", "fq_codel", "sfq", "fq"};
  if (q.has_children)
    throw FaultError("the root qdisc " + q.kind + " " + q.handle + " on " + iface +
                     " has child qdiscs; x0xctl cannot re-create that hierarchy exactly, so it will not replace it");
  if (!restorable.count(q.kind))
    throw FaultError("the root qdisc " + q.kind + " " + q.handle + " on " + iface +
                     " is not a kind x0xctl can re-create exactly; it will not replace it");
  std::string cmd = "tc qdisc replace dev " + shell_quote(iface) + " root handle " + shell_quote(q.handle) + " " + q.kind;
  for (std::size_t i = 0; i < q.params.size(); ++i) {
    auto p = q.params[i];
    if (p == "lat") p = "latency";  // tbf shows "lat", takes "latency"
    if (i > 0 && q.params[i - 1] == "limit" && p.size() > 1 && p.back() == 'p') p.pop_back();  // "1000p"
    cmd += " " + shell_quote(p);
  }
  return cmd;
}

std::vector<FirewallRule> partition_rules(const std::string& peer_address, int peer_port, int target_port,
                                          const std::vector<std::string>& protocols) {
  std::vector<FirewallRule> out;
  std::string tool = peer_address.find(':') != std::string::npos ? "ip6tables" : "iptables";
  auto tail = std::string(" -m comment --comment ") + kPartitionComment + " -j DROP";
  // The spec is shell text (the commands below and the marker's undo run it):
  // the inventory's address and the protocol are quoted.
  auto from = "-s " + shell_quote(peer_address);
  for (auto& proto : protocols) {
    out.push_back({tool, from + " -p " + shell_quote(proto) + " --sport " + std::to_string(peer_port) + tail});
    out.push_back({tool, from + " -p " + shell_quote(proto) + " --dport " + std::to_string(target_port) + tail});
  }
  return out;
}

std::string rule_insert_command(const FirewallRule& r) { return r.tool + " -I INPUT 1 " + r.spec; }

std::string rule_delete_command(const FirewallRule& r) {
  return "while " + r.tool + " -C INPUT " + r.spec + " 2>/dev/null; do " + r.tool + " -D INPUT " + r.spec +
         " || break; done";
}

std::string netem_delay_command(const std::string& iface, int delay_ms, int jitter_ms) {
  auto cmd = fmt::format("tc qdisc replace dev {} root netem delay {}ms", shell_quote(iface), delay_ms);
  // A distribution needs a jitter; tc refuses one without it.
  if (jitter_ms > 0) cmd += fmt::format(" {}ms distribution normal", jitter_ms);
  return cmd;
}

std::string netem_loss_command(const std::string& iface, double loss_ratio) {
  return fmt::format("tc qdisc replace dev {} root netem loss {:g}%", shell_quote(iface), loss_ratio * 100.0);
}

std::string tbf_slow_command(const std::string& iface) {
  return "tc qdisc replace dev " + shell_quote(iface) + " root tbf rate 1mbit burst 32kbit latency 400ms";
}

std::string iface_probe_command(const std::string& towards) { return "ip route get " + shell_quote(towards); }

std::string parse_route_dev(const std::string& out) {
  auto w = words(out);
  for (std::size_t i = 0; i + 1 < w.size(); ++i)
    if (w[i] == "dev") return w[i + 1];
  return {};
}

std::string qdisc_show_command(const std::string& iface) { return "tc qdisc show dev " + shell_quote(iface); }

std::string our_rules_command() {
  return fmt::format(
      "for t in iptables ip6tables; do command -v $t >/dev/null 2>&1 || continue; "
      "$t -S INPUT 2>/dev/null | grep -F -e '--comment {}' | sed \"s/^/$t /\"; done; true",
      kPartitionComment);
}

std::string process_state_command(int pid) {
  // The state letter follows the ")" that ends the command name.
  return fmt::format("sed -n 's/.*) \\([A-Za-z]\\) .*/\\1/p' /proc/{}/stat 2>/dev/null || true", pid);
}

MarkerPaths MarkerPaths::for_fault(const std::string& marker_dir, const std::string& id) {
  auto base = marker_dir + "/chaos-" + id;
  return {marker_dir, base + ".json", base + ".undo.sh", base + ".expiry"};
}

namespace {

// The dead-man's loop. It reads the expiry every second (a renewal rewrites
// it), and a missing file means the fault was reverted: nothing to undo. Its
// command line names the undo script, which is how a cancel recognises it.
std::string watcher_text(const MarkerPaths& p) {
  return "f=" + shell_quote(p.expiry) +
         "; while [ -f \"$f\" ]; do if { read e < \"$f\"; } 2>/dev/null && [ \"$(date +%s)\" -ge \"$e\" ] 2>/dev/null; "
         "then exec sh " + shell_quote(p.undo_script) + "; fi; sleep 1; done";
}

std::string write_expiry_command(const MarkerPaths& p, long lease_secs) {
  return "e=$(( $(date +%s) + " + std::to_string(lease_secs) + " )); echo \"$e\" > " + shell_quote(p.expiry + ".tmp") +
         " && mv -f " + shell_quote(p.expiry + ".tmp") + " " + shell_quote(p.expiry);
}

}  // namespace

std::string arm_script(const MarkerPaths& p, const std::string& id, const nlohmann::json& marker,
                       const std::vector<std::string>& undo, long lease_secs) {
  auto m = marker;
  m["deadman"] = "pending";
  std::string unit = "x0xctl-revert-" + safe_id(id);
  auto watcher = shell_quote(watcher_text(p));
  std::ostringstream s;
  s << "set -e\numask 077\n"
    << "mkdir -p " << shell_quote(p.dir) << "\n"
    << "cat > " << shell_quote(p.undo_script) << " <<'X0X_UNDO_EOF'\n"
    << "#!/bin/sh\n# x0xctl chaos: undo of " << safe_id(id) << "; run by the dead-man at expiry, or by revert/clear\n";
  for (auto& u : undo) s << u << "\n";
  s << remove_marker_files_command(p) << "\n"
    << "X0X_UNDO_EOF\n"
    << "cat > " << shell_quote(p.marker + ".tmp") << " <<'X0X_MARKER_EOF'\n"
    << m.dump() << "\n"
    << "X0X_MARKER_EOF\n"
    << "mv -f " << shell_quote(p.marker + ".tmp") << " " << shell_quote(p.marker) << "\n"
    << write_expiry_command(p, lease_secs) << "\n"
    // The dead-man: the host reverts by itself even if we never come back.
    << "if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then\n"
    << "  systemd-run --quiet --unit=" << unit << " sh -c " << watcher << "\n"
    << "  dm='{\"kind\":\"systemd\",\"unit\":\"" << unit << "\"}'\n"
    << "else\n"
    << "  setsid sh -c " << watcher << " </dev/null >/dev/null 2>&1 &\n"
    << "  pid=$!\n"
    << "  kill -0 \"$pid\"\n"
    << "  dm=\"{\\\"kind\\\":\\\"sleeper\\\",\\\"pid\\\":$pid}\"\n"
    << "fi\n"
    << "sed \"s|\\\"deadman\\\":\\\"pending\\\"|\\\"deadman\\\":$dm|\" " << shell_quote(p.marker) << " > "
    << shell_quote(p.marker + ".tmp") << "\n"
    << "mv -f " << shell_quote(p.marker + ".tmp") << " " << shell_quote(p.marker) << "\n"
    << "echo \"deadman $dm\"\n";
  return s.str();
}

std::string renew_expiry_command(const MarkerPaths& p, long lease_secs) {
  return "if [ -f " + shell_quote(p.marker) + " ] && [ -f " + shell_quote(p.expiry) + " ]; then " +
         write_expiry_command(p, lease_secs) + " && echo \"expires $e\"; " +
         "else echo 'the fault is no longer armed on this host (no marker or expiry file)' >&2; exit 3; fi";
}

std::optional<double> parse_renewed_expiry(const std::string& out) {
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (l.rfind("expires ", 0) == 0) try {
        return std::stod(l.substr(8));
      } catch (...) {
      }
  return std::nullopt;
}

std::string remove_marker_files_command(const MarkerPaths& p) {
  return "rm -f " + shell_quote(p.marker) + " " + shell_quote(p.undo_script) + " " + shell_quote(p.expiry);
}

std::string cancel_deadman_command(const nlohmann::json& dm, const MarkerPaths& p) {
  if (dm.is_object() && dm.value("kind", "") == "systemd") {
    auto unit = safe_id(dm.value("unit", ""));
    return "systemctl stop " + unit + ".timer " + unit + ".service >/dev/null 2>&1; echo cancelled " + unit;
  }
  if (dm.is_object() && dm.value("kind", "") == "sleeper" && dm.contains("pid") && dm["pid"].is_number_integer()) {
    auto pid = dm["pid"].get<long>();
    if (pid <= 1) return "echo 'no sleeper to cancel'";
    // Only our sleeper: its command line names this fault's undo script (by
    // file name: the command line holds the path in its shell-quoted form).
    return fmt::format(
        "p={0}; if [ -r /proc/$p/cmdline ] && tr '\\000' ' ' < /proc/$p/cmdline | grep -qF -- {1}; then "
        "kill -s TERM -- -$p 2>/dev/null || kill -s TERM $p 2>/dev/null; echo cancelled sleeper $p; "
        "else echo sleeper $p already gone; fi",
        pid, shell_quote(std::filesystem::path(p.undo_script).filename().string()));
  }
  return "echo 'no dead-man recorded'";
}

std::string list_markers_command(const std::string& dir) {
  return fmt::format(
      "for f in {}/chaos-*.json; do [ -f \"$f\" ] || continue; cat \"$f\"; echo; e=\"${{f%.json}}.expiry\"; "
      "if [ -f \"$e\" ]; then printf '{}%s\\n' \"$(cat \"$e\")\"; fi; echo '{}'; done; true",
      shell_quote(dir), kExpiresPrefix, kMarkerSeparator);
}

std::vector<nlohmann::json> parse_marker_listing(const std::string& out) {
  std::vector<nlohmann::json> markers;
  std::string chunk;
  std::istringstream in(out);
  double expires = -1;  // from the marker's expiry line; < 0: none
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(kExpiresPrefix, 0) == 0) {
      try {
        expires = std::stod(l.substr(std::string(kExpiresPrefix).size()));
      } catch (...) {
      }
    } else if (l == kMarkerSeparator) {
      auto j = nlohmann::json::parse(chunk, nullptr, false);
      if (j.is_discarded() || !j.is_object()) j = {{"id", "?"}, {"unreadable", chunk.substr(0, 200)}};
      if (expires >= 0 && j.contains("kind")) j["expires_unix"] = expires;  // renewals moved it past the marker's
      markers.push_back(std::move(j));
      chunk.clear();
      expires = -1;
    } else {
      chunk += l + "\n";
    }
  }
  return markers;
}

std::string remove_all_our_rules_command() {
  return fmt::format(
      "for t in iptables ip6tables; do\n"
      "  command -v $t >/dev/null 2>&1 || continue\n"
      "  $t -S INPUT 2>/dev/null | grep -F -e '--comment {}' | sed 's/^-A INPUT //' | while IFS= read -r spec; do\n"
      "    n=0\n"
      "    while [ $n -lt 64 ] && $t -C INPUT $spec 2>/dev/null; do $t -D INPUT $spec || break; n=$((n+1)); done\n"
      "    echo \"removed $t $spec\"\n"
      "  done\n"
      "done\n"
      "true\n",
      kPartitionComment);
}

std::string safe_id(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    out += ok ? c : '-';
  }
  return out;
}

}  // namespace x0x::orchestrator
