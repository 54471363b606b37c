#include <catch2/catch.hpp>

#include <algorithm>

#include "orchestrator/faults/fault_commands.h"
#include "orchestrator/control/inventory.h"

using namespace x0x::orchestrator;
using Catch::Contains;

namespace {
const char* kGood = R"(schema_version = 1
fleet = "x0x-local"

[defaults]
anchor = "sfo"
known_hosts = "pinned_known_hosts"
ssh_port = 2222

[[host]]
name = "nyc"
address = "127.0.0.1"
transport = "local"
api_addr = "127.0.0.1:13600"
token_path = "/var/lib/x0x/nyc/api-token"
roles = ["bootstrap"]

[[host]]
name = "sfo"
ipv4 = "127.0.0.2"
api_addr = "127.0.0.1:13601"
token_path = "/var/lib/x0x/sfo/api-token"
)";

std::string errors_of(const std::string& text) {
  try {
    parse_fleet_toml(text, "fleet.toml");
  } catch (const InventoryError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("inventory: a valid fleet parses with its defaults") {
  auto f = parse_fleet_toml(kGood, "fleet.toml");
  REQUIRE(f.hosts.size() == 2);
  CHECK(f.anchor == "sfo");
  CHECK(f.hosts[0].transport == "local");
  CHECK(f.hosts[1].transport == "ssh");
  CHECK(f.hosts[1].address == "127.0.0.2");
  CHECK(f.hosts[0].roles == std::vector<std::string>{"bootstrap"});
  CHECK(f.names() == std::vector<std::string>{"nyc", "sfo"});
  CHECK(f.hosts[1].ssh_port == 2222);
  CHECK(f.hosts[1].ssh_user == "root");
  CHECK(f.hosts[1].service_manager == "systemd");
  CHECK(f.hosts[1].known_hosts == "pinned_known_hosts");  // relative to the inventory's folder
  CHECK(f.hosts[1].ssh_command_shell);
  {
    std::string text = kGood;
    text.replace(text.find("ssh_port = 2222"), 15, "ssh_port = 2222\nssh_command_shell = false");
    auto off = parse_fleet_toml(text, "fleet.toml");
    CHECK_FALSE(off.hosts[1].ssh_command_shell);
    CHECK_FALSE(parse_fleet_toml(render_fleet_toml(off), "rendered.toml").hosts[1].ssh_command_shell);
  }
  auto again = parse_fleet_toml(render_fleet_toml(f), "rendered.toml");
  CHECK(again.names() == f.names());
  CHECK(again.hosts[1].api_addr == "127.0.0.1:13601");
}

TEST_CASE("inventory: the same schema as JSON is accepted") {
  auto f = parse_fleet_json(R"({"schema_version":1,"defaults":{"anchor":"a"},"host":[
    {"name":"a","address":"127.0.0.1","transport":"local","api_addr":"127.0.0.1:1","token_path":"/t"}]})", "fleet.json");
  CHECK(f.anchor == "a");
  CHECK(f.hosts.at(0).api_addr == "127.0.0.1:1");
  CHECK_THROWS_WITH(parse_fleet_json("[1]", "fleet.json"), Contains("fleet.json: not a JSON object"));
}

TEST_CASE("inventory: every problem is reported with file, line and field") {
  std::string text = kGood;
  text.replace(text.find("api_addr = \"127.0.0.1:13601\""), 28, "api_addr = \"127.0.0.1:99999\"");
  text += "\n[[host]]\nname = \"nyc\"\napi_addr = \"127.0.0.1:1\"\ntoken_path = \"/t\"\ncolour = \"blue\"\n";
  auto e = errors_of(text);
  CHECK_THAT(e, Contains("fleet.toml:20: host[2] (sfo).api_addr: expected host:port"));
  CHECK_THAT(e, Contains("host[3] (nyc).name: duplicate host name 'nyc'"));
  CHECK_THAT(e, Contains("host[3] (nyc).address: missing"));
  CHECK_THAT(e, Contains("fleet.toml:27: host[3] (nyc).colour: unknown key"));
}

TEST_CASE("inventory: schema, anchor and syntax errors") {
  CHECK_THAT(errors_of("fleet = \"x\"\n"), Contains("schema_version: missing"));
  std::string bad_anchor = kGood;
  bad_anchor.replace(bad_anchor.find("anchor = \"sfo\""), 14, "anchor = \"lon\"");
  CHECK_THAT(errors_of(bad_anchor), Contains("fleet.toml:5: defaults.anchor: anchor 'lon' is not a host of this fleet"));
  CHECK_THAT(errors_of("schema_version = 1\n[[host]\n"), Contains("fleet.toml:2:"));
  CHECK_THAT(errors_of("schema_version = 1\nmystery = 3\n[[host]]\nname=\"a\"\naddress=\"x\"\napi_addr=\"127.0.0.1:1\"\ntoken_path=\"/t\"\n"),
             Contains("mystery: unknown key"));
  CHECK_THROWS_AS(load_fleet("/nonexistent/fleet.toml"), InventoryError);
}

