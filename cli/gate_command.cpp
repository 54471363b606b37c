// `x0xctl gate`: score a fleet against a gate profile with scenarios, and
// write a proof bundle a reviewer can re-check. Without --fleet and without
// ./fleet.toml it runs on a fresh local fleet of 6 lean nodes (started for the
// run, stopped after it). This file parses, refuses bad requests before any
// work (exit 2), and prints; the run itself is harness::run_gate.
// Exit 0 GO, 1 NO-GO, 2 usage/config, 3 crash (a partial bundle is still written).
#include <csignal>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/embedded_fleet.h"
#include "cli/gate_output.h"
#include "cli/verb_support.h"
#include "core/utc_time.h"
#include "gates/profile.h"
#include "harness/gate_run.h"
#include "harness/scenario_registry.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_fleet.h"
#include "orchestrator/lifecycle/local_mesh.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct GateCliOptions {
  std::string fleet, network, anchor, gate = "limited-production", scenarios = "baseline,fanout_burst,phase_b", proof_dir, json_path,
                                junit_path, partition_pair;
  int local_nodes = 6;
  double discover_secs = 30, settle_secs = 45;
  bool accept_new_host_keys = false;
  harness::ScenarioOptions so;
  std::vector<std::string> argv;
};

// A validated request: everything but the fleet's processes.
struct Prepared {
  gates::GateProfile profile;
  std::vector<std::string> scenarios;
  harness::ScenarioOptions scenario;
  std::optional<orchestrator::Fleet> inventory;  // none: the embedded default
  fs::path proof_dir;
};

// Every usage problem, before any work; false when there was one.
bool prepare(const GateCliOptions& o, Prepared& p) {
  std::vector<std::string> problems;
  p.scenarios = split_list(o.scenarios);
  p.scenario = o.so;
  p.scenario.partition_pair = split_list(o.partition_pair);
  p.scenario.discover = std::chrono::milliseconds(static_cast<long>(o.discover_secs * 1000));
  p.scenario.settle = std::chrono::milliseconds(static_cast<long>(o.settle_secs * 1000));
  try {
    p.profile = gates::resolve_profile(o.gate);
  } catch (const std::exception& e) {
    problems.push_back("--gate " + o.gate + ": " + e.what());
  }
  harness::FleetShape shape;
  try {
    choose_fleet(o.fleet, o.network, o.anchor, o.local_nodes, p.inventory, shape);
  } catch (const orchestrator::InventoryError& e) {
    fmt::print(stderr, "x0xctl gate: invalid inventory:\n{}\n", e.what());
    return false;
  }
  p.proof_dir = o.proof_dir.empty() ? fs::path("proofs") / ("launch-readiness-" + utc_stamp()) : fs::path(o.proof_dir);
  for (auto& why : harness::gate_usage_problems(p.scenarios, p.scenario, shape, p.proof_dir)) problems.push_back(why);
  for (auto& why : output_problems(o.json_path, o.junit_path)) problems.push_back(why);
  for (auto& why : problems) fmt::print(stderr, "x0xctl gate: {}\n", why);
  return problems.empty();
}

int run_gate_cli(const GateCliOptions& o) {
  Prepared p;
  if (!prepare(o, p)) return kExitUsage;
  // With --json - (or --junit -) stdout carries only that document.
  std::FILE* human = human_stream(o.json_path, o.junit_path);

  harness::GateRequest rq;
  rq.profile = p.profile;
  rq.scenarios = p.scenarios;
  rq.scenario = p.scenario;
  rq.proof_dir = p.proof_dir;
  rq.network = o.network;
  rq.argv = o.argv;
  rq.accept_new_host_keys = o.accept_new_host_keys;
  rq.interrupted = &StopSignals::flag();
  auto progress = line_printer(human);

  harness::GateOutcome outcome;
  auto run = [&](const orchestrator::Fleet& fleet, orchestrator::LocalMesh* mesh) {
    rq.fleet = fleet;
    if (!o.anchor.empty()) rq.fleet.anchor = o.anchor;  // the fault injector refuses it as a target too
    rq.local_mesh = mesh;
    StopSignals signals;
    outcome = harness::run_gate(rq, progress);
    return outcome.exit_code;
  };
  int rc;
  if (p.inventory) {
    rc = run(*p.inventory, nullptr);
  } else {
    // The embedded default: a fresh local fleet for this run only.
    rc = with_embedded_fleet("gate", o.local_nodes, kExitCrash, [&](const orchestrator::Fleet& fleet, orchestrator::LocalMesh& mesh) {
      return run(fleet, &mesh);
    });
  }
  if (outcome.verdict.is_object()) {
    print_verdict_table(human, outcome.verdict);
    bool written = write_output(human, "gate", "--json", o.json_path, outcome.verdict.dump(2) + "\n") &&
                   write_output(human, "gate", "--junit", o.junit_path, outcome.junit);
    if (!written && rc != kExitCrash) rc = kExitUsage;
  }
  if (!outcome.bundle_dir.empty()) {
    if (o.proof_dir.empty()) update_latest_link(outcome.bundle_dir);  // proofs/latest: the newest default bundle
    fmt::print(human, "Proof bundle: {}\n", outcome.bundle_dir.string());
  }
  return rc;
}

