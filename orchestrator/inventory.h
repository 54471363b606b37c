// The fleet inventory (fleet.toml, or the same schema as JSON): hosts, how to
// reach each node's REST API, and the anchor. Every verb refuses an invalid
// inventory with errors naming file, line and field.
//
// This is the subset that local fleets need; the SSH, network and instance
// tables of spec deploy-and-harvest.md §1.7 land with `deploy` (issue 4).
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
  std::string service_manager = "systemd";  // or "supervisor" (pidfile + log file, for hosts without systemd)
  std::string gossip_addr;     // the node's mesh bind address on the host (deploy renders it)

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

struct Fleet {
  std::filesystem::path path;
  std::string name;
  std::string anchor;
  std::vector<Host> hosts;
  const Host* find(const std::string& name) const;
  std::vector<std::string> names() const;
};

// All the problems found, one per line: "fleet.toml:12: host[2].api_addr: expected host:port".
class InventoryError : public std::runtime_error {
 public:
  explicit InventoryError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

Fleet load_fleet(const std::filesystem::path& path);  // .json → JSON, else TOML
Fleet parse_fleet_toml(std::string_view text, const std::string& source_name);
Fleet parse_fleet_json(std::string_view text, const std::string& source_name);
std::string render_fleet_toml(const Fleet& fleet);

}  // namespace x0x::orchestrator
