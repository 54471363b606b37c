// `x0xctl local up | down | status`: a fleet of lean nodes and runners on this
// machine, left running between commands.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <filesystem>

#include "cli/commands.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_fleet.h"

namespace x0x::cli {

namespace fs = std::filesystem;

namespace {

int print_status(const fs::path& dir) {
  auto rows = orchestrator::local_status(dir);
  if (rows.empty()) {
    fmt::print("No local fleet recorded in {}\n", dir.string());
    return kExitFail;
  }
  fmt::print("{:<11} {:<8} {:<22} {:>5}  {:<8}\n", "node", "node", "api", "peers", "runner");
  int healthy = 0;
  for (auto& r : rows) {
    healthy += r.node_alive && r.runner_alive;
    fmt::print("{:<11} {:<8} {:<22} {:>5}  {:<8}\n", r.name, r.node_alive ? "up" : "down", r.api_addr,
               r.peers < 0 ? std::string("-") : std::to_string(r.peers), r.runner_alive ? "up" : "down");
  }
  fmt::print("{}/{} nodes up with their runner; inventory: {}\n", healthy, rows.size(), (dir / "fleet.toml").string());
  return healthy == static_cast<int>(rows.size()) ? kExitPass : kExitFail;
}

}  // namespace

void register_local(CLI::App& app, int& exit_code) {
  auto* local = app.add_subcommand("local", "A fleet of lean nodes and runners on this machine");
  local->require_subcommand(1);
  auto dir = std::make_shared<std::string>("x0x-local");
  auto nodes = std::make_shared<int>(6);

  auto* up = local->add_subcommand("up", "Start N lean nodes with a runner each; writes DIR/fleet.toml");
  up->add_option("--nodes", *nodes, "how many nodes")->capture_default_str()->check(CLI::Range(2, 500));
  up->add_option("--dir", *dir, "fleet directory (data, logs, fleet.toml, PIDs)")->capture_default_str();
  up->callback([dir, nodes, &exit_code] {
    orchestrator::LocalFleetOptions o;
    o.dir = *dir;
    o.nodes = *nodes;
    o.node_binary = find_sibling_binary("x0x-lean-node");
    o.runner_binary = find_sibling_binary("x0x-test-runner");
    try {
      if (!orchestrator::local_up(o)) {
        fmt::print("A local fleet is already running in {}; not starting another (x0xctl local down --dir {} first)\n", *dir, *dir);
        print_status(*dir);
        exit_code = kExitPass;
        return;
      }
      fmt::print("Local fleet of {} up in {}\n", *nodes, fs::canonical(*dir).string());
      exit_code = print_status(*dir);
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl local up: {}\n", e.what());
      exit_code = kExitFail;
    }
  });

  auto* down = local->add_subcommand("down", "Stop the processes `local up` started (logs are kept)");
  down->add_option("--dir", *dir, "fleet directory")->capture_default_str();
  down->callback([dir, &exit_code] {
    try {
      int n = orchestrator::local_down(*dir);
      fmt::print("Stopped {} process(es) recorded in {}; logs kept\n", n, *dir);
      exit_code = kExitPass;
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl local down: {}\n", e.what());
      exit_code = kExitFail;
    }
  });

  auto* status = local->add_subcommand("status", "Health, peers and runner state of each local node");
  status->add_option("--dir", *dir, "fleet directory")->capture_default_str();
  status->callback([dir, &exit_code] { exit_code = print_status(*dir); });
}

}  // namespace x0x::cli
