// Configuration of x0x-lean-node. It takes the same command line and TOML
// file as the real daemon x0xd, so fleets can swap one for the other; keys the
// lean node has no use for are accepted and ignored.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/socket_addr.h"

namespace x0x::node {

// Lean-only knobs, read from the [lean] table (x0xd ignores that table).
struct LeanTuning {
  std::uint32_t dispatch_timeout_ms = 30000, membership_timeout_ms = 5000,
                peer_send_timeout_ms = 2500, anti_entropy_interval_ms = 1000,
                heartbeat_interval_ms = 5000, pubsub_queue_capacity = 10000,
                membership_queue_capacity = 4000, bulk_queue_capacity = 4000, io_threads = 1,
                dm_ack_timeout_ms = 10000, lazy_flush_ms = 50, graft_timeout_ms = 250,
                lazy_target = 8,  // IHAVE per message to this many random lazy peers, not all of them
                handshake_timeout_ms = 10000,  // a connection without a handshake by then is closed
                peer_idle_timeout_ms = 45000,  // a peer silent this long (no PONG either) is dead: closed, redialled
                dm_freshness_ms = 600000,      // DMs signed further than this from our clock are refused
                max_known_addresses = 1024, dials_per_sec = 20,  // peer exchange bounds
                // cooling (saorsa-gossip's): this many per-peer send timeouts of one
                // (peer, topic) within the window suppress it for the cooldown
                cooling_threshold = 5, cooling_window_ms = 30000, cooldown_ms = 120000;
};

struct NodeConfig {
  x0x::SocketAddr api_address{"127.0.0.1", 12700};
  x0x::SocketAddr bind_address{"::", 5483};
  std::filesystem::path data_dir;
  std::string instance_name;
  std::string log_level = "warn";
  // nullopt: the embedded bootstrap list (the lean node has none); empty: none.
  std::optional<std::vector<x0x::SocketAddr>> bootstrap_peers;
  std::uint32_t active_view_size = 6, passive_view_size = 30, dispatch_workers = 1;
  LeanTuning lean;
  bool no_hard_coded_bootstrap = false;
  std::optional<std::filesystem::path> config_path;  // the file actually loaded
  std::vector<std::string> warnings;                 // non-fatal problems, for the log
};

// Message form: "<file>:<line>: <key>: <what is wrong>".
class ConfigError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parse TOML text; source_name is used in error messages (usually the file
// path). Applies the defaults that depend on instance_name (data_dir, ports).
NodeConfig parse_node_config(std::string_view toml_text, std::string_view source_name);

// ConfigError naming the path if unreadable.
NodeConfig load_node_config_file(const std::filesystem::path& path);

enum class CliAction { run, check, version, help };
struct CliResult {
  CliAction action = CliAction::run;
  NodeConfig config;      // not loaded for version and help
  std::string help_text;  // set for help
};

// Parses argv (x0xd flags), loads the config file and applies the overrides.
// ConfigError on bad flags/config.
CliResult parse_node_command_line(int argc, const char* const* argv);

}  // namespace x0x::node
