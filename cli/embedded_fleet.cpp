#include "cli/embedded_fleet.h"

#include <fmt/core.h>

#include <filesystem>

#include "cli/commands.h"
#include "core/encoding.h"
#include "orchestrator/lifecycle/local_fleet.h"

namespace x0x::cli {

namespace fs = std::filesystem;

int with_embedded_fleet(const std::string& verb, int nodes, int fail_code,
                        const std::function<int(const orchestrator::Fleet&, orchestrator::LocalMesh&)>& run) {
  auto dir = fs::temp_directory_path() / ("x0x-" + verb + "-" + random_hex(4));
  orchestrator::LocalMesh::Options mo;
  mo.node_binary = find_sibling_binary("x0x-lean-node");
  mo.runner_binary = find_sibling_binary("x0x-test-runner");
  mo.root_dir = dir;
  mo.nodes = nodes;
  fmt::print("No fleet.toml here: starting a local fleet of {} lean nodes with runners in {}\n", nodes, dir.string());
  int rc;
  {
    orchestrator::LocalMesh mesh(mo);
    mesh.start();
    if (!mesh.wait_mesh_formed(std::chrono::seconds(60))) {
      fmt::print(stderr, "x0xctl {}: the local mesh did not form within 60 s (logs in {})\n", verb, dir.string());
      return fail_code;
    }
    rc = run(orchestrator::fleet_of_mesh(mesh, dir / "fleet.toml"), mesh);
  }
  if (rc == kExitPass) fs::remove_all(dir);
  else fmt::print("Local fleet stopped; logs kept in {}\n", dir.string());
  return rc;
}

}  // namespace x0x::cli
