// `x0xctl doctor`: preflight every host; a table, exit 1 if any blocker.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/commands.h"
#include "orchestrator/collection/doctor.h"

namespace x0x::cli {

void register_doctor(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<orchestrator::DoctorOptions>();
  auto fleet = std::make_shared<std::string>("fleet.toml");
  auto network = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("doctor", "Preflight every host: SSH, host key, clock, ports, tools, disk, service manager");
  sub->add_option("--fleet", *fleet, "inventory")->capture_default_str();
  sub->add_option("--network", *network, "the [network.NAME] whose ports and services to check (default: the inventory's)");
  sub->add_option("--parallel", o->parallel, "hosts at once")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_flag("--accept-new-host-keys", o->accept_new_host_keys, "record unknown SSH host keys (a changed key is refused)");
  sub->callback([=, &exit_code] {
    try {
      auto f = orchestrator::load_fleet(*fleet, *network);
      auto hosts = orchestrator::run_doctor(f, *o);
      int blocked = 0;
      fmt::print("{:<12} {:<16} {:<8} {}\n", "host", "check", "status", "detail");
      for (auto& h : hosts) {
        blocked += h.blocked();
        for (auto& c : h.checks) fmt::print("{:<12} {:<16} {:<8} {}\n", h.host, c.name, c.status, c.detail);
      }
      fmt::print("\n{} host(s), {} with blockers\n", hosts.size(), blocked);
      exit_code = blocked ? kExitFail : kExitPass;
    } catch (const orchestrator::InventoryError& e) {
      fmt::print(stderr, "x0xctl doctor: invalid inventory:\n{}\n", e.what());
      exit_code = kExitUsage;
    }
  });
}

}  // namespace x0x::cli
