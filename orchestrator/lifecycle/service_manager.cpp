#include "orchestrator/lifecycle/service_manager.h"

#include "orchestrator/control/ssh_remote.h"

#include <filesystem>
#include <functional>
#include <string_view>

namespace x0x::orchestrator {

namespace {

ExecResult run_checked(RemoteHost& host, const std::string& what, const std::string& cmd,
                       std::chrono::milliseconds timeout) {
  auto r = host.exec(cmd, timeout);
  if (r.exit_code != 0)
    throw ServiceError(host.name() + ": " + what + " failed (exit " + std::to_string(r.exit_code) +
                       "): " + one_line(r.err.empty() ? r.out : r.err + " " + r.out, 400));
  return r;
}

// systemd's own quoting, for unit files (not a shell): `%` starts a
// specifier in every setting, `$` a variable in ExecStart=.
std::string systemd_escape_percent(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '%' ? std::string("%%") : std::string(1, c);
  return out;
}

// One word of an ExecStart= command line, double-quoted.
std::string systemd_exec_word(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '$') out += '$';
    out += c;
  }
  return systemd_escape_percent(out + "\"");
}

// systemd refuses to start a program whose path has a quote, a backslash or
// a control character ("Executable name contains special characters"); say
// so at plan time rather than after a switch.
void check_systemd_path(const Host& host, const std::string& root) {
  for (unsigned char c : root)
    if (c == '\'' || c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
      throw std::invalid_argument("install_root \"" + root + "\" has a character systemd cannot start a program from "
                                  "(a quote, a backslash or a control character); choose another install_root, or "
                                  "service_manager = \"supervisor\" for host " + host.name);
}

const char kSupervisorScript[] = R"SH(#!/bin/sh
# x0x-supervise: a minimal process supervisor, installed by `x0xctl deploy`
# on hosts without systemd. Usage: x0x-supervise start|stop|restart|status node|runner
#
# Everything is relative to this script's folder (<root>/bin):
#   node:   <root>/bin/x0x-node --config <root>/etc/config.toml --no-hard-coded-bootstrap
#   runner: <root>/bin/x0x-test-runner with the variables of <root>/etc/runner.env
#   <root>/run/<svc>.loop.pid  the restart loop (its own session, via setsid)
#   <root>/run/<svc>.pid       the running child
#   <root>/log/<svc>.log       the child's stdout+stderr and the loop's own lines
# The loop restarts a child that dies (back-off 1 s doubling to 30 s, reset
# after 60 s of uptime). stop: TERM to loop and child, wait, then KILL.
# status exits 0 when the child is up, 3 otherwise.
set -u
umask 022
ROOT=$(cd "$(dirname "$0")/.." && pwd -P) || exit 2
action=${1:-}
svc=${2:-}
case "$svc" in
  node|runner) ;;
  *) echo "usage: x0x-supervise start|stop|restart|status node|runner" >&2; exit 2 ;;
esac
LOOP_PIDFILE="$ROOT/run/$svc.loop.pid"
CHILD_PIDFILE="$ROOT/run/$svc.pid"
LOG="$ROOT/log/$svc.log"
STOP_WAIT=${X0X_SUPERVISE_STOP_WAIT:-10}

ts() { date -u +%Y-%m-%dT%H:%M:%SZ; }
readpid() { [ -s "$1" ] && head -n 1 "$1" 2>/dev/null | tr -cd 0-9; return 0; }
# Alive and not a zombie (an orphan may wait long for a reaper).
alive() {
  [ -n "${1:-}" ] || return 1
  kill -0 "$1" 2>/dev/null || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ "$st" != Z ]
}
writepid() { echo "$2" > "$1.tmp" && mv -f "$1.tmp" "$1"; }

run_child() {
  cd "$ROOT" || exit 1
  if [ "$svc" = node ]; then
    exec "$ROOT/bin/x0x-node" --config "$ROOT/etc/config.toml" --no-hard-coded-bootstrap
  fi
  if [ -f "$ROOT/etc/runner.env" ]; then
    set -a
    . "$ROOT/etc/runner.env"
    set +a
  fi
  exec "$ROOT/bin/x0x-test-runner"
}

