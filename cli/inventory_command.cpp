// `x0xctl inventory check [FILE]`: validate an inventory offline and print
// every problem with file, line and field.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/commands.h"
#include "orchestrator/inventory.h"

namespace x0x::cli {

void register_inventory(CLI::App& app, int& exit_code) {
  auto* inv = app.add_subcommand("inventory", "Inspect the fleet inventory (fleet.toml or .json)");
  inv->require_subcommand(1);
  auto file = std::make_shared<std::string>("fleet.toml");
  auto* check = inv->add_subcommand("check", "Validate the inventory; every error names file, line and field");
  check->add_option("file", *file, "inventory file")->capture_default_str();
  check->callback([file, &exit_code] {
    try {
      auto f = orchestrator::load_fleet(*file);
      std::size_t ssh = 0;
      for (auto& h : f.hosts) ssh += h.transport == "ssh";
      fmt::print("{}: OK — {} host(s) ({} over ssh, {} local), anchor {}\n", *file, f.hosts.size(), ssh,
                 f.hosts.size() - ssh, f.anchor);
      exit_code = kExitPass;
    } catch (const orchestrator::InventoryError& e) {
      fmt::print(stderr, "{}\n{} problem(s) in {}\n", e.what(), e.problems().size(), *file);
      exit_code = kExitUsage;
    }
  });
}

}  // namespace x0x::cli
