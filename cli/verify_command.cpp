// `x0xctl verify`: Phase A and then Phase B (--phase a|b|ab, default ab, as
// the reference's deploy runs them) over the inventory's fleet, or, without
// one, over a local fleet of 6 started for the run and stopped after it.
// The flows are harness/phase_a.h and harness/phase_b.h; this file parses and prints.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/embedded_fleet.h"
#include "cli/phase_a_output.h"
#include "cli/phase_b_output.h"
#include "core/encoding.h"
#include "harness/phase_a.h"
#include "harness/phase_b.h"
#include "harness/runner_session.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_mesh.h"
#include "proofs/renderers.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using VerifyOptions = VerifyRequest;

// "a", "b" or "ab"; anything else is a usage error.
bool phase_valid(const std::string& p) { return p == "a" || p == "b" || p == "ab"; }

int run_phase_a_with(const orchestrator::Fleet& fleet, const orchestrator::Host& anchor, const orchestrator::ApiEndpoint& ep,
                     const VerifyOptions& o, std::FILE* out, nlohmann::json& report) {
  harness::PhaseAOptions po;
  po.anchor_base_url = ep.base_url;
  po.anchor_token = ep.token;
  po.nodes = fleet.names();
  po.discover = std::chrono::milliseconds(static_cast<long>(o.discover_secs * 1000));
  po.settle = std::chrono::milliseconds(static_cast<long>(o.settle_secs * 1000));
  po.allow_missing = o.allow_missing;
  po.parallel = o.parallel;
  fmt::print(out, "Phase A on {} nodes (anchor {}){}\n", po.nodes.size(), anchor.name,
             o.allow_missing ? ", --allow-missing: undiscovered runners are left out" : "");
  std::fflush(out);
  harness::PhaseAReport rep;
  try {
    rep = harness::run_phase_a(po, progress_line);
  } catch (const std::exception& e) {
    end_progress();
    fmt::print(stderr, "x0xctl verify: Phase A could not run: {}\n", e.what());
    return kExitFail;
  }
  end_progress();
  print_phase_a(out, rep);
  report.update(rep.to_json());
  if (!o.junit_path.empty()) {
    std::ofstream junit(o.junit_path);
    junit << proofs::render_phase_a_junit(rep.to_json());
    if (!junit) {
      fmt::print(stderr, "x0xctl verify: cannot write {}\n", o.junit_path);
      return kExitUsage;
    }
  }
  return rep.passed() ? kExitPass : kExitFail;
}

int run_phase_b_with(const orchestrator::Fleet& fleet, const orchestrator::Host& anchor, const orchestrator::ApiEndpoint& ep,
                     const VerifyOptions& o, std::FILE* out, nlohmann::json& report) {
  harness::PhaseBOptions po;
  po.anchor_base_url = ep.base_url;
  po.anchor_token = ep.token;
  po.anchor = anchor.name;
  po.nodes = fleet.names();
  po.discover = std::chrono::milliseconds(static_cast<long>(o.discover_secs * 1000));
  po.cmd_timeout = std::chrono::milliseconds(static_cast<long>(o.cmd_timeout_secs * 1000));
  po.allow_skips = o.allow_skips;
  po.parallel = o.parallel;
  fmt::print(out, "\nPhase B on {} nodes (anchor {}, driven through its own API){}\n", po.nodes.size(), anchor.name,
             o.allow_skips ? ", --allow-skips: unreachable runners are skipped" : "");
  std::fflush(out);
  harness::PhaseBReport rep;
  try {
    rep = harness::run_phase_b(po, progress_line);
  } catch (const harness::SessionError& e) {
    end_progress();
    fmt::print(stderr, "x0xctl verify: Phase B could not run: {}\n", e.what());
    return 3;  // the reference's exit 3: anchor health or /agent failure
  } catch (const std::exception& e) {
    end_progress();
    fmt::print(stderr, "x0xctl verify: Phase B could not run: {}\n", e.what());
    return kExitFail;
  }
  end_progress();
  print_phase_b(out, rep);
  report.update(rep.to_json());
  return rep.exit_code();
}

}  // namespace

int verify_fleet(const orchestrator::Fleet& fleet, const VerifyRequest& o) {
  if (!phase_valid(o.phase)) {
    fmt::print(stderr, "x0xctl verify: --phase {}: expected a, b or ab\n", o.phase);
    return kExitUsage;
  }
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
  // With --json -, the JSON is stdout's and the human output goes to stderr.
  std::FILE* out = o.json_path == "-" ? stderr : stdout;
  nlohmann::json report = nlohmann::json::object();
  int code_a = kExitPass, code_b = kExitPass;
  if (o.phase.find('a') != std::string::npos) code_a = run_phase_a_with(fleet, *anchor, ep, o, out, report);
  if (o.phase.find('b') != std::string::npos) code_b = run_phase_b_with(fleet, *anchor, ep, o, out, report);
  if (!o.json_path.empty()) {
    if (o.json_path == "-") {
      fmt::print("{}\n", report.dump(2));
    } else {
      std::ofstream json_out(o.json_path);
      json_out << report.dump(2) << "\n";
      if (!json_out) {
        fmt::print(stderr, "x0xctl verify: cannot write {}\n", o.json_path);
        return kExitUsage;
      }
    }
  }
  // A then B: the larger code wins (4, Phase B's missing runners, over 1).
  return std::max(code_a, code_b);
}

namespace {

int run_verify(const VerifyOptions& o) {
  fs::path fleet_path = o.fleet.empty() ? fs::path("fleet.toml") : fs::path(o.fleet);
  if (!o.fleet.empty() || fs::exists(fleet_path)) {
    try {
      return verify_fleet(orchestrator::load_fleet(fleet_path, o.network), o);
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
    return verify_fleet(fleet, o);
  });
}

}  // namespace

void register_verify(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<VerifyOptions>();
  auto* sub = app.add_subcommand("verify", "Phase A (the all-pairs direct-message matrix) and Phase B (contacts and named groups) over the fleet");
  sub->add_option("--phase", o->phase, "a, b or ab (A then B)")->capture_default_str()->check(CLI::IsMember({"a", "b", "ab"}));
  sub->add_option("--fleet", o->fleet, "inventory (default ./fleet.toml; none: a local fleet of 6 for this run)");
  sub->add_option("--network", o->network, "the inventory's [network.NAME] to verify (default: the inventory's default)");
  sub->add_option("--anchor", o->anchor, "node whose API drives the run (default: the inventory's anchor)");
  sub->add_option("--discover-secs", o->discover_secs, "discovery window")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--settle-secs", o->settle_secs, "wait for results after the last command")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--cmd-timeout", o->cmd_timeout_secs, "Phase B: wait for each command's result")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--json", o->json_path, "write the report as JSON ({\"phase_a\": …, \"phase_b\": …}); - for stdout");
  sub->add_option("--junit", o->junit_path, "write JUnit XML of Phase A: one test case per directed pair");
  sub->add_option("--parallel", o->parallel, "command DMs in flight")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_flag("--allow-missing", o->allow_missing, "Phase A: run over the discovered runners only (stated in the output)");
  sub->add_flag("--allow-skips", o->allow_skips, "Phase B: skip the checks of unreachable runners instead of failing them (10N+9 checks)");
  sub->footer("Exit codes: 0 pass, 1 a check or pair failed, 2 usage or inventory error, 3 the anchor is not healthy (Phase B), "
              "4 Phase B strict: a runner missing, or fewer than 2 runners. With --phase ab the larger of the two phases' codes.");
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
