// Harvest on a running local fleet: a bundle whose manifest verifies, which
// contains no token, and which records an unreachable node as such.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "core/encoding.h"
#include "orchestrator/harvest.h"
#include "proofs/bundle_writer.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
namespace fs = std::filesystem;

TEST_CASE("harvest: every node's diagnostics in a verified, token-free bundle — a dead node is recorded") {
  TestFleet fleet(4, {}, true);
  orchestrator::Fleet inv;
  inv.name = "harvest-test";
  for (auto& n : fleet.mesh().nodes())
    inv.hosts.push_back(orchestrator::Host::local(n.name, n.api_base.substr(7), (n.data_dir / "api-token").string(), n.dir.string()));
  inv.anchor = inv.hosts.front().name;
  std::vector<std::string> tokens;
  for (auto& n : fleet.mesh().nodes()) tokens.push_back(n.token);
  fleet.post(0, "/publish", {{"topic", "t"}, {"payload", "aGk="}});
  fleet.mesh().kill_node(3);  // nuremberg is down

  auto out = fs::temp_directory_path() / ("x0x-harvest-" + random_hex(4));
  orchestrator::HarvestOptions o;
  o.out = out;
  o.since = "1h";
  auto r = orchestrator::harvest(inv, o);
  CHECK(r.reached == 3);
  CHECK(r.unreachable == 1);
  CHECK(r.unreachable_hosts == std::vector<std::string>{"nuremberg"});
  CHECK(proofs::verify_bundle(out).empty());
  for (auto name : {"nyc", "sfo", "helsinki"})
    for (auto file : {"health.json", "agent.json", "status.json", "peers.json", "diagnostics-gossip.json",
                      "diagnostics-connectivity.json", "grep-counts.json", "host.txt"})
      CHECK(fs::exists(out / "harvest" / name / file));
  CHECK(fs::exists(out / "harvest/nuremberg/status.json"));
  std::ifstream in(out / "summary.md");
  std::stringstream md;
  md << in.rdbuf();
  CHECK(md.str().find("## Unreachable") != std::string::npos);
  CHECK(md.str().find("nuremberg") != std::string::npos);
  for (auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file()) {
      std::ifstream f(e.path());
      std::stringstream ss;
      ss << f.rdbuf();
      for (auto& t : tokens) CHECK(ss.str().find(t) == std::string::npos);
    }
  fs::remove_all(out);
}
