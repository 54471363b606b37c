// `x0xctl inventory check [FILE] [--network NAME]`: validate an inventory
// offline and print every problem with file, line and field; when valid, the
// resolved per-host view (what deploy, verify and harvest will use).
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>

#include "cli/commands.h"
#include "orchestrator/control/inventory.h"

namespace x0x::cli {

namespace {

void print_resolved(const orchestrator::Fleet& f) {
  if (auto* n = f.selected_network())
    fmt::print("Network {}: instance {}, api port {}, gossip port {}{}{}\n", n->name, n->instance.empty() ? "-" : n->instance,
               n->api_port ? std::to_string(n->api_port) : "-", n->gossip_port ? std::to_string(n->gossip_port) : "-",
               n->real_users ? ", real users" : "", n->require_explicit ? ", explicit --network only" : "");
  else if (!f.networks.empty())
    fmt::print("No network selected (--network NAME selects one); the hosts' own addresses:\n");
  fmt::print("{:<12} {:<10} {:<16} {:<22} {:<22} {:<28} {:<32} {}\n", "host", "transport", "address", "api_addr",
             "gossip_addr", "service", "token_path", "install_root");
  for (auto& h : f.hosts) {
    auto service = h.service_manager == "systemd" ? h.service.empty() ? "x0x-node-" + h.name + ".service" : h.service
                                                  : std::string("supervisor");
    fmt::print("{:<12} {:<10} {:<16} {:<22} {:<22} {:<28} {:<32} {}\n", h.name, h.transport, h.address, h.api_addr,
               h.gossip_addr.empty() ? "-" : h.gossip_addr, service, h.token_path,
               h.install_root.empty() ? "-" : h.install_root);
  }
  if (f.chaos_configured)
    fmt::print("Chaos: {} allowed; {}\n", f.chaos_allow.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(f.chaos_allow, ", ")),
               f.chaos_forbidden() ? "FORBIDDEN on this network" : "permitted on this network");
}

}  // namespace

void register_inventory(CLI::App& app, int& exit_code) {
  auto* inv = app.add_subcommand("inventory", "Inspect the fleet inventory (fleet.toml or .json)");
  inv->require_subcommand(1);
  auto file = std::make_shared<std::string>("fleet.toml");
  auto network = std::make_shared<std::string>();
  auto* check = inv->add_subcommand("check", "Validate the inventory; every error names file, line and field");
  check->add_option("file", *file, "inventory file")->capture_default_str();
  check->add_option("--network", *network, "resolve the hosts for this [network.NAME] (default: the inventory's default)");
  check->callback([file, network, &exit_code] {
    try {
      auto f = orchestrator::load_fleet(*file, *network);
      std::size_t ssh = 0;
      for (auto& h : f.hosts) ssh += h.transport == "ssh";
      fmt::print("{}: OK — {} host(s) ({} over ssh, {} local), anchor {}{}\n", *file, f.hosts.size(), ssh,
                 f.hosts.size() - ssh, f.anchor, f.network.empty() ? "" : ", network " + f.network);
      print_resolved(f);
      exit_code = kExitPass;
    } catch (const orchestrator::InventoryError& e) {
      fmt::print(stderr, "{}\n{} problem(s) in {}\n", e.what(), e.problems().size(), *file);
      exit_code = kExitUsage;
    }
  });
}

}  // namespace x0x::cli