TEST_CASE("inventory: ssh hosts need pinned host keys — hosts sharing a machine need their own root and ports") {
  auto e = errors_of(R"(schema_version = 1
[[host]]
name = "a"
address = "127.0.0.1"
api_addr = "127.0.0.1:13600"
token_path = "/a/token"
install_root = "/srv/x"
service_manager = "upstart"
[[host]]
name = "b"
address = "127.0.0.1"
known_hosts = "/k"
ssh_port = 70000
ssh_command_shell = "no"
api_addr = "127.0.0.1:13600"
token_path = "/b/token"
install_root = "/srv/x"
)");
  CHECK_THAT(e, Contains("fleet.toml:2: host[1] (a).known_hosts: required for ssh hosts"));
  CHECK_THAT(e, Contains("host[1] (a).service_manager: expected \"systemd\" or \"supervisor\""));
  CHECK_THAT(e, Contains("fleet.toml:13: host[2] (b).ssh_port: expected a port number"));
  CHECK_THAT(e, Contains("fleet.toml:14: host[2] (b).ssh_command_shell: expected true or false"));
  CHECK_THAT(e, Contains("host (b).install_root: \"/srv/x\" is already used by host a on 127.0.0.1"));
  CHECK_THAT(e, Contains("host (b).api port: \"13600\" is already used by host a"));
}

namespace {
// Two machines; "a" and "b" share 127.0.0.1 and so override ports per network.
const char* kNetworks = R"(schema_version = 1
[defaults]
known_hosts = "/k"
default_network = "test"

[network.test]
gossip_port = 6483
api_port = 13600
instance = "testnet"
token_var_prefix = "TEST"
service = "x0xd-testnet"
install_root = "/srv/x0x-{network}/{host}"

[network.prod]
gossip_port = 5483
api_port = 12600
instance = "prod"
token_var_prefix = "PROD"
confirm_hold_s = 5
real_users = true
require_explicit = true
token_path = "/root/.local/share/x0x/api-token"

[chaos]
allow = ["delay", "partition"]
forbid_networks = ["prod"]

[[host]]
name = "a"
address = "127.0.0.1"
[host.network.test]
api_addr = "127.0.0.1:13610"
gossip_addr = "127.0.0.1:6490"

[[host]]
name = "b"
address = "127.0.0.1"
service_manager = "supervisor"
[host.network.prod]
api_addr = "127.0.0.1:12610"
gossip_addr = "0.0.0.0:5490"

[[host]]
name = "c"
address = "10.0.0.3"
api_addr = "127.0.0.1:14000"
service = "custom-node"
)";

