// The fleet inventory (fleet.toml, or the same schema as JSON): hosts, how to
// reach each node's REST API, and the anchor. Every verb refuses an invalid
// inventory with errors naming file, line and field.
//
// Networks (spec deploy-and-harvest.md §1.7): `[network.NAME]` tables give
// the ports, service name and token path of one x0x network (test, prod) on
// every host; loading selects one and fills each host's api_addr, gossip_addr,
// service and token_path from it unless the host sets them (flat, or in a
// `[host.network.NAME]` table for that network only). The [instance.*] tables
// are accepted and not yet interpreted.
#pragma once
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace x0x::orchestrator {

struct Host {
  std::string name;
  std::string address;         // where the host is (127.0.0.1 for local fleets)
  std::string ipv4, ipv6;      // the host's addresses when the inventory names them (a partition blocks both)
  std::string transport = "ssh";  // "local": API reached directly on loopback; "ssh": through a tunnel
  std::string api_addr;        // the node's REST API as seen on the host, e.g. 127.0.0.1:13600
  std::string token_path;      // the node's api-token file on the host (never the token itself)
  std::string install_root;    // where this host's files live (several hosts may share a machine)
  std::vector<std::string> roles;
  int line = 0;                // where the [[host]] table starts, for messages
  // SSH (transport "ssh"); defaults come from [defaults], relative paths from the inventory's folder.
  std::string ssh_user = "root";
  int ssh_port = 22;
  std::string ssh_identity;    // private key file; empty: ssh-agent / default keys
  std::string known_hosts;     // pinned host keys (required for ssh hosts)
  bool ssh_command_shell = true;  // false: a login shell per command (see SshTarget::command_shell)
  std::string service_manager = "systemd";  // or "supervisor" (pidfile + log file, for hosts without systemd)
  std::string gossip_addr;     // the node's mesh bind address on the host (deploy renders it)
  std::string service;         // systemd unit of the node ("" = x0x-node-<name>.service)

  // A node on this machine, reached directly on loopback.
  static Host local(std::string name, std::string api_addr, std::string token_path, std::string install_root) {
    Host h;
    h.name = std::move(name);
    h.address = "127.0.0.1";
    h.transport = "local";
    h.api_addr = std::move(api_addr);
    h.token_path = std::move(token_path);
    h.install_root = std::move(install_root);
    return h;
  }
};

// One `[network.NAME]` table. Strings may contain {host} (the host's name)
// and {network}, so that several hosts on one machine get their own paths.
struct Network {
  std::string name;
  int gossip_port = 0, api_port = 0;  // 0: not given (hosts must then set the address)
  std::string instance;               // the [instance.*] it deploys
  std::string token_var_prefix;       // e.g. TEST → the environment's TEST_… token variables
  int confirm_hold_s = 0;             // deploy waits this long (red banner) unless --yes
  bool real_users = false;
  bool require_explicit = false;      // only a literal --network NAME selects it
  std::string service, token_path, install_root;  // per-host defaults (templates)
  int line = 0;
};

// Every distinct address of the host: address, ipv4, ipv6 (the mesh may use either family).
std::vector<std::string> addresses_of(const Host& h);

struct Fleet {
  std::filesystem::path path;
  std::string name;
  std::string anchor;
  std::vector<Host> hosts;
  std::vector<Network> networks;  // every [network.*] table, in file order
  std::string network;            // the selected network ("" when none)
  // [chaos]: allow = destructive operations permitted (empty = all refused),
  // forbid_networks = networks chaos never runs against.
  bool chaos_configured = false;  // a [chaos] table is present
  std::vector<std::string> chaos_allow, chaos_forbid_networks;

  const Host* find(const std::string& name) const;
  std::vector<std::string> names() const;
  const Network* selected_network() const;  // nullptr when none is selected
  // The selected network is one [chaos].forbid_networks names.
  bool chaos_forbidden() const;
};

// All the problems found, one per line: "fleet.toml:12: host[2].api_addr: expected host:port".
class InventoryError : public std::runtime_error {
 public:
  explicit InventoryError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// .json → JSON, else TOML. `network`: the --network the operator named; empty:
// [defaults].default_network, else the only network (unless it requires an
// explicit --network), else none (hosts give their own addresses).
Fleet load_fleet(const std::filesystem::path& path, const std::string& network = "");
Fleet parse_fleet_toml(std::string_view text, const std::string& source_name, const std::string& network = "");
Fleet parse_fleet_json(std::string_view text, const std::string& source_name, const std::string& network = "");
std::string render_fleet_toml(const Fleet& fleet);

}  // namespace x0x::orchestrator
