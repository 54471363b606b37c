// The shell side of faults on SSH hosts, rendered without touching a host:
// what to read before (qdisc, our iptables rules, the node's process state),
// the apply and undo commands, the on-host marker and the script that writes
// it, the undo script and arms the dead-man. Pure functions, so `--dry-run`
// prints exactly what a real run executes and tests can check the text.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace x0x::orchestrator {

// Every iptables/ip6tables rule we insert carries this comment; `clear`
// removes any rule carrying it.
inline constexpr const char* kPartitionComment = "x0x-partition-recovery";

// The root qdisc of one interface as `tc qdisc show dev IF` prints it.
struct RootQdisc {
  bool present = false;      // a root qdisc line exists
  bool kernel_default = true;  // handle 0: (noqueue, pfifo_fast, mq, fq_codel by default)
  std::string kind, handle;  // "tbf", "8001:"
  std::vector<std::string> params;  // as shown, after "refcnt N"
  bool has_children = false;  // other qdiscs hang below it (a hierarchy we cannot recreate)
};
RootQdisc parse_root_qdisc(const std::string& show_output);

// The command that puts `before` back on `iface`: deleting our root qdisc when
// the kernel default was there, else re-creating the recorded qdisc with its
// handle and parameters. Throws FaultError when the recorded one cannot be
// re-created exactly (a hierarchy, an unknown kind): we then refuse to replace it.
std::string qdisc_restore_command(const std::string& iface, const std::string& before_show);

// A rule body (without the chain) for iptables -I/-C/-D.
struct FirewallRule {
  std::string tool;  // "iptables" | "ip6tables"
  // Shell text, values quoted: "-s '10.0.0.2' -p 'udp' --sport 6483 -m comment --comment x0x-partition-recovery -j DROP"
  std::string spec;
};
// Rules on the target that cut it off from one peer in both directions:
// traffic from the peer's gossip port, and traffic from the peer to the
// target's gossip port, for each protocol (udp: x0xd's QUIC, tcp: the lean node).
std::vector<FirewallRule> partition_rules(const std::string& peer_address, int peer_port, int target_port,
                                          const std::vector<std::string>& protocols);
std::string rule_insert_command(const FirewallRule& r);
// Deletes every copy of the rule, then succeeds (idempotent).
std::string rule_delete_command(const FirewallRule& r);

// tc commands for the link faults.
std::string netem_delay_command(const std::string& iface, int delay_ms, int jitter_ms);
std::string netem_loss_command(const std::string& iface, double loss_ratio);
std::string tbf_slow_command(const std::string& iface);

// Read-only probes whose output is the "state" compared before/after.
std::string iface_probe_command(const std::string& towards_address);  // ip route get …
std::string parse_route_dev(const std::string& ip_route_get_output);   // token after "dev", "" if none
std::string qdisc_show_command(const std::string& iface);
std::string our_rules_command();  // iptables -S INPUT / ip6tables -S INPUT lines with our comment
std::string process_state_command(int pid);  // prints the state letter from /proc/<pid>/stat

// The files of one fault on a host. `expiry` holds the unix second (host
// clock) after which the dead-man undoes the fault; renewals rewrite it.
struct MarkerPaths {
  std::string dir, marker, undo_script, expiry;
  static MarkerPaths for_fault(const std::string& marker_dir, const std::string& id);
};

// Script (run with `sh -s`, on stdin) that writes the undo script, the
// marker and the expiry file (now + lease), arms the dead-man and records it
// in the marker. The dead-man is a watcher (a transient systemd service
// where systemd runs, else a detached sleeper) that re-reads the expiry file
// every second, runs the undo script once that time has passed, and leaves
// quietly if the file is gone (the fault was reverted). It prints
// "deadman {json}" on success. Nothing in it touches the network or the node.
std::string arm_script(const MarkerPaths& paths, const std::string& id, const nlohmann::json& marker,
                       const std::vector<std::string>& undo, long lease_secs);

// Moves the expiry to now + lease (host clock) while the fault is still
// armed (marker and expiry file present), else exits 3 and changes nothing.
// Prints "expires <unix seconds>".
std::string renew_expiry_command(const MarkerPaths& paths, long lease_secs);
// The new expiry from renew_expiry_command's output; nullopt if none.
std::optional<double> parse_renewed_expiry(const std::string& out);

// Removes a fault's marker, undo script and expiry file.
std::string remove_marker_files_command(const MarkerPaths& paths);

// Cancels the dead-man described by the marker's "deadman" object: stops the
// transient unit, or kills the sleeper's process group after checking through
// /proc/<pid>/cmdline that it is our sleeper (a recycled PID is left alone).
std::string cancel_deadman_command(const nlohmann::json& deadman, const MarkerPaths& paths);

// Prints every marker in the dir, then "@@x0x-expires@@ <unix seconds>" when
// its expiry file exists, then a line "@@x0x-marker@@". The parsed markers
// carry the current expiry (renewals move it) as "expires_unix".
std::string list_markers_command(const std::string& marker_dir);
inline constexpr const char* kMarkerSeparator = "@@x0x-marker@@";
inline constexpr const char* kExpiresPrefix = "@@x0x-expires@@ ";
std::vector<nlohmann::json> parse_marker_listing(const std::string& out);

// Removes every INPUT rule carrying our comment (v4 and v6), looping while
// `-C` still finds a copy; prints "removed <tool> <spec>" per rule.
std::string remove_all_our_rules_command();

// A name safe for file names and unit names: [A-Za-z0-9_.-], others become '-'.
std::string safe_id(const std::string& text);

}  // namespace x0x::orchestrator
