// `x0xctl verify`: Phase A over the inventory's fleet (or, without one, over
// a local fleet of 6 started for the run and stopped after it).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/embedded_fleet.h"
#include "cli/phase_a_output.h"
#include "core/encoding.h"
#include "harness/phase_a.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_mesh.h"
#include "proofs/renderers.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct VerifyOptions {
  std::string fleet, network, anchor, json_path, junit_path;
  double discover_secs = 30, settle_secs = 45;
  bool allow_missing = false, accept_new_host_keys = false;
  std::size_t parallel = 32;
};

int run_phase_a_on(const orchestrator::Fleet& fleet, const VerifyOptions& o) {
  auto anchor_name = o.anchor.empty() ? fleet.anchor : o.anchor;
  const auto* anchor = fleet.find(anchor_name);
  if (!anchor) {
    fmt::print(stderr, "x0xctl verify: --anchor {}: not a host of {}\n", anchor_name, fleet.path.string());
    return kExitUsage;
  }
  orchestrator::ApiEndpoint ep;
  auto access = orchestrator::make_api_access(fleet, {o.accept_new_host_keys});  // tunnels live until the run ends
  try {
    ep = access->open(*anchor);
  } catch (const orchestrator::ApiAccessError& e) {
    fmt::print(stderr, "x0xctl verify: {}\n", e.what());
    return kExitUsage;
  }
  harness::PhaseAOptions po;
  po.anchor_base_url = ep.base_url;
  po.anchor_token = ep.token;
  po.nodes = fleet.names();
  po.discover = std::chrono::milliseconds(static_cast<long>(o.discover_secs * 1000));
  po.settle = std::chrono::milliseconds(static_cast<long>(o.settle_secs * 1000));
  po.allow_missing = o.allow_missing;
  po.parallel = o.parallel;
  fmt::print("Phase A on {} nodes (anchor {}){}\n", po.nodes.size(), anchor->name,
             o.allow_missing ? ", --allow-missing: undiscovered runners are left out" : "");
  harness::PhaseAReport rep;
  try {
    rep = harness::run_phase_a(po, progress_line);
  } catch (const std::exception& e) {
    end_progress();
    fmt::print(stderr, "x0xctl verify: Phase A could not run: {}\n", e.what());
    return kExitFail;
  }
  end_progress();
  print_phase_a(stdout, rep);
  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path);
    out << rep.to_json().dump(2) << "\n";
    if (!out) {
      fmt::print(stderr, "x0xctl verify: cannot write {}\n", o.json_path);
      return kExitUsage;
    }
  }
  if (!o.junit_path.empty()) {
    std::ofstream out(o.junit_path);
    out << proofs::render_phase_a_junit(rep.to_json());
    if (!out) {
      fmt::print(stderr, "x0xctl verify: cannot write {}\n", o.junit_path);
      return kExitUsage;
    }
  }
  return rep.passed() ? kExitPass : kExitFail;
}

int run_verify(const VerifyOptions& o) {
  fs::path fleet_path = o.fleet.empty() ? fs::path("fleet.toml") : fs::path(o.fleet);
  if (!o.fleet.empty() || fs::exists(fleet_path)) {
    try {
      return run_phase_a_on(orchestrator::load_fleet(fleet_path, o.network), o);
    } catch (const orchestrator::InventoryError& e) {
      fmt::print(stderr, "x0xctl verify: invalid inventory:\n{}\n", e.what());
      return kExitUsage;
    }
  }
  if (!o.network.empty()) {
    fmt::print(stderr, "x0xctl verify: --network {} needs an inventory (--fleet FILE, or ./fleet.toml)\n", o.network);
    return kExitUsage;
  }
  // The embedded default: a local fleet of 6 for this run only.
  return with_embedded_fleet("verify", 6, kExitFail, [&](const orchestrator::Fleet& fleet, orchestrator::LocalMesh&) {
    return run_phase_a_on(fleet, o);
  });
}

}  // namespace

void register_verify(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<VerifyOptions>();
  auto* sub = app.add_subcommand("verify", "Phase A: the all-pairs direct-message matrix over the fleet");
  sub->add_option("--fleet", o->fleet, "inventory (default ./fleet.toml; none: a local fleet of 6 for this run)");
  sub->add_option("--network", o->network, "the inventory's [network.NAME] to verify (default: the inventory's default)");
  sub->add_option("--anchor", o->anchor, "node whose API drives the run (default: the inventory's anchor)");
  sub->add_option("--discover-secs", o->discover_secs, "discovery window")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--settle-secs", o->settle_secs, "wait for results after the last command")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--json", o->json_path, "write the report as JSON");
  sub->add_option("--junit", o->junit_path, "write JUnit XML: one test case per directed pair");
  sub->add_option("--parallel", o->parallel, "command DMs in flight")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_flag("--allow-missing", o->allow_missing, "run over the discovered runners only (stated in the output)");
  sub->add_flag("--accept-new-host-keys", o->accept_new_host_keys, "record unknown SSH host keys in the inventory's known_hosts (a changed key is always refused)");
  sub->callback([o, &exit_code] {
    try {
      exit_code = run_verify(*o);
    } catch (const std::exception& e) {
      end_progress();
      fmt::print(stderr, "x0xctl verify: {}\n", e.what());
      exit_code = kExitFail;
    }
  });
}

}  // namespace x0x::cli
