// `x0xctl chaos` as an operator runs it, on a local fleet of lean nodes:
// usage errors exit 2, a fault shows in the node and in `chaos status`,
// `chaos clear` leaves every node clean, the inventory's chaos policy holds.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <fstream>
#include <regex>

#include "core/encoding.h"
#include "orchestrator/inventory.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path x0xctl_bin() {
#ifdef X0X_CTL_BIN
  return X0X_CTL_BIN;
#else
  // The build tree: <build>/node/x0x-lean-node → <build>/cli/x0xctl.
  return fs::path(X0X_LEAN_NODE_BIN).parent_path().parent_path() / "cli" / "x0xctl";
#endif
}

struct CliResult {
  int rc = -1;
  std::string out;
};

// Runs x0xctl in `cwd` (stdout and stderr together).
CliResult run_cli(const std::string& args, const fs::path& cwd) {
  auto bin = x0xctl_bin();
  REQUIRE(fs::exists(bin));
  CliResult r;
  FILE* p = ::popen(("cd '" + cwd.string() + "' && " + bin.string() + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("x0x-chaos-cli-" + random_hex(4));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

orchestrator::Fleet fleet_of(TestFleet& tf) {
  orchestrator::Fleet f;
  f.name = "chaos-cli";
  for (auto& n : tf.mesh().nodes())
    f.hosts.push_back(orchestrator::Host::local(n.name, n.api_base.substr(7), (n.data_dir / "api-token").string(), n.dir.string()));
  f.anchor = f.hosts.front().name;
  return f;
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

}  // namespace

TEST_CASE("chaos CLI: no --fleet and no ./fleet.toml, or a broken inventory, is a usage error (exit 2)", "[chaos]") {
  TempDir dir;
  auto r = run_cli("chaos status", dir.path);
  CHECK(r.rc == 2);
  CHECK_THAT(r.out, Catch::Contains("no --fleet given and no ./fleet.toml here"));

  auto broken = fs::path(__FILE__).parent_path().parent_path() / "data" / "broken-fleet.toml";
  auto b = run_cli("chaos clear --fleet " + broken.string(), dir.path);
  CHECK(b.rc == 2);
  CHECK_THAT(b.out, Catch::Contains("invalid inventory") && Catch::Contains("broken-fleet.toml:11:"));

  write_file(dir.path / "fleet.toml",
             "schema_version = 1\nfleet = \"x\"\n[defaults]\nanchor = \"sfo\"\n[[host]]\nname = \"sfo\"\naddress = "
             "\"127.0.0.1\"\ntransport = \"local\"\napi_addr = \"127.0.0.1:1\"\ntoken_path = \"/nonexistent\"\n");
  auto usage = run_cli("chaos delay --hosts nyc", dir.path);  // ./fleet.toml is used; nyc is not in it
  CHECK(usage.rc == 2);
  CHECK_THAT(usage.out, Catch::Contains("--hosts nyc: not a host of fleet.toml"));
}

TEST_CASE("chaos CLI: a delay on a local fleet shows in the node and in status, and clear empties every node", "[chaos]") {
  TestFleet tf(4);
  TempDir dir;
  auto fleet = fleet_of(tf);
  write_file(dir.path / "fleet.toml", orchestrator::render_fleet_toml(fleet));
  auto sfo = fleet.hosts[1].name, anchor = fleet.anchor;

  auto no_lease = run_cli("chaos delay --hosts " + sfo, dir.path);
  CHECK(no_lease.rc == 2);
  CHECK_THAT(no_lease.out, Catch::Contains("--for is required"));
  auto on_anchor = run_cli("chaos stall --hosts " + anchor + " --for 60s", dir.path);
  CHECK(on_anchor.rc == 2);
  CHECK_THAT(on_anchor.out, Catch::Contains("is the anchor"));

  auto dry = run_cli("chaos delay --hosts " + sfo + " --delay-ms 250 --jitter-ms 0 --for 60s --dry-run", dir.path);
  INFO(dry.out);
  CHECK(dry.rc == 0);
  CHECK_THAT(dry.out, Catch::Contains("POST " + fleet.hosts[1].api_addr + "/lean/faults"));
  CHECK(tf.get(1, "/lean/faults")["active"].empty());

  auto applied = run_cli("chaos delay --hosts " + sfo + " --delay-ms 250 --jitter-ms 0 --for 60s", dir.path);
  INFO(applied.out);
  CHECK(applied.rc == 0);
  CHECK_THAT(applied.out, Catch::Contains("applied delay on " + sfo + " (lean-api)"));
  auto a = tf.get(1, "/lean/faults")["active"];
  REQUIRE(a.contains("delay"));
  CHECK(a["delay"]["delay_ms"] == 250);
  CHECK(a["delay"]["lease_secs"] == 60);

  auto stale = run_cli("chaos stale --hosts " + fleet.hosts[2].name + "," + fleet.hosts[3].name + " --for 2m", dir.path);
  CHECK(stale.rc == 0);

  auto st = run_cli("chaos status --json " + (dir.path / "status.json").string(), dir.path);
  INFO(st.out);
  CHECK(st.rc == 0);
  CHECK(std::regex_search(st.out, std::regex(sfo + " +delay +lean-api +(59|60) s")));
  CHECK(std::regex_search(st.out, std::regex(fleet.hosts[3].name + " +stale +lean-api +1[0-9]{2} s")));
  CHECK_THAT(st.out, Catch::Contains("4 host(s), 3 active item(s)"));
  std::ifstream sj(dir.path / "status.json");
  CHECK(json::parse(sj).size() == 4);

  auto clear = run_cli("chaos clear", dir.path);
  INFO(clear.out);
  CHECK(clear.rc == 0);
  CHECK_THAT(clear.out, Catch::Contains("removed lean delay") && Catch::Contains("4 host(s), 0 not clean"));
  for (std::size_t i = 0; i < tf.size(); ++i) CHECK(tf.get(i, "/lean/faults")["active"].empty());
  CHECK_THAT(run_cli("chaos status", dir.path).out, Catch::Contains("4 host(s), 0 active item(s)"));
}

TEST_CASE("chaos CLI: the inventory's [chaos] policy refuses a forbidden network and operations not allowed", "[chaos]") {
  TestFleet tf(2);
  TempDir dir;
  auto fleet = fleet_of(tf);
  fleet.chaos_configured = true;
  fleet.chaos_allow = {"partition_recovery"};
  write_file(dir.path / "fleet.toml", orchestrator::render_fleet_toml(fleet));
  auto sfo = fleet.hosts[1].name;
  auto r = run_cli("chaos delay --hosts " + sfo + " --for 10s", dir.path);
  CHECK(r.rc == 2);
  CHECK_THAT(r.out, Catch::Contains("'delay' is not in fleet.toml [chaos] allow"));
  CHECK(tf.get(1, "/lean/faults")["active"].empty());
  // Removing faults is never refused.
  CHECK(run_cli("chaos clear", dir.path).rc == 0);

  // A [network.prod] that [chaos] forbids: refused whatever the flags.
  auto text = orchestrator::render_fleet_toml(fleet);
  text.replace(text.find("[chaos]\nallow = [\"partition_recovery\"]\nforbid_networks = []"),
               std::string("[chaos]\nallow = [\"partition_recovery\"]\nforbid_networks = []").size(),
               "[network.prod]\n\n[chaos]\nallow = [\"*\"]\nforbid_networks = [\"prod\"]");
  write_file(dir.path / "prod.toml", text);
  auto p = run_cli("chaos stall --fleet prod.toml --hosts " + sfo + " --for 10s", dir.path);
  INFO(text);
  CHECK(p.rc == 2);
  CHECK_THAT(p.out, Catch::Contains("network 'prod' is forbidden"));
  CHECK(tf.get(1, "/lean/faults")["active"].empty());
}
