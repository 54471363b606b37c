// x0xd-compatible command line and config.toml for x0x-lean-node.
// toml++ and CLI11 stay inside this file so the header is cheap to include.
#include "node/config.h"

#include "core/toml_text.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace x0x::node {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kU32Max = std::numeric_limits<std::uint32_t>::max();

struct LeanKey {
  std::string_view name;
  std::uint32_t LeanTuning::*field;
};
constexpr LeanKey kLeanKeys[] = {
    {"dispatch_timeout_ms", &LeanTuning::dispatch_timeout_ms},
    {"membership_timeout_ms", &LeanTuning::membership_timeout_ms},
    {"peer_send_timeout_ms", &LeanTuning::peer_send_timeout_ms},
    {"anti_entropy_interval_ms", &LeanTuning::anti_entropy_interval_ms},
    {"heartbeat_interval_ms", &LeanTuning::heartbeat_interval_ms},
    {"pubsub_queue_capacity", &LeanTuning::pubsub_queue_capacity},
    {"membership_queue_capacity", &LeanTuning::membership_queue_capacity},
    {"bulk_queue_capacity", &LeanTuning::bulk_queue_capacity},
    {"io_threads", &LeanTuning::io_threads},
    {"dm_ack_timeout_ms", &LeanTuning::dm_ack_timeout_ms},
    {"lazy_flush_ms", &LeanTuning::lazy_flush_ms},
    {"graft_timeout_ms", &LeanTuning::graft_timeout_ms},
    {"lazy_target", &LeanTuning::lazy_target},
    {"handshake_timeout_ms", &LeanTuning::handshake_timeout_ms},
    {"peer_idle_timeout_ms", &LeanTuning::peer_idle_timeout_ms},
    {"dm_freshness_ms", &LeanTuning::dm_freshness_ms},
    {"max_known_addresses", &LeanTuning::max_known_addresses},
    {"dials_per_sec", &LeanTuning::dials_per_sec},
    {"cooling_threshold", &LeanTuning::cooling_threshold},
    {"cooling_window_ms", &LeanTuning::cooling_window_ms},
    {"cooldown_ms", &LeanTuning::cooldown_ms},
};
constexpr std::string_view kGossipKeys[] = {"active_view_size", "passive_view_size",
                                            "dispatch_workers"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

std::string quote(std::string_view s) { return x0x::toml_quote(s); }

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "the string " + quote(n.as_string()->get());
    case toml::node_type::integer: return cat("the integer ", n.as_integer()->get());
    case toml::node_type::floating_point: return cat("the float ", n.as_floating_point()->get());
    case toml::node_type::boolean: return n.as_boolean()->get() ? "true" : "false";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

bool contains(const auto& list, std::string_view s) {
  for (std::string_view item : list)
    if (item == s) return true;
  return false;
}

// Turns toml++ nodes into typed values, throwing "<file>:<line>: <key>: ..."
// on anything x0xd would reject.
class Reader {
 public:
  Reader(std::string_view source, std::vector<std::string>& warnings)
      : source_(source), warnings_(warnings) {}

  std::string where(const toml::node& n) const {
    auto line = n.source().begin.line;
    return line ? cat(source_, ":", line) : std::string(source_);
  }

  [[noreturn]] void fail(const toml::node& n, std::string_view key, std::string_view what) const {
    throw ConfigError(cat(where(n), ": ", key, ": ", what));
  }

  void warn(const toml::node& n, std::string_view key, std::string_view what) const {
    warnings_.push_back(cat(where(n), ": ", key, ": ", what));
  }

  const std::string& string(const toml::node& n, std::string_view key) const {
    if (!n.is_string()) fail(n, key, "expected a string, got " + describe(n));
    return n.as_string()->get();
  }

  std::int64_t integer(const toml::node& n, std::string_view key) const {
    if (!n.is_integer()) fail(n, key, "expected an integer, got " + describe(n));
    return n.as_integer()->get();
  }

  // `rule` says what is allowed, e.g. "must be in 1..=32".
  std::uint32_t u32_in(const toml::node& n, std::string_view key, std::int64_t lo, std::int64_t hi,
                       std::string_view rule) const {
    std::int64_t v = integer(n, key);
    if (v < lo || v > hi) fail(n, key, cat(rule, ", got ", v));
    return static_cast<std::uint32_t>(v);
  }

  const toml::table& table(const toml::node& n, std::string_view key) const {
    if (!n.is_table()) fail(n, key, "expected a table, got " + describe(n));
    return *n.as_table();
  }

  x0x::SocketAddr socket_addr(const toml::node& n, std::string_view key,
                              std::string_view example) const {
    const std::string& s = string(n, key);
    auto addr = x0x::parse_socket_addr(s);
    if (!addr) fail(n, key, cat("expected a socket address like ", example, ", got ", quote(s)));
    return *addr;
  }

 private:
  std::string_view source_;
  std::vector<std::string>& warnings_;
};

void check_instance_name(std::string_view name, const std::string& context) {
  // The name becomes a directory name (x0x-<name>), so it must stay one.
  if (name == "." || name == ".." || name.find_first_of(std::string_view("/\\\0", 3)) != name.npos) {
    throw ConfigError(cat(context, "instance name ", quote(name),
                          " must not contain '/' or be \".\" or \"..\""));
  }
}

void parse_gossip(const Reader& r, const toml::table& t, NodeConfig& cfg) {
  for (auto&& [key, node] : t) {
    std::string name = cat("gossip.", key.str());
    if (key.str() == "dispatch_workers") {
      cfg.dispatch_workers =
          r.u32_in(node, name, 1, 32, "invalid gossip config: dispatch_workers must be in 1..=32");
    } else if (key.str() == "active_view_size" || key.str() == "passive_view_size") {
      auto v = r.u32_in(node, name, 1, kU32Max,
                        cat("invalid gossip config: ", key.str(), " must be a positive integer"));
      (key.str() == "active_view_size" ? cfg.active_view_size : cfg.passive_view_size) = v;
    }
    // Other x0xd gossip keys are not used by the lean node.
  }
}

void parse_lean(const Reader& r, const toml::table& t, NodeConfig& cfg) {
  for (auto&& [key, node] : t) {
    for (const auto& lk : kLeanKeys) {
      if (lk.name != key.str()) continue;
      std::string name = cat("lean.", lk.name);
      cfg.lean.*lk.field = r.u32_in(node, name, 1, kU32Max, "must be a positive integer (at most 4294967295)");
    }
  }
}

// Everything the file says; data_dir stays empty when the file does not set
// it because its default depends on the instance name, known only later.
NodeConfig parse_raw(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw ConfigError(cat(source, ":", at.line, ":", at.column, ": invalid TOML: ", e.description()));
  }

  NodeConfig cfg;
  Reader r(source, cfg.warnings);
  for (auto&& [key, node] : root) {
    std::string_view k = key.str();
    if (k == "api_address") {
      cfg.api_address = r.socket_addr(node, k, "127.0.0.1:12700");
    } else if (k == "bind_address") {
      cfg.bind_address = r.socket_addr(node, k, "[::]:5483");
    } else if (k == "data_dir") {
      const std::string& s = r.string(node, k);
      if (s.empty()) r.fail(node, k, "expected a directory path, got an empty string");
      cfg.data_dir = s;
    } else if (k == "instance_name") {
      cfg.instance_name = r.string(node, k);
      check_instance_name(cfg.instance_name, cat(r.where(node), ": instance_name: "));
    } else if (k == "log_level") {
      std::string level = r.string(node, k);
      for (auto& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (contains(kLogLevels, level)) {
        cfg.log_level = level;
      } else {
        // x0xd falls back rather than refusing to start; so do we.
        r.warn(node, k, cat("unknown level ", quote(r.string(node, k)),
                            " (expected trace, debug, info, warn or error), using warn"));
        cfg.log_level = "warn";
      }
    } else if (k == "bootstrap_peers") {
      if (!node.is_array()) r.fail(node, k, "expected an array of socket addresses, got " + describe(node));
      std::vector<x0x::SocketAddr> peers;
      const auto& arr = *node.as_array();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        peers.push_back(r.socket_addr(arr[i], cat("bootstrap_peers[", i, "]"), "203.0.113.7:5483"));
      }
      cfg.bootstrap_peers = std::move(peers);
    } else if (k == "gossip") {
      parse_gossip(r, r.table(node, k), cfg);
    } else if (k == "lean") {
      parse_lean(r, r.table(node, k), cfg);
    } else if (contains(kGossipKeys, k)) {
      r.warn(node, k, "ignored: top-level key; did you mean it under [gossip]?");
    } else {
      for (const auto& lk : kLeanKeys) {
        if (lk.name == k) r.warn(node, k, "ignored: top-level key; did you mean it under [lean]?");
      }
      // Anything else ([update], network_id, log_format, ...) is an x0xd key the
      // lean node has no use for, or unknown: tolerated, like x0xd does.
    }
  }
  return cfg;
}

