#include "orchestrator/lifecycle/local_fleet.h"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/process.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_mesh.h"
#include "orchestrator/lifecycle/node_config_toml.h"
#include "probes/rest_client.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

fs::path local_state_path(const fs::path& dir) { return dir / "local-fleet.json"; }

namespace {

// A recorded PID is ours only if it still runs our binary from the node's
// folder: a recycled PID fails this check and is never signalled. A binary
// replaced since the start (a rebuild, an upgrade) reads "<path> (deleted)".
bool is_ours(int pid, const std::string& exe, const std::string& cwd) {
  if (!process_alive(pid)) return false;
  std::error_code ec1, ec2;
  auto e = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec1).string();
  auto c = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec2);
  return !ec1 && !ec2 && (e == exe || e == exe + " (deleted)") && c == fs::path(cwd);
}

// Alive in the node's folder but not as the recorded binary: not ours to signal,
// and not to be forgotten silently either.
bool in_folder_but_foreign(int pid, const std::string& exe, const std::string& cwd) {
  if (!process_alive(pid) || is_ours(pid, exe, cwd)) return false;
  std::error_code ec;
  return fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec) == fs::path(cwd) && !ec;
}

json read_state(const fs::path& dir) {
  std::ifstream in(local_state_path(dir));
  if (!in) return json();
  auto j = json::parse(in, nullptr, false);
  return j.is_discarded() ? json() : j;
}

void write_state(const fs::path& dir, const json& state) { write_file_atomically(local_state_path(dir), state.dump(2) + "\n"); }

bool any_alive(const json& state) {
  if (!state.is_object()) return false;
  for (auto& n : state["nodes"])
    if (is_ours(n["node_pid"], state["node_binary"], n["dir"]) || is_ours(n["runner_pid"], state["runner_binary"], n["dir"]))
      return true;
  return false;
}

// The PIDs were checked with is_ours just before. Stopped means gone from
// the process table, so a caller that checks the PID right after sees it
// gone: reaped here when it is our child (a node an earlier restart in this
// process started), else by whoever adopted it (the x0xctl that started it
// has exited).
void stop_pids(std::vector<int> pids) {
  for (int p : pids) send_signal(p, SIGTERM);
  auto gone = [](int p) {
    try_reap(p);  // -1 (not our child) or nullopt (running) change nothing
    return !send_signal(p, 0);
  };
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::erase_if(pids, gone);
    if (pids.empty()) return;
    std::this_thread::sleep_for(20ms);
  }
  for (int p : pids) send_signal(p, SIGKILL);
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
  write_state(dir, state);
  mesh.release();  // they keep running after we exit
  return true;
}

int local_down(const fs::path& dir) {
  auto state = read_state(dir);
  if (!state.is_object()) return 0;
  std::vector<int> runners, nodes;
  std::string foreign;
  for (auto& n : state["nodes"]) {
    for (auto [key, binary, list] : {std::tuple{"runner_pid", "runner_binary", &runners}, std::tuple{"node_pid", "node_binary", &nodes}}) {
      int pid = n[key];
      if (is_ours(pid, state[binary], n["dir"])) list->push_back(pid);
      else if (in_folder_but_foreign(pid, state[binary], n["dir"]))
        foreign += fmt::format("{}pid {} in {}", foreign.empty() ? "" : ", ", pid, n["dir"].get<std::string>());
    }
  }
  stop_pids(runners);  // runners first: they depend on their node
  stop_pids(nodes);
  if (!foreign.empty())  // the record stays, so that a later down (or the operator) can find them
    throw std::runtime_error(fmt::format("stopped {} process(es); left running, not as the recorded binary: {}",
                                         runners.size() + nodes.size(), foreign));
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
        // peers stays -1: unknown, shown as "-" (the node is up but not answering).
      }
    }
    out.push_back(s);
  }
  return out;
}

namespace {

// The config with its listen addresses pinned to what the fleet's inventory
// says (a first start may have asked for port 0).
void pin_addresses(const fs::path& config, const std::string& api_addr, const std::string& mesh_addr) {
  std::ifstream in(config);
  if (!in) throw std::runtime_error("local fleet: cannot read " + config.string());
  std::stringstream text;
  text << in.rdbuf();
  try {
    write_file_atomically(config, pin_node_config_addresses(text.str(), config.string(), api_addr, mesh_addr));
  } catch (const NodeConfigError& e) {
    throw std::runtime_error(std::string("local fleet: ") + e.what());
  }
}

// Starts the node detached (own session, stdin /dev/null, output appended to
// its log), as `local up` did; returns its PID.
int spawn_node(const std::string& exe, const fs::path& dir) {
  ProcessSpec spec;
  spec.argv = {exe, "--config", (dir / "config.toml").string(), "--no-hard-coded-bootstrap"};
  spec.cwd = dir;
  spec.in = Stdio::null();
  spec.out = Stdio::append_to(dir / "node.log");
  spec.err = Stdio::same_as_stdout();
  spec.new_session = true;
  try {
    return spawn_process(spec).pid;
  } catch (const ProcessError& e) {
    throw std::runtime_error(std::string("local fleet: ") + e.what());
  }
}

}  // namespace

void local_restart_node(const fs::path& dir, const std::string& name, std::chrono::milliseconds timeout) {
  auto state = read_state(dir);
  if (!state.is_object()) throw std::runtime_error("no local fleet recorded in " + dir.string() + " (local-fleet.json)");
  json* node = nullptr;
  for (auto& n : state["nodes"])
    if (n.value("name", "") == name) node = &n;
  if (!node) throw std::runtime_error("local fleet in " + dir.string() + " has no node '" + name + "'");
  const std::string exe = state["node_binary"], node_dir = (*node)["dir"], api_addr = (*node)["api_addr"],
                    mesh_addr = (*node)["mesh_addr"];
  if (int pid = (*node)["node_pid"]; is_ours(pid, exe, node_dir)) stop_pids({pid});
  pin_addresses(fs::path(node_dir) / "config.toml", api_addr, mesh_addr);
  int pid = spawn_node(exe, node_dir);
  (*node)["node_pid"] = pid;
  write_state(dir, state);
  // Healthy again on the same address, or the log says why not.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string why = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto st = try_reap(pid)) {
      why = "it " + describe_wait_status(*st);
      break;
    }
    try {
      auto h = probes::RestClient("http://" + api_addr, {}, 2s).get_json("/health");
      if (h.value("ok", false)) return;
      why = "/health: " + h.dump();
    } catch (const std::exception& e) {
      why = e.what();
    }
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("local fleet: " + name + " did not come back on " + api_addr + ": " + why + "; see " +
                           (fs::path(node_dir) / "node.log").string());
}

std::function<void(const std::string&)> local_fleet_restarter(const fs::path& fleet_file) {
  auto dir = fleet_file.parent_path().empty() ? fs::path(".") : fleet_file.parent_path();
  if (!fs::exists(local_state_path(dir))) return {};
  return [dir](const std::string& host) { local_restart_node(dir, host); };
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
