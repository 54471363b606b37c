// `x0xctl local up | down | status`: a fleet of lean nodes with a runner
// beside each, started detached in DIR, recorded in DIR/local-fleet.json (PIDs)
// and DIR/fleet.toml (the inventory every other verb reads).
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "orchestrator/control/inventory.h"

namespace x0x::orchestrator {

class LocalMesh;

struct LocalFleetOptions {
  std::filesystem::path dir = "x0x-local";
  int nodes = 6;
  std::filesystem::path node_binary, runner_binary;
  std::string extra_toml;  // merged into every node config (tests), see LocalMesh::Options
};

struct LocalProcessState {
  std::string name;
  int node_pid = -1, runner_pid = -1;
  bool node_alive = false, runner_alive = false;
  std::string api_addr;
  int peers = -1;  // -1: unknown (node not answering)
};

// Starts the fleet unless one is already running in dir (then returns false
// and starts nothing). Throws with the failing node and its log on failure.
bool local_up(const LocalFleetOptions& opts);
// Stops exactly the recorded processes that are still ours; keeps the logs.
// Returns how many processes were stopped. Throws (keeping the record) when a
// recorded PID runs in a node folder as another binary: left alone and named.
int local_down(const std::filesystem::path& dir);
std::vector<LocalProcessState> local_status(const std::filesystem::path& dir);
// Restarts one node in place: its recorded process stopped (if still ours),
// started again detached with the same config and addresses, the new PID
// recorded; returns once /health is ok. Throws naming the node and its log.
void local_restart_node(const std::filesystem::path& dir, const std::string& name,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));
// The restart for the local hosts of an inventory that `local up` wrote (its
// local-fleet.json lies beside it), for FaultInjectorOptions::restart_local;
// empty when there is none.
std::function<void(const std::string& host)> local_fleet_restarter(const std::filesystem::path& fleet_file);
std::filesystem::path local_state_path(const std::filesystem::path& dir);

// The inventory of a running LocalMesh: one local host per node (API on
// loopback, its token file), the first node as anchor.
Fleet fleet_of_mesh(LocalMesh& mesh, const std::filesystem::path& path);

}  // namespace x0x::orchestrator