// text with the first `from` replaced by `to` (which must be there).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::string network_errors(const std::string& text, const std::string& network = "") {
  try {
    parse_fleet_toml(text, "fleet.toml", network);
  } catch (const InventoryError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("inventory: the default network fills each host unless the host sets it") {
  auto f = parse_fleet_toml(kNetworks, "fleet.toml");
  CHECK(f.network == "test");
  REQUIRE(f.selected_network());
  CHECK(f.selected_network()->instance == "testnet");
  CHECK(f.networks.size() == 2);
  CHECK(f.networks[0].name == "test");  // file order
  CHECK(f.hosts[0].api_addr == "127.0.0.1:13610");  // [host.network.test]
  CHECK(f.hosts[0].gossip_addr == "127.0.0.1:6490");
  CHECK(f.hosts[1].api_addr == "127.0.0.1:13600");  // the network's port
  CHECK(f.hosts[1].gossip_addr == "0.0.0.0:6483");
  CHECK(f.hosts[1].install_root == "/srv/x0x-test/b");  // {network} and {host} expanded
  CHECK(f.hosts[1].token_path == "/srv/x0x-test/b/data/api-token");  // the deployed data_dir's
  CHECK(f.hosts[1].service == "x0xd-testnet");
  CHECK(f.hosts[2].api_addr == "127.0.0.1:14000");  // the host's own key wins
  CHECK(f.hosts[2].service == "custom-node");
  CHECK(f.chaos_configured);
  CHECK(f.chaos_allow == std::vector<std::string>{"delay", "partition"});
  CHECK_FALSE(f.chaos_forbidden());
}

TEST_CASE("inventory: a require_explicit network is selected only by name") {
  auto f = parse_fleet_toml(kNetworks, "fleet.toml", "prod");
  CHECK(f.network == "prod");
  CHECK(f.selected_network()->require_explicit);
  CHECK(f.selected_network()->confirm_hold_s == 5);
  CHECK(f.selected_network()->real_users);
  CHECK(f.hosts[0].api_addr == "127.0.0.1:12600");
  CHECK(f.hosts[1].api_addr == "127.0.0.1:12610");
  CHECK(f.hosts[1].token_path == "/root/.local/share/x0x/api-token");
  CHECK(f.hosts[0].install_root.empty());
  CHECK(f.chaos_forbidden());
  // The only network, but it needs --network: none is selected and the hosts need addresses.
  std::string only_prod = replaced(kNetworks, "default_network = \"test\"\n", "");
  only_prod.erase(only_prod.find("[network.test]"), only_prod.find("[network.prod]") - only_prod.find("[network.test]"));
  only_prod = replaced(only_prod, "[host.network.test]\napi_addr = \"127.0.0.1:13610\"\ngossip_addr = \"127.0.0.1:6490\"\n", "");
  auto e = network_errors(only_prod);
  CHECK_THAT(e, Contains("host[1] (a).api_addr: missing (or select a network that gives it: --network prod)"));
  CHECK_THAT(e, Contains("host[1] (a).token_path: missing"));
  CHECK(parse_fleet_toml(only_prod, "fleet.toml", "prod").network == "prod");
  // A require_explicit network cannot be the default.
  auto default_prod = replaced(kNetworks, "default_network = \"test\"", "default_network = \"prod\"");
  CHECK_THAT(network_errors(default_prod),
             Contains("fleet.toml:4: defaults.default_network: network 'prod' has require_explicit = true: only an explicit --network prod selects it"));
}

TEST_CASE("inventory: an unknown --network lists the known ones") {
  CHECK_THAT(network_errors(kNetworks, "staging"), Contains("fleet.toml: --network: unknown network 'staging' (known: test, prod)"));
  CHECK_THAT(network_errors(kGood, "test"), Contains("--network: unknown network 'test' (this inventory has no [network] tables)"));
  // Without [network] tables nothing changes: the hosts' own fields.
  CHECK(parse_fleet_toml(kGood, "fleet.toml").network.empty());
}

TEST_CASE("inventory: bad network keys, ports and references name file, line and field") {
  auto text = replaced(kNetworks, "api_port = 13600", "api_port = 70000");
  text = replaced(text, "real_users = true", "real_users = \"yes\"");
  text = replaced(text, "token_var_prefix = \"TEST\"", "token_var_prefix = \"test\"\ncolour = 1");
  text = replaced(text, "forbid_networks = [\"prod\"]", "forbid_networks = [\"prdo\"]");
  text = replaced(text, "[host.network.prod]", "[host.network.stage]");
  auto e = network_errors(text, "prod");
  CHECK_THAT(e, Contains("fleet.toml:8: network.test.api_port: expected a port number 1..65535"));
  CHECK_THAT(e, Contains("fleet.toml:10: network.test.token_var_prefix: expected upper-case letters"));
  CHECK_THAT(e, Contains("fleet.toml:11: network.test.colour: unknown key (known: "));
  CHECK_THAT(e, Contains("fleet.toml:21: network.prod.real_users: expected true or false"));
  CHECK_THAT(e, Contains("fleet.toml:27: chaos.forbid_networks: unknown network 'prdo' (known: test, prod)"));
  CHECK_THAT(e, Contains("host[2] (b).network.stage: unknown network 'stage'"));
}

TEST_CASE("inventory: two networks on one machine must not share a port") {
  // b's prod API port is a's test gossip port: both instances would bind it on 127.0.0.1.
  auto text = replaced(kNetworks, "api_addr = \"127.0.0.1:12610\"", "api_addr = \"127.0.0.1:6490\"");
  auto e = network_errors(text);
  CHECK_THAT(e, Contains("fleet.toml:40: host (b).network.prod: api port 6490 clashes with the gossip port of host a on network test (same machine 127.0.0.1)"));
  // Within the selected network, hosts on one machine need their own ports.
  auto same = replaced(kNetworks, "[host.network.test]\napi_addr = \"127.0.0.1:13610\"\n", "[host.network.test]\n");
  CHECK_THAT(network_errors(same), Contains("host (b).api port: \"13600\" is already used by host a on 127.0.0.1"));
}

TEST_CASE("inventory: networks and chaos in the JSON form") {
  auto f = parse_fleet_json(R"({"schema_version":1,
    "network":{"test":{"api_port":13600,"gossip_port":6483,"service":"x0xd-{network}"},
               "prod":{"api_port":12600,"gossip_port":5483,"require_explicit":true}},
    "chaos":{"allow":["delay"],"forbid_networks":["prod"]},
    "defaults":{"default_network":"test"},
    "host":[{"name":"a","address":"127.0.0.1","transport":"local","network":{"prod":{"api_addr":"127.0.0.1:12700"}}}]})",
                            "fleet.json", "prod");
  CHECK(f.network == "prod");
  CHECK(f.hosts.at(0).api_addr == "127.0.0.1:12700");
  CHECK(f.hosts.at(0).gossip_addr == "0.0.0.0:5483");
  CHECK(f.chaos_forbidden());
  auto t = parse_fleet_json(R"({"schema_version":1,"network":{"test":{"api_port":13600,"service":"x0xd-{network}"}},
    "host":[{"name":"a","address":"127.0.0.1","transport":"local"}]})", "fleet.json");
  CHECK(t.network == "test");  // the only network
  CHECK(t.hosts.at(0).service == "x0xd-test");
  CHECK_THAT(network_errors(R"(schema_version = 1
network = 3
[[host]]
name = "a"
address = "x"
api_addr = "127.0.0.1:1"
token_path = "/t"
)"), Contains("fleet.toml:2: network: expected a table ([network])"));
}

