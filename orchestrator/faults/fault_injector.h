// Faults on a fleet, for scenarios and `x0xctl chaos`. On a local host
// (transport "local") through the lean node's POST /lean/faults, whose lease
// lapses by itself. On an SSH host through `tc` / `iptables` / `ip6tables` /
// signals, with a dead-man revert armed on the host *before* the fault is
// applied (a watcher, as a transient systemd service where systemd runs, else
// a detached sleeper, that undoes the fault once the time in its expiry file
// has passed), an on-host marker (<marker dir>/chaos-<id>.json: what, how to
// undo, expiry), the host's previous qdisc recorded and restored (never
// wiped), and a verified revert (state after == state before, recorded).
// Either way the lease can be renewed (FaultHeartbeat, fault_heartbeat.h).
// The anchor is never a target.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/control/inventory.h"

namespace x0x::orchestrator {

class FaultError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;  // names the host and the step that failed
};

struct FaultRequest {
  // "delay"     egress delay (delay_ms ± jitter_ms), towards `peers` or all
  // "loss"      egress loss ratio, towards `peers` or all
  // "partition" drop traffic between target and `peers` (both directions on the target)
  // "stall"     the node's dispatcher stops (local: stall_dispatcher; ssh: not available → FaultError)
  // "stale"     the node keeps its connections but answers nothing (local: stale; ssh: SIGSTOP, SIGCONT on revert)
  // "slow"      a slow link (local: delay 300 ms on all egress; ssh: tc tbf rate limit)
  std::string kind;
  std::string target;              // host name
  std::vector<std::string> peers;  // host names
  int delay_ms = 0, jitter_ms = 0;
  double loss = 0;
  std::chrono::seconds lease{120};  // the host reverts by itself after this, whatever happens to us
  std::string run_id;               // groups markers of one run (gate run id or chaos stamp)
  std::string scenario;             // the gate scenario asking ("" for the chaos verb); [chaos] allow may name it
};

struct AppliedFault {
  std::string id;  // "<run_id>-<target>-<kind>"
  FaultRequest request;
  std::string mechanism;  // "lean-api", "tc netem", "tc tbf", "iptables", "sigstop"
  double applied_unix = 0, expires_unix = 0;
  nlohmann::json before;  // host state before (qdisc, rules) that revert restores and checks against
  // What revert needs besides `before`: for SSH hosts the marker paths, the
  // undo commands, the dead-man and the interface; for local hosts the
  // request body that removes exactly this kind. With dry_run: "would_run",
  // the commands or requests a real run would issue, in order.
  nlohmann::json revert_plan;
};

struct FaultInjectorOptions {
  bool accept_new_host_keys = false;
  // Restarts a node that this process supervises (the gate's own local fleet);
  // unset: restart() goes through the host's service manager over SSH, and a
  // local host without it is a FaultError.
  std::function<void(const std::string& host)> restart_local;
  // Print-only: apply() and clear() read state but change nothing, and
  // return what they would run (AppliedFault::revert_plan["would_run"]).
  bool dry_run = false;
  // Egress interface per host name for tc; default: the `dev` of
  // `ip route get <first peer's address, else 1.1.1.1>` on the host.
  std::map<std::string, std::string> interfaces;
  // Protocols a partition drops (udp: x0xd's QUIC, tcp: the lean node's mesh).
  std::vector<std::string> partition_protocols{"udp", "tcp"};
  std::chrono::milliseconds command_timeout{60000};  // per remote command, on top of any delay we applied
};

class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  // Arms the dead-man revert, then applies. On failure after a partial apply it
  // reverts what it did before throwing FaultError. Refuses the anchor.
  virtual AppliedFault apply(const FaultRequest& req) = 0;
  // Moves the host's expiry of an applied fault to now + lease and changes
  // nothing else; a fault that is gone (reverted, cleared, lapsed) is never
  // brought back: FaultError. Returns the new expiry (unix seconds).
  virtual double renew(const AppliedFault& fault, std::chrono::seconds lease) = 0;
  // Reverts and verifies. Idempotent; never throws for "already gone".
  // Returns {"id","host","clean":bool,"before":…,"after":…,"steps":[…]}.
  virtual nlohmann::json revert(const AppliedFault& fault) = 0;
  // Everything active on these hosts (empty = all): markers, live qdisc/rules, lean faults.
  virtual nlohmann::json status(const std::vector<std::string>& hosts) = 0;
  // Removes whatever we may have left on these hosts (empty = all): recorded
  // qdiscs restored, every rule with our comment (v4 and v6), stopped nodes
  // continued, lean faults cleared, markers and dead-man timers removed.
  // Returns per host {"host","clean":bool,"removed":[…]}.
  virtual nlohmann::json clear(const std::vector<std::string>& hosts) = 0;
  // Restarts the node (service manager over SSH, or restart_local) and returns
  // the wall-clock time the restart was issued.
  virtual double restart(const std::string& host, const std::string& scenario = {}) = 0;
};

std::unique_ptr<FaultInjector> make_fault_injector(const Fleet& fleet, FaultInjectorOptions opts = {});

}  // namespace x0x::orchestrator