loop() {
  writepid "$LOOP_PIDFILE" $$
  stopping=0
  child=
  trap 'stopping=1; alive "$child" && kill -TERM "$child" 2>/dev/null' TERM INT HUP
  delay=1
  while [ "$stopping" = 0 ]; do
    echo "$(ts) x0x-supervise: starting $svc" >> "$LOG"
    started=$(date +%s)
    run_child >> "$LOG" 2>&1 < /dev/null &
    child=$!
    writepid "$CHILD_PIDFILE" "$child"
    [ "$stopping" = 0 ] || kill -TERM "$child" 2>/dev/null
    rc=0
    wait "$child" || rc=$?
    while alive "$child"; do rc=0; wait "$child" || rc=$?; done
    rm -f "$CHILD_PIDFILE"
    echo "$(ts) x0x-supervise: $svc exited (status $rc)" >> "$LOG"
    [ "$stopping" = 0 ] || break
    [ $(( $(date +%s) - started )) -lt 60 ] || delay=1
    echo "$(ts) x0x-supervise: restarting $svc in $delay s" >> "$LOG"
    sleep "$delay" &
    sp=$!
    wait "$sp" || true
    kill "$sp" 2>/dev/null
    delay=$((delay * 2))
    [ "$delay" -le 30 ] || delay=30
  done
  rm -f "$LOOP_PIDFILE"
  exit 0
}

stop() {
  l=$(readpid "$LOOP_PIDFILE")
  c=$(readpid "$CHILD_PIDFILE")
  if ! alive "$l" && ! alive "$c"; then
    rm -f "$LOOP_PIDFILE" "$CHILD_PIDFILE"
    echo "$svc not running"
    return 0
  fi
  alive "$l" && kill -TERM "$l" 2>/dev/null
  alive "$c" && kill -TERM "$c" 2>/dev/null
  i=0
  while [ "$i" -lt $((STOP_WAIT * 10)) ]; do
    if ! alive "$l" && ! alive "$c"; then break; fi
    sleep 0.1
    i=$((i + 1))
  done
  if alive "$l" || alive "$c"; then
    alive "$l" && kill -KILL "$l" 2>/dev/null
    alive "$c" && kill -KILL "$c" 2>/dev/null
    echo "$(ts) x0x-supervise: $svc did not stop within ${STOP_WAIT} s: killed" >> "$LOG"
  fi
  rm -f "$LOOP_PIDFILE" "$CHILD_PIDFILE"
  echo "$svc stopped"
}

start() {
  l=$(readpid "$LOOP_PIDFILE")
  if alive "$l"; then
    echo "$svc already running (loop $l)"
    return 0
  fi
  # A child left behind by a killed loop is stopped first.
  stop > /dev/null
  mkdir -p "$ROOT/run" "$ROOT/log" || return 1
  setsid /bin/sh "$ROOT/bin/x0x-supervise" _loop "$svc" < /dev/null >> "$LOG" 2>&1 &
  i=0
  while [ "$i" -lt 100 ]; do
    l=$(readpid "$LOOP_PIDFILE")
    c=$(readpid "$CHILD_PIDFILE")
    if alive "$l" && alive "$c"; then
      echo "$svc started (loop $l, pid $c)"
      return 0
    fi
    sleep 0.1
    i=$((i + 1))
  done
  echo "$svc did not start within 10 s; see $LOG" >&2
  return 1
}

status() {
  l=$(readpid "$LOOP_PIDFILE")
  c=$(readpid "$CHILD_PIDFILE")
  if alive "$l" && alive "$c"; then echo "running loop=$l pid=$c"; return 0; fi
  if alive "$l"; then echo "restarting loop=$l"; return 3; fi
  if alive "$c"; then echo "orphaned pid=$c (no loop)"; return 3; fi
  echo "stopped"
  return 3
}

case "$action" in
  start) start ;;
  stop) stop ;;
  restart) stop > /dev/null; start ;;
  status) status ;;
  _loop) loop ;;
  *) echo "usage: x0x-supervise start|stop|restart|status node|runner" >&2; exit 2 ;;
esac
)SH";

class SupervisorManager final : public ServiceManager {
 public:
  SupervisorManager(HostLayout layout, ServiceManagerOptions opts) : l_(std::move(layout)), o_(std::move(opts)) {}
  std::string kind() const override { return "supervisor"; }
  std::vector<RenderedFile> files() const override { return {{"supervisor", l_.supervisor, supervisor_script(), 0755}}; }
  void prepare(RemoteHost&, bool) override {}
  void start(RemoteHost& h, Service s) override { run(h, "start", s); }
  void stop(RemoteHost& h, Service s) override {
    // Nothing installed yet: nothing to stop.
    run(h, "stop", s, true);
  }
  void restart(RemoteHost& h, Service s) override { run(h, "restart", s); }
  ServiceStatus status(RemoteHost& h, Service s) override {
    auto r = h.exec(cmd("status", s, true), o_.command_timeout);
    return {r.exit_code == 0, one_line(r.out.empty() ? r.err : r.out, 400)};
  }
  void remove(RemoteHost& h) override {
    stop(h, Service::runner);
    stop(h, Service::node);
  }
  void after_remove(RemoteHost&) override {}
  std::string unit(Service s) const override { return std::string("x0x-supervise ") + service_name(s); }

