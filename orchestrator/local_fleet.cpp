#include "orchestrator/local_fleet.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "orchestrator/inventory.h"
#include "orchestrator/local_mesh.h"
#include "probes/rest_client.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

fs::path local_state_path(const fs::path& dir) { return dir / "local-fleet.json"; }

namespace {

// A recorded PID is ours only if it still runs our binary from the node's
// folder: a recycled PID fails this check and is never signalled.
bool is_ours(int pid, const std::string& exe, const std::string& cwd) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::error_code ec1, ec2;
  auto e = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec1);
  auto c = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec2);
  return !ec1 && !ec2 && e == fs::path(exe) && c == fs::path(cwd);
}

json read_state(const fs::path& dir) {
  std::ifstream in(local_state_path(dir));
  if (!in) return json();
  auto j = json::parse(in, nullptr, false);
  return j.is_discarded() ? json() : j;
}

bool any_alive(const json& state) {
  if (!state.is_object()) return false;
  for (auto& n : state["nodes"])
    if (is_ours(n["node_pid"], state["node_binary"], n["dir"]) || is_ours(n["runner_pid"], state["runner_binary"], n["dir"]))
      return true;
  return false;
}

void stop_pids(std::vector<int> pids) {
  for (int p : pids) ::kill(p, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::erase_if(pids, [](int p) { return ::kill(p, 0) != 0; });
    if (pids.empty()) return;
    std::this_thread::sleep_for(20ms);
  }
  for (int p : pids) ::kill(p, SIGKILL);
}

}  // namespace

bool local_up(const LocalFleetOptions& o) {
  fs::create_directories(o.dir);
  auto dir = fs::canonical(o.dir);
  if (any_alive(read_state(dir))) return false;

  LocalMesh::Options mo;
  mo.node_binary = o.node_binary;
  mo.runner_binary = o.runner_binary;
  mo.root_dir = dir;
  mo.nodes = o.nodes;
  mo.detached = true;
  mo.extra_toml = o.extra_toml;
  LocalMesh mesh(mo);
  mesh.start();
  if (!mesh.wait_mesh_formed(60s)) throw std::runtime_error("local fleet: the mesh did not form within 60 s");

  Fleet fleet = fleet_of_mesh(mesh, dir / "fleet.toml");
  fleet.name = "x0x-local";
  json state = {{"dir", dir.string()}, {"node_binary", fs::canonical(mesh.options().node_binary).string()},
                {"runner_binary", o.runner_binary.empty() ? "" : fs::canonical(o.runner_binary).string()},
                {"nodes", json::array()}};
  for (std::size_t i = 0; i < fleet.hosts.size(); ++i) {
    auto& h = fleet.hosts[i];
    const auto& n = mesh.nodes()[i];
    h.roles = i == 0 ? std::vector<std::string>{"bootstrap", "anchor-eligible"} : std::vector<std::string>{"anchor-eligible"};
    state["nodes"].push_back({{"name", n.name}, {"dir", n.dir.string()}, {"node_pid", n.pid},
                              {"runner_pid", n.runner_pid}, {"api_addr", h.api_addr}, {"mesh_addr", n.mesh_addr}});
  }
  {
    std::ofstream out(dir / "fleet.toml");
    out << render_fleet_toml(fleet);
  }
  {
    std::ofstream out(local_state_path(dir));
    out << state.dump(2) << "\n";
  }
  mesh.release();  // they keep running after we exit
  return true;
}

int local_down(const fs::path& dir) {
  auto state = read_state(dir);
  if (!state.is_object()) return 0;
  std::vector<int> runners, nodes;
  for (auto& n : state["nodes"]) {
    if (is_ours(n["runner_pid"], state["runner_binary"], n["dir"])) runners.push_back(n["runner_pid"]);
    if (is_ours(n["node_pid"], state["node_binary"], n["dir"])) nodes.push_back(n["node_pid"]);
  }
  stop_pids(runners);  // runners first: they depend on their node
  stop_pids(nodes);
  fs::remove(local_state_path(dir));
  return static_cast<int>(runners.size() + nodes.size());
}

std::vector<LocalProcessState> local_status(const fs::path& dir) {
  std::vector<LocalProcessState> out;
  auto state = read_state(dir);
  if (!state.is_object()) return out;
  for (auto& n : state["nodes"]) {
    LocalProcessState s;
    s.name = n["name"];
    s.node_pid = n["node_pid"];
    s.runner_pid = n["runner_pid"];
    s.api_addr = n["api_addr"];
    s.node_alive = is_ours(s.node_pid, state["node_binary"], n["dir"]);
    s.runner_alive = is_ours(s.runner_pid, state["runner_binary"], n["dir"]);
    if (s.node_alive) {
      try {
        auto h = probes::RestClient("http://" + s.api_addr, {}, 2s).get_json("/health");
        s.peers = h.value("peers", -1);
      } catch (const std::exception&) {
      }
    }
    out.push_back(s);
  }
  return out;
}

Fleet fleet_of_mesh(LocalMesh& mesh, const fs::path& path) {
  Fleet fleet;
  fleet.path = path;
  fleet.name = "local";
  for (auto& n : mesh.nodes())
    fleet.hosts.push_back(Host::local(n.name, n.api_base.substr(7), (n.data_dir / "api-token").string(), n.dir.string()));
  if (!fleet.hosts.empty()) fleet.anchor = fleet.hosts.front().name;
  return fleet;
}

}  // namespace x0x::orchestrator