std::string scenario_help() {
  std::string s = "comma list:";
  for (auto& spec : harness::scenario_registry())
    s += fmt::format(" {}{}", spec.name, spec.opt_in == harness::OptIn::none ? "" : fmt::format(" ({})", harness::opt_in_flag(spec.opt_in)));
  return s;
}

}  // namespace

void register_gate(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<GateCliOptions>();
  auto* sub = app.add_subcommand("gate", "score the fleet against a launch gate with scenarios; write a proof bundle");
  auto& so = o->so;
  sub->add_option("--fleet", o->fleet, "inventory (default ./fleet.toml; none: a fresh local fleet of 6 for this run)");
  sub->add_option("--network", o->network, "the inventory's network to use");
  sub->add_option("--gate", o->gate, "gate profile: a name (limited-production, broad-launch, or NAME.toml in $X0X_GATES_DIR or ./gates) or a path")->capture_default_str();
  sub->add_option("--scenarios", o->scenarios, scenario_help())->capture_default_str();
  sub->add_option("--anchor", o->anchor, "node that drives Phase A and publishes the burst (default: the inventory's anchor); never a fault target");
  sub->add_option("--proof-dir", o->proof_dir, "bundle directory, empty or new (default proofs/launch-readiness-<UTC stamp>)");
  sub->add_option("--json", o->json_path, "also write verdict.json here (- = stdout, and everything else goes to stderr)");
  sub->add_option("--junit", o->junit_path, "write JUnit XML (one case per rule per scenario and per Phase A pair)");
  sub->add_option("--local-nodes", o->local_nodes, "size of the local fleet when there is no inventory")->capture_default_str()->check(CLI::Range(2, 100));
  sub->add_flag("--allow-restart-storm", so.allow_restart_storm, "enable restart_storm (restarts nodes)");
  sub->add_flag("--allow-netem", so.allow_netem, "enable high_rtt_peer (tc netem on the target; lean API locally)");
  sub->add_flag("--allow-iptables", so.allow_iptables, "enable partition_recovery (iptables on the pair; lean API locally)");
  sub->add_flag("--allow-peer-faults", so.allow_peer_faults, "enable slow_peer and stale_peer");
  sub->add_option("--target-node", so.target_node, "target of high_rtt_peer (required), slow_peer, stale_peer (default: last non-anchor node)");
  sub->add_option("--partition-pair", o->partition_pair, "two non-anchor nodes for partition_recovery, e.g. sfo,sydney");
  sub->add_option("--restart-count", so.restart_count, "nodes restarted by restart_storm")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--burst-messages", so.burst_messages, "fanout_burst messages")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--burst-payload-bytes", so.burst_payload_bytes, "fanout_burst payload size")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--burst-delay-ms", so.burst_delay_ms, "pause between publishes")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--burst-settle-secs", so.burst_settle_secs, "longest wait for every subscriber to get the burst")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--netem-secs", so.fault_secs, "high_rtt_peer fault window")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--netem-delay-ms", so.netem_delay_ms, "high_rtt_peer added delay")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--netem-jitter-ms", so.netem_jitter_ms, "high_rtt_peer jitter")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--peer-fault-secs", so.peer_fault_secs, "slow_peer / stale_peer fault window")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--block-secs", so.block_secs, "partition_recovery block time")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--heal-secs", so.heal_secs, "partition_recovery, slow_peer, stale_peer: recovery time limit after a heal")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--netem-heal-secs", so.netem_heal_secs, "high_rtt_peer: how long the suppression may take to drain after the heal")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--recovery-limit-secs", so.recovery_limit_secs, "restart_storm: give up after this")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--poll-secs", so.poll_secs, "recovery polling interval")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--discover-secs", o->discover_secs, "Phase A discovery window")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--settle-secs", o->settle_secs, "Phase A: wait for results after the last command")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_flag("--accept-new-host-keys", o->accept_new_host_keys, "record unknown SSH host keys (a changed key is always refused)");
  sub->callback([o, &exit_code, sub] {
    o->argv.clear();
    for (auto* opt : sub->get_options())
      if (opt->count() > 0) o->argv.push_back(opt->get_name() + (opt->get_expected_max() > 0 ? "=" + opt->as<std::string>() : ""));
    try {
      exit_code = run_gate_cli(*o);
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl gate: crashed: {}\n", e.what());
      exit_code = kExitCrash;
    }
  });
}

}  // namespace x0x::cli
