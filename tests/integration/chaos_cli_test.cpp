// `x0xctl chaos` as an operator runs it, on a local fleet of lean nodes:
// usage errors exit 2, a fault shows in the node and in `chaos status`,
// `chaos clear` leaves every node clean, the inventory's chaos policy holds.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <fstream>
#include <regex>

#include "core/encoding.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_fleet.h"
#include "tests/support/cli_runner.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/source_dir.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

orchestrator::Fleet fleet_of(TestFleet& tf) {
  auto f = orchestrator::fleet_of_mesh(tf.mesh(), "fleet.toml");
  f.name = "chaos-cli";
  return f;
}

}  // namespace

TEST_CASE("chaos CLI: no --fleet and no ./fleet.toml, or a broken inventory, is a usage error (exit 2)", "[chaos]") {
  TempDir dir;
  auto r = run_x0xctl("chaos status", dir.path);
  CHECK(r.rc == 2);
  CHECK_THAT(r.out, Catch::Contains("no --fleet given and no ./fleet.toml here"));

  auto broken = x0x::testing::test_data("broken-fleet.toml");
  auto b = run_x0xctl("chaos clear --fleet " + broken.string(), dir.path);
  CHECK(b.rc == 2);
  CHECK_THAT(b.out, Catch::Contains("invalid inventory") && Catch::Contains("broken-fleet.toml:11:"));

  write_file(dir.path / "fleet.toml",
             "schema_version = 1\nfleet = \"x\"\n[defaults]\nanchor = \"sfo\"\n[[host]]\nname = \"sfo\"\naddress = "
             "\"127.0.0.1\"\ntransport = \"local\"\napi_addr = \"127.0.0.1:1\"\ntoken_path = \"/nonexistent\"\n");
  auto usage = run_x0xctl("chaos delay --hosts nyc", dir.path);  // ./fleet.toml is used; nyc is not in it
  CHECK(usage.rc == 2);
  CHECK_THAT(usage.out, Catch::Contains("--hosts nyc: not a host of fleet.toml"));
}

TEST_CASE("chaos CLI: a delay on a local fleet shows in the node and in status, and clear empties every node", "[chaos]") {
  TestFleet tf(4);
  TempDir dir;
  auto fleet = fleet_of(tf);
  write_file(dir.path / "fleet.toml", orchestrator::render_fleet_toml(fleet));
  auto sfo = fleet.hosts[1].name, anchor = fleet.anchor;

  auto no_lease = run_x0xctl("chaos delay --hosts " + sfo, dir.path);
  CHECK(no_lease.rc == 2);
  CHECK_THAT(no_lease.out, Catch::Contains("--for is required"));
  auto on_anchor = run_x0xctl("chaos stall --hosts " + anchor + " --for 60s", dir.path);
  CHECK(on_anchor.rc == 2);
  CHECK_THAT(on_anchor.out, Catch::Contains("is the anchor"));

  auto dry = run_x0xctl("chaos delay --hosts " + sfo + " --delay-ms 250 --jitter-ms 0 --for 60s --dry-run", dir.path);
  INFO(dry.out);
  CHECK(dry.rc == 0);
  CHECK_THAT(dry.out, Catch::Contains("POST " + fleet.hosts[1].api_addr + "/lean/faults"));
  CHECK(tf.get(1, "/lean/faults")["active"].empty());

  auto applied = run_x0xctl("chaos delay --hosts " + sfo + " --delay-ms 250 --jitter-ms 0 --for 60s", dir.path);
  INFO(applied.out);
  CHECK(applied.rc == 0);
  CHECK_THAT(applied.out, Catch::Contains("applied delay on " + sfo + " (lean-api)"));
  auto a = tf.get(1, "/lean/faults")["active"];
  REQUIRE(a.contains("delay"));
  CHECK(a["delay"]["delay_ms"] == 250);
  CHECK(a["delay"]["lease_secs"] == 60);

  auto stale = run_x0xctl("chaos stale --hosts " + fleet.hosts[2].name + "," + fleet.hosts[3].name + " --for 2m", dir.path);
  CHECK(stale.rc == 0);

  auto st = run_x0xctl("chaos status --json " + (dir.path / "status.json").string(), dir.path);
  INFO(st.out);
  CHECK(st.rc == 0);
  CHECK(std::regex_search(st.out, std::regex(sfo + " +delay +lean-api +(59|60) s")));
  CHECK(std::regex_search(st.out, std::regex(fleet.hosts[3].name + " +stale +lean-api +1[0-9]{2} s")));
  // A delayed node's links are delayed at their other ends too (as netem
  // delays the acks its peers wait for); status names those links.
  for (std::size_t i : {0, 2, 3})
    CHECK(std::regex_search(st.out, std::regex(fleet.hosts[i].name + " +delay +lean-api +(59|60) s +\\(links to " + sfo + "\\)")));
  CHECK_THAT(st.out, Catch::Contains("4 host(s), 6 active item(s)"));
  std::ifstream sj(dir.path / "status.json");
  CHECK(json::parse(sj).size() == 4);

  auto clear = run_x0xctl("chaos clear", dir.path);
  INFO(clear.out);
  CHECK(clear.rc == 0);
  CHECK_THAT(clear.out, Catch::Contains("removed lean delay") && Catch::Contains("4 host(s), 0 not clean"));
  for (std::size_t i = 0; i < tf.size(); ++i) CHECK(tf.get(i, "/lean/faults")["active"].empty());
  CHECK_THAT(run_x0xctl("chaos status", dir.path).out, Catch::Contains("4 host(s), 0 active item(s)"));
}

TEST_CASE("chaos CLI: the inventory's [chaos] policy refuses a forbidden network and operations not allowed", "[chaos]") {
  TestFleet tf(2);
  TempDir dir;
  auto fleet = fleet_of(tf);
  fleet.chaos_configured = true;
  fleet.chaos_allow = {"partition_recovery"};
  write_file(dir.path / "fleet.toml", orchestrator::render_fleet_toml(fleet));
  auto sfo = fleet.hosts[1].name;
  auto r = run_x0xctl("chaos delay --hosts " + sfo + " --for 10s", dir.path);
  CHECK(r.rc == 2);
  CHECK_THAT(r.out, Catch::Contains("'delay' is not in fleet.toml [chaos] allow"));
  CHECK(tf.get(1, "/lean/faults")["active"].empty());
  // Removing faults is never refused.
  CHECK(run_x0xctl("chaos clear", dir.path).rc == 0);

  // A [network.prod] that [chaos] forbids: refused whatever the flags.
  auto text = orchestrator::render_fleet_toml(fleet);
  text.replace(text.find("[chaos]\nallow = [\"partition_recovery\"]\nforbid_networks = []"),
               std::string("[chaos]\nallow = [\"partition_recovery\"]\nforbid_networks = []").size(),
               "[network.prod]\n\n[chaos]\nallow = [\"*\"]\nforbid_networks = [\"prod\"]");
  write_file(dir.path / "prod.toml", text);
  auto p = run_x0xctl("chaos stall --fleet prod.toml --hosts " + sfo + " --for 10s", dir.path);
  INFO(text);
  CHECK(p.rc == 2);
  CHECK_THAT(p.out, Catch::Contains("network 'prod' is forbidden"));
  CHECK(tf.get(1, "/lean/faults")["active"].empty());
}