TEST_CASE("inventory: a host's IPv4 and IPv6 addresses are kept, and a partition blocks both families") {
  auto f = parse_fleet_toml(R"(schema_version = 1
[[host]]
name = "nyc"
transport = "local"
ipv4 = "192.0.2.10"
ipv6 = "2001:db8::10"
api_addr = "127.0.0.1:13600"
token_path = "/tmp/none"
)",
                            "fleet.toml");
  REQUIRE(f.hosts.size() == 1);
  CHECK(f.hosts[0].address == "192.0.2.10");
  CHECK(addresses_of(f.hosts[0]) == std::vector<std::string>{"192.0.2.10", "2001:db8::10"});
  auto again = parse_fleet_toml(render_fleet_toml(f), "rendered.toml");
  CHECK(addresses_of(again.hosts[0]) == addresses_of(f.hosts[0]));
  std::vector<std::string> tools;
  for (auto& a : addresses_of(f.hosts[0]))
    for (auto& r : partition_rules(a, 6483, 6483, {"udp"})) tools.push_back(r.tool);
  CHECK(std::count(tools.begin(), tools.end(), "iptables") == 2);
  CHECK(std::count(tools.begin(), tools.end(), "ip6tables") == 2);
}

TEST_CASE("inventory: a JSON inventory's problems name their line, as a TOML one's do") {
  auto errors = [](const std::string& text) {
    try {
      parse_fleet_json(text, "fleet.json");
    } catch (const InventoryError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto e = errors(R"({"schema_version": 1,
"mystery": 3,
"defaults": {"anchor": "a",
  "colour": "blue"},
"host": [
  {"name": "a", "address": "127.0.0.1", "api_addr": "127.0.0.1:1", "token_path": "/t"},
  {"name": "b",
   "address": "127.0.0.1",
   "api_addr": "127.0.0.1:99999",
   "token_path": "/t"}
]})");
  CHECK_THAT(e, Contains("fleet.json:2: mystery: unknown key"));
  CHECK_THAT(e, Contains("fleet.json:4: defaults.colour: unknown key"));
  CHECK_THAT(e, Contains("fleet.json:9: host[2] (b).api_addr: expected host:port"));
  CHECK_THAT(errors(R"({"fleet": "x", "host": [{"name": "a"}]})"), Contains("fleet.json:1: schema_version: missing"));
}

TEST_CASE("inventory: a document nested far deeper than an inventory is refused by line, not by a crash") {
  std::string deep_json = R"({"schema_version": 1,)" "\n" R"("host": [)";
  for (int i = 0; i < 100000; ++i) deep_json += R"({"a":)";
  deep_json += "1";
  for (int i = 0; i < 100000; ++i) deep_json += "}";
  deep_json += "]}";
  CHECK_THROWS_WITH(parse_fleet_json(deep_json, "fleet.json"), Contains("fleet.json:2: nested deeper than 16 levels"));

  std::string deep_toml = "schema_version = 1\n[defaults";
  for (int i = 0; i < 100000; ++i) deep_toml += ".a";
  deep_toml += "]\nx = 1\n";
  CHECK_THROWS_WITH(parse_fleet_toml(deep_toml, "fleet.toml"), Contains("fleet.toml:2: a name dotted deeper than 16 levels"));
  std::string deep_value = "schema_version = 1\nx = " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  CHECK_THROWS_WITH(parse_fleet_toml(deep_value, "fleet.toml"), Contains("fleet.toml:2:"));
}
