// The node config the orchestrator renders (deploy and the local mesh share
// render_node_config_toml): what matters is what the node reads back.
#include <catch2/catch.hpp>

#include "node/config.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/deploy_plan.h"
#include "orchestrator/lifecycle/node_config_toml.h"

using namespace x0x;
using namespace x0x::orchestrator;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace fs = std::filesystem;

namespace {

NodeConfigKeys keys() {
  NodeConfigKeys k;
  k.api_address = "127.0.0.1:12600";
  k.bind_address = "[::1]:5483";
  k.data_dir = "/srv/o'brien x0x/\"data\"\\ü";
  k.instance_name = "nyc";
  k.log_level = "debug";
  k.bootstrap_peers = {"203.0.113.10:5483", "[2001:db8::2]:5483"};
  return k;
}

}  // namespace

TEST_CASE("node config: every key the orchestrator sets reads back in the node, odd characters included",
          "[node_config_toml]") {
  auto text = render_node_config_toml(keys(), "", "tpl", "Rendered for nyc.\nSecond line.");
  CHECK_THAT(text, StartsWith("# Rendered for nyc.\n# Second line.\n"));
  auto c = node::parse_node_config(text, "rendered");
  CHECK(c.api_address == SocketAddr{"127.0.0.1", 12600});
  CHECK(c.bind_address == SocketAddr{"::1", 5483});
  CHECK(c.data_dir == fs::path(keys().data_dir));
  CHECK(c.instance_name == "nyc");
  CHECK(c.log_level == "debug");
  REQUIRE(c.bootstrap_peers);
  CHECK(*c.bootstrap_peers == std::vector<SocketAddr>{{"203.0.113.10", 5483}, {"2001:db8::2", 5483}});
  CHECK(c.warnings.empty());
  // No peers is an empty list (not the embedded default).
  auto k = keys();
  k.bootstrap_peers.clear();
  auto none = node::parse_node_config(render_node_config_toml(k), "rendered");
  REQUIRE(none.bootstrap_peers);
  CHECK(none.bootstrap_peers->empty());
}

TEST_CASE("node config: the operator's template is kept, the orchestrator's keys win, before any section",
          "[node_config_toml]") {
  const std::string tpl =
      "log_level = \"trace\"\napi_address = \"1.2.3.4:1\"\nbootstrap_peers = [\"9.9.9.9:1\"]\n"
      "[gossip]\ndispatch_workers = 3\n[lean]\nio_threads = 2\n";
  auto k = keys();
  auto text = render_node_config_toml(k, tpl, "tpl.toml");
  CHECK(text.find("1.2.3.4") == std::string::npos);
  CHECK(text.find("9.9.9.9") == std::string::npos);
  CHECK(text.find("bootstrap_peers") < text.find("[gossip]"));
  auto c = node::parse_node_config(text, "rendered");
  CHECK(c.api_address == SocketAddr{"127.0.0.1", 12600});
  CHECK(c.dispatch_workers == 3);
  CHECK(c.lean.io_threads == 2);
  CHECK(c.log_level == "debug");
  // No log level given: the template's; none there either: info.
  k.log_level.clear();
  CHECK(node::parse_node_config(render_node_config_toml(k, tpl, "tpl.toml"), "r").log_level == "trace");
  CHECK(node::parse_node_config(render_node_config_toml(k), "r").log_level == "info");
  // A template that is not TOML: its name and line.
  CHECK_THROWS_WITH(render_node_config_toml(k, "ok = 1\nnot toml\n", "tpl.toml"), StartsWith("tpl.toml:2:"));
}

TEST_CASE("node config: deploy renders it from the inventory, and a restart pins the addresses", "[node_config_toml]") {
  Fleet f;
  f.path = "fleet.toml";
  Host a, b;
  a.name = "nyc";
  a.address = "203.0.113.10";
  a.api_addr = "127.0.0.1:12600";
  a.gossip_addr = "0.0.0.0:5483";
  a.install_root = "/srv/o'brien x0x";
  a.roles = {"bootstrap"};
  b = a;
  b.name = "sfo";
  b.address = "203.0.113.11";
  b.roles = {};
  f.hosts = {a, b};
  auto text = render_node_config(f, b, HostLayout::for_host(b), "[gossip]\ndispatch_workers = 2\n", "/etc/tpl.toml", "");
  CHECK_THAT(text, StartsWith("# Rendered by x0xctl deploy for host sfo from tpl.toml"));
  auto c = node::parse_node_config(text, "rendered");
  CHECK(c.data_dir == fs::path("/srv/o'brien x0x/data"));
  CHECK(c.instance_name == "sfo");
  CHECK(c.dispatch_workers == 2);
  REQUIRE(c.bootstrap_peers);
  CHECK(*c.bootstrap_peers == std::vector<SocketAddr>{{"203.0.113.10", 5483}});
  CHECK_THROWS_AS(render_node_config(f, b, HostLayout::for_host(b), "[gossip\n", "tpl.toml", ""), DeployUsageError);

  auto pinned = pin_node_config_addresses(text, "config.toml", "127.0.0.1:40001", "127.0.0.1:40002");
  CHECK_THAT(pinned, StartsWith("# Rendered by x0xctl deploy for host sfo"));
  auto p = node::parse_node_config(pinned, "pinned");
  CHECK(p.api_address == SocketAddr{"127.0.0.1", 40001});
  CHECK(p.bind_address == SocketAddr{"127.0.0.1", 40002});
  CHECK(p.data_dir == c.data_dir);
  CHECK(p.dispatch_workers == 2);
  CHECK(*p.bootstrap_peers == *c.bootstrap_peers);
}