// XDG base directory, or $HOME/<fallback>; empty if neither is usable.
fs::path xdg_dir(const char* var, const char* home_fallback) {
  const char* v = std::getenv(var);
  if (v && *v && fs::path(v).is_absolute()) return v;  // relative values are ignored per XDG
  const char* home = std::getenv("HOME");
  if (home && *home) return fs::path(home) / home_fallback;
  return {};
}

std::string instance_dir_name(const std::string& instance_name) {
  return instance_name.empty() ? "x0x" : "x0x-" + instance_name;
}

// Defaults that depend on the instance name, as x0xd applies them.
void apply_instance_defaults(NodeConfig& cfg) {
  if (cfg.data_dir.empty()) {
    fs::path base = xdg_dir("XDG_DATA_HOME", ".local/share");
    if (base.empty()) {
      throw ConfigError("cannot choose a data directory: neither XDG_DATA_HOME nor HOME is set; "
                        "set data_dir in the config file");
    }
    cfg.data_dir = base / instance_dir_name(cfg.instance_name);
  }
  if (!cfg.instance_name.empty()) {
    // Several named instances share a host: ephemeral ports unless chosen.
    const NodeConfig defaults;
    if (cfg.api_address == defaults.api_address) cfg.api_address = {"127.0.0.1", 0};
    if (cfg.bind_address == defaults.bind_address) cfg.bind_address = {"::", 0};
  }
}

