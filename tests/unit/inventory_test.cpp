#include <catch2/catch.hpp>

#include "orchestrator/inventory.h"

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
api_addr = "127.0.0.1:13600"
token_path = "/b/token"
install_root = "/srv/x"
)");
  CHECK_THAT(e, Contains("fleet.toml:2: host[1] (a).known_hosts: required for ssh hosts"));
  CHECK_THAT(e, Contains("host[1] (a).service_manager: expected \"systemd\" or \"supervisor\""));
  CHECK_THAT(e, Contains("fleet.toml:13: host[2] (b).ssh_port: expected a port number"));
  CHECK_THAT(e, Contains("host (b).install_root: \"/srv/x\" is already used by host a on 127.0.0.1"));
  CHECK_THAT(e, Contains("host (b).api port: \"13600\" is already used by host a"));
}
