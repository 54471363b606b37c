#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "node/config.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using x0x::SocketAddr;
using namespace x0x::node;

namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value->c_str(), 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A fresh directory used as XDG_CONFIG_HOME and XDG_DATA_HOME.
class TempHome {
 public:
  TempHome() {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("x0x-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "config");
    fs::create_directories(dir_ / "data");
    config_env_.emplace("XDG_CONFIG_HOME", (dir_ / "config").string());
    data_env_.emplace("XDG_DATA_HOME", (dir_ / "data").string());
  }
  ~TempHome() {
    config_env_.reset();
    data_env_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }
  fs::path write(const fs::path& rel, const std::string& text) const {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }

 private:
  fs::path dir_;
  std::optional<ScopedEnv> config_env_, data_env_;
};

std::string parse_error(const std::string& toml) {
  try {
    parse_node_config(toml, "config.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

CliResult run_cli(std::vector<const char*> args) {
  args.insert(args.begin(), "x0x-lean-node");
  return parse_node_command_line(static_cast<int>(args.size()), args.data());
}

std::string cli_error(std::vector<const char*> args) {
  try {
    run_cli(std::move(args));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("config: defaults match x0xd") {
  TempHome home;
  NodeConfig c = parse_node_config("", "config.toml");
  CHECK(c.api_address == SocketAddr{"127.0.0.1", 12700});
  CHECK(c.bind_address == SocketAddr{"::", 5483});
  CHECK(c.data_dir == home.dir() / "data" / "x0x");
  CHECK(c.instance_name.empty());
  CHECK(c.log_level == "warn");
  CHECK_FALSE(c.bootstrap_peers.has_value());
  CHECK(c.active_view_size == 6);
  CHECK(c.passive_view_size == 30);
  CHECK(c.dispatch_workers == 1);
  CHECK(c.lean.dispatch_timeout_ms == 30000);
  CHECK(c.lean.membership_timeout_ms == 5000);
  CHECK(c.lean.peer_send_timeout_ms == 2500);
  CHECK(c.lean.anti_entropy_interval_ms == 1000);
  CHECK(c.lean.heartbeat_interval_ms == 5000);
  CHECK(c.lean.pubsub_queue_capacity == 10000);
  CHECK(c.lean.membership_queue_capacity == 4000);
  CHECK(c.lean.bulk_queue_capacity == 4000);
  CHECK(c.lean.io_threads == 1);
  CHECK(c.lean.dm_ack_timeout_ms == 10000);
  CHECK_FALSE(c.no_hard_coded_bootstrap);
  CHECK_FALSE(c.config_path.has_value());
  CHECK(c.warnings.empty());
}

TEST_CASE("config: data_dir falls back to ~/.local/share without XDG_DATA_HOME") {
  ScopedEnv data("XDG_DATA_HOME", std::nullopt);
  ScopedEnv homevar("HOME", "/home/tester");
  CHECK(parse_node_config("", "c.toml").data_dir == fs::path("/home/tester/.local/share/x0x"));
  CHECK(parse_node_config("instance_name = \"b\"", "c.toml").data_dir ==
        fs::path("/home/tester/.local/share/x0x-b"));
}

TEST_CASE("config: every key is parsed") {
  TempHome home;
  NodeConfig c = parse_node_config(R"(
api_address = "127.0.0.1:8080"
bind_address = "0.0.0.0:9000"
data_dir = "/var/lib/x0x-test"
log_level = "debug"
bootstrap_peers = ["10.0.0.1:5483", "[2001:db8::2]:5483"]

[gossip]
active_view_size = 8
passive_view_size = 40
dispatch_workers = 32

[lean]
dispatch_timeout_ms = 1
membership_timeout_ms = 2
peer_send_timeout_ms = 3
anti_entropy_interval_ms = 4
heartbeat_interval_ms = 5
pubsub_queue_capacity = 6
membership_queue_capacity = 7
bulk_queue_capacity = 8
io_threads = 9
dm_ack_timeout_ms = 4294967295
lazy_flush_ms = 10
graft_timeout_ms = 11
)",
                                   "config.toml");
  CHECK(c.api_address == SocketAddr{"127.0.0.1", 8080});
  CHECK(c.bind_address == SocketAddr{"0.0.0.0", 9000});
  CHECK(c.data_dir == fs::path("/var/lib/x0x-test"));
  CHECK(c.log_level == "debug");
  REQUIRE(c.bootstrap_peers.has_value());
  CHECK(*c.bootstrap_peers ==
        std::vector<SocketAddr>{{"10.0.0.1", 5483}, {"2001:db8::2", 5483}});
  CHECK(c.active_view_size == 8);
  CHECK(c.passive_view_size == 40);
  CHECK(c.dispatch_workers == 32);
  CHECK(c.lean.dispatch_timeout_ms == 1);
  CHECK(c.lean.membership_timeout_ms == 2);
  CHECK(c.lean.peer_send_timeout_ms == 3);
  CHECK(c.lean.anti_entropy_interval_ms == 4);
  CHECK(c.lean.heartbeat_interval_ms == 5);
  CHECK(c.lean.pubsub_queue_capacity == 6);
  CHECK(c.lean.membership_queue_capacity == 7);
  CHECK(c.lean.bulk_queue_capacity == 8);
  CHECK(c.lean.io_threads == 9);
  CHECK(c.lean.dm_ack_timeout_ms == 4294967295u);
  CHECK(c.lean.lazy_flush_ms == 10);
  CHECK(c.lean.graft_timeout_ms == 11);
  CHECK(c.warnings.empty());

  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    CHECK(parse_node_config(std::string("log_level = \"") + level + "\"", "c.toml").log_level ==
          level);
  }
}

TEST_CASE("config: unknown log_level falls back to warn with a warning") {
  TempHome home;
  NodeConfig c = parse_node_config("\nlog_level = \"verbose\"\n", "config.toml");
  CHECK(c.log_level == "warn");
  REQUIRE(c.warnings.size() == 1);
  CHECK_THAT(c.warnings[0], Contains("config.toml:2") && Contains("log_level") &&
                                Contains("verbose"));
}

TEST_CASE("config: named instance defaults") {
  TempHome home;
  SECTION("instance_name in the file") {
    NodeConfig c = parse_node_config("instance_name = \"alice\"", "config.toml");
    CHECK(c.instance_name == "alice");
    CHECK(c.api_address == SocketAddr{"127.0.0.1", 0});
    CHECK(c.bind_address == SocketAddr{"::", 0});
    CHECK(c.data_dir == home.dir() / "data" / "x0x-alice");
  }
  SECTION("explicit addresses are kept") {
    NodeConfig c = parse_node_config(
        "instance_name = \"alice\"\napi_address = \"127.0.0.1:9999\"\n"
        "bind_address = \"0.0.0.0:7000\"\ndata_dir = \"/tmp/a\"",
        "config.toml");
    CHECK(c.api_address == SocketAddr{"127.0.0.1", 9999});
    CHECK(c.bind_address == SocketAddr{"0.0.0.0", 7000});
    CHECK(c.data_dir == fs::path("/tmp/a"));
  }
  SECTION("--name selects x0x-<name> config and data dirs") {
    home.write("config/x0x-bob/config.toml", "log_level = \"info\"\n");
    home.write("config/x0x/config.toml", "log_level = \"error\"\n");
    CliResult r = run_cli({"--name", "bob"});
    CHECK(r.action == CliAction::run);
    CHECK(r.config.instance_name == "bob");
    CHECK(r.config.log_level == "info");
    CHECK(r.config.config_path == home.dir() / "config" / "x0x-bob" / "config.toml");
    CHECK(r.config.api_address == SocketAddr{"127.0.0.1", 0});
    CHECK(r.config.bind_address == SocketAddr{"::", 0});
    CHECK(r.config.data_dir == home.dir() / "data" / "x0x-bob");
  }
  SECTION("--name wins over instance_name") {
    auto path = home.write("custom.toml", "instance_name = \"alice\"\n");
    CliResult r = run_cli({"--config", path.c_str(), "--name", "bob"});
    CHECK(r.config.instance_name == "bob");
    CHECK(r.config.data_dir == home.dir() / "data" / "x0x-bob");
  }
  SECTION("--name keeps explicit ports from the file") {
    auto path = home.write("custom.toml", "api_address = \"127.0.0.1:9999\"\n");
    CliResult r = run_cli({"--config", path.c_str(), "--name", "bob"});
    CHECK(r.config.api_address == SocketAddr{"127.0.0.1", 9999});
    CHECK(r.config.bind_address == SocketAddr{"::", 0});
  }
}

TEST_CASE("config: --api-port overrides only the port") {
  TempHome home;
  SECTION("plain instance") {
    auto path = home.write("c.toml", "api_address = \"[::1]:8000\"\n");
    CliResult r = run_cli({"--config", path.c_str(), "--api-port", "8123"});
    CHECK(r.config.api_address == SocketAddr{"::1", 8123});
  }
  SECTION("after the named-instance defaults") {
    CliResult r = run_cli({"--name", "carol", "--api-port", "12345"});
    CHECK(r.config.api_address == SocketAddr{"127.0.0.1", 12345});
    CHECK(r.config.bind_address == SocketAddr{"::", 0});
  }
  SECTION("out of range") {
    CHECK_THAT(cli_error({"--api-port", "70000"}), Contains("--api-port"));
    CHECK_THAT(cli_error({"--api-port", "abc"}), Contains("--api-port"));
  }
}

TEST_CASE("config: command line flags") {
  TempHome home;
  SECTION("no config file anywhere gives defaults") {
    CliResult r = run_cli({});
    CHECK(r.action == CliAction::run);
    CHECK_FALSE(r.config.config_path.has_value());
    CHECK(r.config.api_address == SocketAddr{"127.0.0.1", 12700});
    CHECK(r.config.data_dir == home.dir() / "data" / "x0x");
  }
  SECTION("default config file is loaded") {
    home.write("config/x0x/config.toml", "api_address = \"127.0.0.1:1\"\n");
    CliResult r = run_cli({});
    CHECK(r.config.api_address == SocketAddr{"127.0.0.1", 1});
    CHECK(r.config.config_path == home.dir() / "config" / "x0x" / "config.toml");
  }
  SECTION("x0xd flags are accepted") {
    CliResult r = run_cli({"--no-hard-coded-bootstrap", "--disable-peer-cache",
                           "--no-port-mapping", "--exec-acl", "/etc/acl.toml", "--connect-acl",
                           "/etc/c.toml", "--check-updates", "--skip-update-check"});
    CHECK(r.action == CliAction::run);
    CHECK(r.config.no_hard_coded_bootstrap);
    CHECK(run_cli({"--no-bootstrap"}).config.no_hard_coded_bootstrap);
    CHECK_FALSE(run_cli({}).config.no_hard_coded_bootstrap);
  }
  SECTION("actions") {
    CHECK(run_cli({"--check"}).action == CliAction::check);
    CHECK(run_cli({"--version"}).action == CliAction::version);
    CHECK(run_cli({"-V"}).action == CliAction::version);
    CliResult h = run_cli({"--help"});
    CHECK(h.action == CliAction::help);
    CHECK_THAT(h.help_text, Contains("--config") && Contains("--api-port"));
    CHECK(run_cli({"-h"}).action == CliAction::help);
  }
  SECTION("--check still validates the config") {
    auto path = home.write("bad.toml", "api_address = \"nope\"\n");
    CHECK_THAT(cli_error({"--check", "--config", path.c_str()}),
               Contains("bad.toml:1") && Contains("api_address"));
  }
  SECTION("bad flags") {
    CHECK_THAT(cli_error({"--frobnicate"}), Contains("--frobnicate"));
    CHECK_THAT(cli_error({"--name", "../x"}), Contains("--name"));
    CHECK_THAT(cli_error({"--name", ""}), Contains("--name"));
  }
  SECTION("missing --config file names the path") {
    auto missing = home.dir() / "nope.toml";
    CHECK_THAT(cli_error({"--config", missing.c_str()}), Contains(missing.string()));
    CHECK_THAT(cli_error({"--config", home.dir().c_str()}), Contains(home.dir().string()));
  }
}

TEST_CASE("config: load_node_config_file") {
  TempHome home;
  auto path = home.write("node.toml", "log_level = \"trace\"\n");
  NodeConfig c = load_node_config_file(path);
  CHECK(c.log_level == "trace");
  CHECK(c.config_path == path);
  auto bad = home.write("broken.toml", "\n\napi_address = 12\n");
  try {
    load_node_config_file(bad);
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Contains(bad.string() + ":3: api_address"));
  }
  CHECK_THROWS_AS(load_node_config_file(home.dir() / "absent.toml"), ConfigError);
}

TEST_CASE("config: unknown keys and other x0xd keys are tolerated") {
  TempHome home;
  NodeConfig c = parse_node_config(R"(
network_id = "testnet"
log_format = "json"
something_new = [1, 2, 3]
dispatch_workers = 4

[update]
enabled = false

[gossip]
fanout = 3

[lean]
future_knob = true

[totally.unknown]
x = 1
)",
                                   "config.toml");
  CHECK(c.dispatch_workers == 1);  // the top-level one is not the [gossip] one
  REQUIRE(c.warnings.size() == 1);
  CHECK_THAT(c.warnings[0], Contains("config.toml:5") && Contains("dispatch_workers") &&
                                Contains("[gossip]"));

  CHECK(parse_node_config("[update]\nenabled = false\n", "config.toml").warnings.empty());
}

TEST_CASE("config: bootstrap_peers absent vs empty") {
  TempHome home;
  CHECK_FALSE(parse_node_config("", "c.toml").bootstrap_peers.has_value());
  auto empty = parse_node_config("bootstrap_peers = []", "c.toml").bootstrap_peers;
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
}

TEST_CASE("config: bad values name the file, the line and the key") {
  TempHome home;
  CHECK(parse_error("\n\n\napi_address = \"nonsense\"\n") ==
        "config.toml:4: api_address: expected a socket address like 127.0.0.1:12700, got "
        "\"nonsense\"");
  CHECK(parse_error("\n\n\n\n[gossip]\nactive_view_size = 6\ndispatch_workers = 0\n") ==
        "config.toml:7: gossip.dispatch_workers: invalid gossip config: dispatch_workers must "
        "be in 1..=32, got 0");
  CHECK_THAT(parse_error("[gossip]\ndispatch_workers = 33\n"),
             Contains("config.toml:2: gossip.dispatch_workers: invalid gossip config:"));
  CHECK_THAT(parse_error("\nbootstrap_peers = [\"1.2.3.4:5\", \"oops\"]\n"),
             Contains("config.toml:2: bootstrap_peers[1]: expected") && Contains("\"oops\""));
  CHECK_THAT(parse_error("bootstrap_peers = [\n  \"1.2.3.4:5\",\n  7,\n]\n"),
             Contains("config.toml:3: bootstrap_peers[1]: expected a string"));
  CHECK_THAT(parse_error("bootstrap_peers = \"1.2.3.4:5\"\n"),
             Contains("config.toml:1: bootstrap_peers: expected an array"));
  CHECK_THAT(parse_error("\nlog_level = 5\n"),
             Contains("config.toml:2: log_level: expected a string, got the integer 5"));
  CHECK_THAT(parse_error("bind_address = \"[::]:65536\"\n"),
             Contains("config.toml:1: bind_address: expected a socket address"));
  CHECK_THAT(parse_error("data_dir = \"\"\n"), Contains("config.toml:1: data_dir:"));
  CHECK_THAT(parse_error("instance_name = \"a/b\"\n"), Contains("config.toml:1: instance_name:"));
  CHECK_THAT(parse_error("[gossip]\nactive_view_size = 0\n"),
             Contains("config.toml:2: gossip.active_view_size: invalid gossip config:"));
  CHECK_THAT(parse_error("[gossip]\npassive_view_size = \"30\"\n"),
             Contains("config.toml:2: gossip.passive_view_size: expected an integer"));
  CHECK_THAT(parse_error("gossip = 3\n"), Contains("config.toml:1: gossip: expected a table"));
  CHECK_THAT(parse_error("[lean]\n\nio_threads = 0\n"),
             Contains("config.toml:3: lean.io_threads: must be a positive integer"));
  CHECK_THAT(parse_error("[lean]\ndm_ack_timeout_ms = -5\n"),
             Contains("config.toml:2: lean.dm_ack_timeout_ms:") && Contains("-5"));
  CHECK_THAT(parse_error("[lean]\nbulk_queue_capacity = 4294967296\n"),
             Contains("config.toml:2: lean.bulk_queue_capacity:"));
  CHECK_THAT(parse_error("[lean]\nheartbeat_interval_ms = 1.5\n"),
             Contains("config.toml:2: lean.heartbeat_interval_ms: expected an integer"));
}

TEST_CASE("config: TOML syntax errors give line and column") {
  TempHome home;
  std::string msg = parse_error("log_level = \"info\"\napi_address = \n");
  CHECK_THAT(msg, Contains("config.toml:2:") && Contains("invalid TOML"));
  msg = parse_error("[gossip]\ndispatch_workers = 1\n[gossip]\n");
  CHECK_THAT(msg, Contains("config.toml:3:"));
}