std::string read_text_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw ConfigError(cat(path.string(), ": cannot read config file: it is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(cat(path.string(), ": cannot read config file: ", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(cat(path.string(), ": cannot read config file: read error"));
  return text.str();
}

NodeConfig load_raw_file(const fs::path& path) {
  NodeConfig cfg = parse_raw(read_text_file(path), path.string());
  cfg.config_path = path;
  return cfg;
}

}  // namespace

NodeConfig parse_node_config(std::string_view toml_text, std::string_view source_name) {
  NodeConfig cfg = parse_raw(toml_text, source_name);
  apply_instance_defaults(cfg);
  return cfg;
}

NodeConfig load_node_config_file(const std::filesystem::path& path) {
  NodeConfig cfg = load_raw_file(path);
  apply_instance_defaults(cfg);
  return cfg;
}

CliResult parse_node_command_line(int argc, const char* const* argv) {
  CLI::App app{"Lean x0x node: speaks the x0xd REST API and reads x0xd's config.",
               "x0x-lean-node"};
  app.set_help_flag();  // our own -h so the caller decides how to print it

  std::string config_file, name, exec_acl, connect_acl;
  int api_port = 0;
  bool no_bootstrap = false, check = false, version = false, help = false, ignored = false;

  auto* config_opt = app.add_option("--config", config_file, "Path to config.toml");
  auto* name_opt = app.add_option(
      "--name", name, "Named instance: own config/data dirs (x0x-<name>), ephemeral ports");
  auto* port_opt = app.add_option("--api-port", api_port, "Override the port of api_address")
                       ->check(CLI::Range(0, 65535));
  app.add_flag("--no-hard-coded-bootstrap,--no-bootstrap", no_bootstrap,
               "Do not use the embedded bootstrap list (the lean node has none)");
  app.add_flag("--check", check, "Validate the configuration and exit");
  app.add_flag("-V,--version", version, "Print the version and exit");
  app.add_flag("-h,--help", help, "Print this help and exit");
  // Accepted so x0xd command lines work unchanged; nothing here uses them.
  app.add_flag("--disable-peer-cache", ignored, "Accepted for x0xd compatibility; ignored");
  app.add_flag("--no-port-mapping", ignored, "Accepted for x0xd compatibility; ignored");
  app.add_flag("--check-updates", ignored, "Accepted for x0xd compatibility; ignored");
  app.add_flag("--skip-update-check", ignored, "Accepted for x0xd compatibility; ignored");
  app.add_option("--exec-acl", exec_acl, "Accepted for x0xd compatibility; ignored");
  app.add_option("--connect-acl", connect_acl, "Accepted for x0xd compatibility; ignored");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    throw ConfigError(cat("command line: ", e.what(), " (see --help)"));
  }

  CliResult result;
  if (help) {
    result.action = CliAction::help;
    result.help_text = app.help();
    return result;
  }
  if (version) {
    result.action = CliAction::version;
    return result;
  }

  if (name_opt->count()) {
    if (name.empty()) throw ConfigError("command line: --name: instance name must not be empty");
    check_instance_name(name, "command line: --name: ");
  }

  NodeConfig cfg;
  if (config_opt->count()) {
    cfg = load_raw_file(config_file);
  } else {
    fs::path home = xdg_dir("XDG_CONFIG_HOME", ".config");
    std::error_code ec;
    fs::path candidate = home / instance_dir_name(name) / "config.toml";
    if (!home.empty() && fs::exists(candidate, ec)) cfg = load_raw_file(candidate);
  }

  if (!name.empty()) cfg.instance_name = name;  // --name wins over instance_name
  apply_instance_defaults(cfg);
  if (port_opt->count()) cfg.api_address.port = static_cast<std::uint16_t>(api_port);
  cfg.no_hard_coded_bootstrap = no_bootstrap;

  result.action = check ? CliAction::check : CliAction::run;
  result.config = std::move(cfg);
  return result;
}

}  // namespace x0x::node
