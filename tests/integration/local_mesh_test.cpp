// LocalMesh's node configs: the extra TOML a test or the gate gives is merged
// into each node's config (orchestrator/lifecycle/node_config_toml.h), so its
// keys cannot collide with the ones the mesh sets.
#include <catch2/catch.hpp>

#include "tests/support/files.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using Catch::Matchers::Contains;

TEST_CASE("local mesh: extra TOML is merged into each node's config, the mesh's own keys win", "[local_mesh]") {
  // A top-level key the mesh also sets, and a section of the node's tuning.
  testing::TestFleet fleet(2, "log_level = \"trace\"\n[gossip]\ndispatch_workers = 2\n");
  for (auto& n : fleet.mesh().nodes()) {
    INFO(n.name);
    CHECK(n.running);
    auto config = testing::slurp(n.config_path);
    INFO(config);
    CHECK_THAT(config, Contains("log_level = \"info\"") && Contains("[gossip]") && Contains("dispatch_workers = 2"));
    CHECK(config.find("trace") == std::string::npos);
  }
  CHECK(fleet.peers(0) >= 1);
}
