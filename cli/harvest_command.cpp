// `x0xctl harvest`: an incident bundle from every node of the fleet.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>

#include "cli/commands.h"
#include "orchestrator/collection/harvest.h"
#include "orchestrator/control/inventory.h"
#include "proofs/bundle_writer.h"

namespace x0x::cli {

void register_harvest(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<orchestrator::HarvestOptions>();
  auto fleet = std::make_shared<std::string>("fleet.toml");
  auto network = std::make_shared<std::string>();
  auto hosts = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("harvest", "Diagnostics, log pattern counts and host facts from every node, as an incident bundle");
  sub->add_option("--fleet", *fleet, "inventory")->capture_default_str();
  sub->add_option("--network", *network, "the [network.NAME] to harvest (default: the inventory's)");
  sub->add_option("--out", *out, "bundle directory (default proofs/harvest-<UTC>)");
  sub->add_option("--since", o->since, "log window (90s, 30m, 2h, 1d)")->capture_default_str();
  sub->add_option("--hosts", *hosts, "only these hosts")->delimiter(',');
  sub->add_option("--parallel", o->parallel, "hosts at once")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_flag("--accept-new-host-keys", o->accept_new_host_keys, "record unknown SSH host keys (a changed key is refused)");
  sub->callback([=, &exit_code] {
    try {
      auto f = orchestrator::load_fleet(*fleet, *network);
      o->hosts = *hosts;
      o->out = *out;
      auto r = orchestrator::harvest(f, *o);
      fmt::print("Harvest of {} node(s): {} reached, {} unreachable{}\nBundle: {} (manifest.json, summary.md)\n",
                 r.reached + r.unreachable, r.reached, r.unreachable,
                 r.unreachable_hosts.empty() ? "" : " (" + fmt::format("{}", fmt::join(r.unreachable_hosts, ", ")) + ")",
                 r.bundle.string());
      exit_code = r.unreachable ? kExitFail : kExitPass;
    } catch (const orchestrator::InventoryError& e) {
      fmt::print(stderr, "x0xctl harvest: invalid inventory:\n{}\n", e.what());
      exit_code = kExitUsage;
    } catch (const std::invalid_argument& e) {
      fmt::print(stderr, "x0xctl harvest: {}\n", e.what());
      exit_code = kExitUsage;
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl harvest: {}\n", e.what());
      exit_code = kExitFail;
    }
  });
}

}  // namespace x0x::cli