 private:
  std::string cmd(const char* action, Service s, bool tolerate_missing = false) const {
    auto c = "/bin/sh " + shell_quote(l_.supervisor) + " " + shell_quote(action) + " " + shell_quote(service_name(s));
    if (tolerate_missing) c = "if [ -f " + shell_quote(l_.supervisor) + " ]; then " + c + "; else echo 'not installed'; exit 3; fi";
    return c;
  }
  void run(RemoteHost& h, const char* action, Service s, bool tolerate_missing = false) {
    auto r = h.exec(cmd(action, s, tolerate_missing), o_.command_timeout);
    if (r.exit_code == 0 || (tolerate_missing && r.exit_code == 3)) return;
    throw ServiceError(h.name() + ": x0x-supervise " + action + " " + service_name(s) + " failed (exit " +
                       std::to_string(r.exit_code) + "): " + one_line(r.err + " " + r.out, 400));
  }
  HostLayout l_;
  ServiceManagerOptions o_;
};

class SystemdManager final : public ServiceManager {
 public:
  SystemdManager(Host host, HostLayout layout, ServiceManagerOptions opts)
      : h_(std::move(host)), l_(std::move(layout)), o_(std::move(opts)) {
    check_systemd_path(h_, l_.root);
  }
  std::string kind() const override { return "systemd"; }
  std::vector<RenderedFile> files() const override {
    return {{"unit:node", unit_path(Service::node), render_systemd_unit(h_, l_, Service::node), 0644},
            {"unit:runner", unit_path(Service::runner), render_systemd_unit(h_, l_, Service::runner), 0644}};
  }
  void prepare(RemoteHost& h, bool files_changed) override {
    if (files_changed) run_checked(h, "systemctl daemon-reload", sc() + " daemon-reload", o_.command_timeout);
    run_checked(h, "systemctl enable", sc() + " enable --quiet " + shell_quote(unit(Service::node)) + " " + shell_quote(unit(Service::runner)),
                o_.command_timeout);
  }
  void start(RemoteHost& h, Service s) override {
    run_checked(h, "systemctl start " + unit(s), sc() + " start " + shell_quote(unit(s)), o_.command_timeout);
  }
  void stop(RemoteHost& h, Service s) override {
    // A unit that is not loaded (exit 5) is not running: fine. Anything else is an error.
    auto r = h.exec(sc() + " stop " + shell_quote(unit(s)), o_.command_timeout);
    if (r.exit_code != 0 && r.exit_code != 5)
      throw ServiceError(h.name() + ": systemctl stop " + unit(s) + " failed (exit " + std::to_string(r.exit_code) +
                         "): " + one_line(r.err.empty() ? r.out : r.err + " " + r.out, 400));
  }
  void restart(RemoteHost& h, Service s) override {
    run_checked(h, "systemctl restart " + unit(s), sc() + " restart " + shell_quote(unit(s)), o_.command_timeout);
  }
  ServiceStatus status(RemoteHost& h, Service s) override {
    auto r = h.exec(sc() + " is-active " + shell_quote(unit(s)), o_.command_timeout);
    auto d = one_line(r.out.empty() ? r.err : r.out, 400);
    return {r.exit_code == 0 && d == "active", d};
  }
  // Every step is tried; what failed is thrown together at the end.
  void remove(RemoteHost& h) override {
    std::string failed;
    auto attempt = [&](const std::function<void()>& step) {
      try {
        step();
      } catch (const ServiceError& e) {
        failed += (failed.empty() ? "" : "; ") + std::string(e.what());
      }
    };
    attempt([&] { stop(h, Service::runner); });
    attempt([&] { stop(h, Service::node); });
    attempt([&] {
      run_checked(h, "systemctl disable",
                  sc() + " disable --quiet " + shell_quote(unit(Service::node)) + " " + shell_quote(unit(Service::runner)), o_.command_timeout);
    });
    if (!failed.empty()) throw ServiceError(failed);
  }
  void after_remove(RemoteHost& h) override { run_checked(h, "systemctl daemon-reload", sc() + " daemon-reload", o_.command_timeout); }
  std::string unit(Service s) const override { return systemd_unit_name(h_, s); }

