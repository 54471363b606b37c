#include "cli/embedded_fleet.h"

#include <fmt/core.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "core/encoding.h"
#include "core/process.h"
#include "orchestrator/lifecycle/local_fleet.h"

namespace x0x::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kKeptMarker = "KEPT-FOR-DIAGNOSIS";

// Folders of earlier embedded runs that were killed (SIGKILL, a crash) before
// they could clean up: their x0xctl is gone and they were not kept on purpose.
// They hold node keys and API tokens, so they go.
void remove_killed_runs(const fs::path& tmp) {
  std::error_code ec;
  int removed = 0;
  for (auto& e : fs::directory_iterator(tmp, ec)) {
    auto name = e.path().filename().string();
    int pid = 0;
    bool ours = false;
    for (const char* prefix : {"x0x-gate-", "x0x-verify-", "x0x-soak-"})
      if (name.rfind(prefix, 0) == 0) {
        auto rest = name.substr(std::string(prefix).size());
        auto dash = rest.find('-');
        ours = dash != std::string::npos && dash > 0 && rest.find_first_not_of("0123456789") == dash;
        if (ours) pid = std::stoi(rest.substr(0, dash));
      }
    if (!ours || !e.is_directory(ec) || e.is_symlink(ec) || process_alive(pid) || fs::exists(e.path() / kKeptMarker, ec)) continue;
    fs::remove_all(e.path(), ec);
    if (!ec) ++removed;
  }
  if (removed) fmt::print(stderr, "Removed {} local fleet folder(s) left by killed runs in {}\n", removed, tmp.string());
}

// A failed run keeps its logs for diagnosis, not the nodes' keys, tokens and state.
void keep_logs_only(orchestrator::LocalMesh& mesh, const fs::path& dir) {
  std::error_code ec;
  for (auto& n : mesh.nodes()) fs::remove_all(n.data_dir, ec);
  std::ofstream(dir / kKeptMarker) << "logs of a failed run; node keys and tokens removed\n";
}

}  // namespace

void choose_fleet(const std::string& fleet, const std::string& network, const std::string& anchor, int local_nodes,
                  std::optional<orchestrator::Fleet>& inventory, harness::FleetShape& shape) {
  fs::path path = fleet.empty() ? fs::path("fleet.toml") : fs::path(fleet);
  shape = {};
  if (!fleet.empty() || fs::exists(path)) {
    inventory = orchestrator::load_fleet(path, network);
    if (!anchor.empty()) inventory->anchor = anchor;
    shape.nodes = inventory->names();
    shape.anchor = inventory->anchor.empty() ? shape.nodes.front() : inventory->anchor;
    shape.inventory = &*inventory;
  } else {
    inventory.reset();
    for (int i = 0; i < local_nodes; ++i) shape.nodes.push_back(orchestrator::LocalMesh::default_name(static_cast<std::size_t>(i)));
    shape.anchor = anchor.empty() ? shape.nodes.front() : anchor;
  }
}

int with_embedded_fleet(const std::string& verb, int nodes, int fail_code,
                        const std::function<int(const orchestrator::Fleet&, orchestrator::LocalMesh&)>& run) {
  auto tmp = fs::temp_directory_path();
  remove_killed_runs(tmp);
  // The PID in the name tells a later run whether this one is still alive.
  auto dir = tmp / ("x0x-" + verb + "-" + std::to_string(::getpid()) + "-" + random_hex(4));
  orchestrator::LocalMesh::Options mo;
  mo.node_binary = find_sibling_binary("x0x-lean-node");
  mo.runner_binary = find_sibling_binary("x0x-test-runner");
  mo.root_dir = dir;
  mo.nodes = nodes;
  fmt::print(stderr, "No fleet.toml here: starting a local fleet of {} lean nodes with runners in {}\n", nodes, dir.string());
  int rc;
  {
    orchestrator::LocalMesh mesh(mo);
    mesh.start();
    if (!mesh.wait_mesh_formed(std::chrono::seconds(60))) {
      fmt::print(stderr, "x0xctl {}: the local mesh did not form within 60 s (logs in {})\n", verb, dir.string());
      mesh.stop_all();
      keep_logs_only(mesh, dir);
      return fail_code;
    }
    rc = run(orchestrator::fleet_of_mesh(mesh, dir / "fleet.toml"), mesh);
    if (rc != kExitPass) {
      mesh.stop_all();
      keep_logs_only(mesh, dir);
    }
  }
  if (rc == kExitPass) fs::remove_all(dir);
  else fmt::print(stderr, "Local fleet stopped; logs kept in {} (node keys and tokens removed)\n", dir.string());
  return rc;
}

}  // namespace x0x::cli