 private:
  std::string sc() const { return shell_quote(o_.systemctl); }
  std::string unit_path(Service s) const {
    return (std::filesystem::path(o_.systemd_unit_dir) / unit(s)).string();
  }
  Host h_;
  HostLayout l_;
  ServiceManagerOptions o_;
};

}  // namespace

HostLayout HostLayout::for_host(const Host& host) {
  namespace fs = std::filesystem;
  HostLayout l;
  fs::path root = host.install_root.empty() ? fs::path("/opt/x0x") : fs::path(host.install_root);
  root = root.lexically_normal();
  auto s = [](const fs::path& p) { return p.string(); };
  l.root = s(root);
  l.bin_dir = s(root / "bin");
  l.etc_dir = s(root / "etc");
  l.data_dir = s(root / "data");
  l.run_dir = s(root / "run");
  l.log_dir = s(root / "log");
  l.node_binary = s(root / "bin" / "x0x-node");
  l.runner_binary = s(root / "bin" / "x0x-test-runner");
  l.supervisor = s(root / "bin" / "x0x-supervise");
  l.config = s(root / "etc" / "config.toml");
  l.runner_env = s(root / "etc" / "runner.env");
  l.token = s(root / "data" / "api-token");
  l.state_file = s(root / "run" / "deploy.state");
  l.node_log = s(root / "log" / "node.log");
  l.runner_log = s(root / "log" / "runner.log");
  l.cache_dir = s(root.parent_path() / ".x0x-cache");
  return l;
}

const char* service_name(Service s) { return s == Service::node ? "node" : "runner"; }

std::string supervisor_script() { return kSupervisorScript; }

std::string systemd_unit_name(const Host& host, Service s) {
  // The inventory (or its network) may name the node's unit, e.g. x0xd-testnet.
  if (s == Service::node && !host.service.empty()) {
    auto u = host.service;
    return u.find('.') == std::string::npos ? u + ".service" : u;
  }
  return std::string(s == Service::node ? "x0x-node-" : "x0x-runner-") + host.name + ".service";
}

std::string render_systemd_unit(const Host& host, const HostLayout& l, Service s) {
  check_systemd_path(host, l.root);
  auto path = [](const std::string& p) { return systemd_escape_percent(p); };
  auto name = systemd_escape_percent(host.name);
  std::string u = "# Rendered by x0xctl deploy for host " + host.name + "; do not edit (the next deploy overwrites it).\n";
  if (s == Service::node) {
    u += "[Unit]\nDescription=x0x node " + name + "\nAfter=network-online.target\nWants=network-online.target\n\n";
    u += "[Service]\nType=simple\nWorkingDirectory=" + path(l.root) + "\n";
    u += "ExecStart=" + systemd_exec_word(l.node_binary) + " --config " + systemd_exec_word(l.config) + " --no-hard-coded-bootstrap\n";
    u += "Restart=on-failure\nRestartSec=2\nLimitNOFILE=65536\n";
    u += "StandardOutput=append:" + path(l.node_log) + "\nStandardError=append:" + path(l.node_log) + "\n";
  } else {
    auto node_unit = systemd_unit_name(host, Service::node);
    u += "[Unit]\nDescription=x0x mesh test runner for node " + name + "\nAfter=" + node_unit + "\nWants=" + node_unit + "\n\n";
    u += "[Service]\nType=simple\nWorkingDirectory=" + path(l.root) + "\nEnvironmentFile=" + path(l.runner_env) + "\n";
    u += "ExecStart=" + systemd_exec_word(l.runner_binary) + "\nRestart=on-failure\nRestartSec=2\n";
    u += "StandardOutput=append:" + path(l.runner_log) + "\nStandardError=append:" + path(l.runner_log) + "\n";
  }
  u += "\n[Install]\nWantedBy=multi-user.target\n";
  return u;
}

std::unique_ptr<ServiceManager> make_service_manager(const Host& host, const HostLayout& layout,
                                                     const ServiceManagerOptions& opts) {
  if (host.service_manager == "supervisor") return std::make_unique<SupervisorManager>(layout, opts);
  if (host.service_manager == "systemd") return std::make_unique<SystemdManager>(host, layout, opts);
  throw std::invalid_argument(host.name + ": unknown service_manager \"" + host.service_manager + "\"");
}

}  // namespace x0x::orchestrator
