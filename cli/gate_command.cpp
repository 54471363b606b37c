// `x0xctl gate`: score a fleet against a gate profile with scenarios, and
// write a proof bundle a reviewer can re-check. Without --fleet and without
// ./fleet.toml it runs on a fresh local fleet of 6 lean nodes (started for the
// run, stopped after it). Exit 0 GO, 1 NO-GO, 2 usage/config, 3 crash (a
// partial bundle and summary are still written).
#include <csignal>

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
#include "core/encoding.h"
#include "core/sha256.h"
#include "core/utc_time.h"
#include "gates/profile.h"
#include "gates/scorer.h"
#include "harness/gate_run.h"
#include "harness/snapshots.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/faults/fault_injector.h"
#include "orchestrator/collection/harvest.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_fleet.h"
#include "orchestrator/lifecycle/local_mesh.h"
#include "proofs/bundle_writer.h"
#include "proofs/renderers.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_stop_signal(int) { g_interrupted.store(true); }

struct GateCliOptions {
  std::string fleet, network, anchor, gate = "limited-production", scenarios = "baseline,fanout_burst", proof_dir, json_path,
                                junit_path, partition_pair;
  int local_nodes = 6;
  double discover_secs = 30, settle_secs = 45;
  bool accept_new_host_keys = false;
  harness::ScenarioOptions so;
  std::vector<std::string> argv;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// SIGINT/SIGTERM: finish the current step, revert faults, write the bundle.
struct SignalScope {
  struct sigaction old_int {}, old_term {};
  SignalScope() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }
  ~SignalScope() {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  }
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// sha256 of the binaries the fleet runs: local hosts' binaries here; remote
// hosts' as the deploy installed them (recorded by deploy in the host's state).
json binary_hashes(const orchestrator::LocalMesh::Options* local) {
  json out = json::object();
  if (local) {
    out["x0x-lean-node"] = sha256_file(local->node_binary);
    out["x0x-test-runner"] = sha256_file(local->runner_binary);
  }
  return out;
}

// The manifest names the binaries each remote host runs, as the harvest's
// `sha256sum` on the host saw them (local binaries are hashed here).
void record_remote_binaries(proofs::BundleWriter& bundle, const orchestrator::Fleet& fleet, const fs::path& harvest_dir) {
  json per_host = json::object();
  for (auto& h : fleet.hosts) {
    if (h.transport == "local") continue;
    auto facts = json::parse(read_text(harvest_dir / "harvest" / h.name / "facts.json"), nullptr, false);
    if (!facts.is_object() || !facts.contains("binaries_sha256") || !facts["binaries_sha256"].is_string()) continue;
    std::istringstream lines(facts["binaries_sha256"].get<std::string>());
    for (std::string hash, path; lines >> hash >> path;) per_host[h.name][path] = hash;
  }
  if (!per_host.empty()) bundle.set("host_binaries", per_host);
}

// The incident harvest of the run's window (logs, grep counts, host facts) goes
// into the bundle under harvest/, through the bundle writer (redacted, hashed).
void harvest_into(proofs::BundleWriter& bundle, const orchestrator::Fleet& fleet, const GateCliOptions& o,
                  std::chrono::steady_clock::time_point since, const std::function<void(const std::string&)>& progress) {
  auto tmp = fs::temp_directory_path() / ("x0x-gate-harvest-" + random_hex(4));
  try {
    orchestrator::HarvestOptions ho;
    ho.out = tmp;
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - since).count() + 60;
    ho.since = std::to_string(secs) + "s";
    ho.accept_new_host_keys = o.accept_new_host_keys;
    progress("harvest: logs, pattern counts and host facts of the last " + ho.since);
    auto hr = orchestrator::harvest(fleet, ho);
    for (auto& e : fs::recursive_directory_iterator(tmp)) {
      if (!e.is_regular_file()) continue;
      auto rel = fs::relative(e.path(), tmp).string();  // harvest/<node>/…, or its own manifest.json and summary.md
      bundle.write_text(rel.rfind("harvest/", 0) == 0 ? rel : "harvest/" + rel, read_text(e.path()));
    }
    record_remote_binaries(bundle, fleet, tmp);
    progress(fmt::format("harvest: {} nodes reached, {} unreachable", hr.reached, hr.unreachable));
  } catch (const std::exception& e) {
    progress(std::string("harvest failed: ") + e.what());
    bundle.write_text("harvest/ERROR.txt", std::string(e.what()) + "\n");
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
}

int run_gate_on(orchestrator::Fleet fleet, const GateCliOptions& o, const gates::GateProfile& profile,
                const std::vector<std::string>& scenarios, orchestrator::LocalMesh* mesh) {
  if (!o.anchor.empty()) {
    if (!fleet.find(o.anchor)) {
      fmt::print(stderr, "x0xctl gate: --anchor {}: not a host of the fleet\n", o.anchor);
      return kExitUsage;
    }
    fleet.anchor = o.anchor;  // the fault injector refuses it as a target too
  }
  if (fleet.anchor.empty()) fleet.anchor = fleet.hosts.front().name;
  auto stamp = utc_stamp();
  fs::path dir = o.proof_dir.empty() ? fs::path("proofs") / ("launch-readiness-" + stamp) : fs::path(o.proof_dir);
  if (std::error_code ec; fs::exists(dir) && !fs::is_empty(dir, ec)) {
    // Mixing two runs' files would make a bundle nobody can trust.
    fmt::print(stderr, "x0xctl gate: --proof-dir {}: exists and is not empty\n", dir.string());
    return kExitUsage;
  }
  json meta = {{"run_id", stamp},
               {"gate", profile.name},
               {"gate_source", profile.source},
               {"scenarios", scenarios},
               {"fleet", fleet.path.string()},
               {"network", o.network},
               {"nodes", fleet.names()},
               {"argv", o.argv},
               {"local_fleet", mesh != nullptr}};
  proofs::BundleWriter bundle(dir, "launch-readiness", meta);
  orchestrator::LocalMesh::Options mesh_opts;
  if (mesh) mesh_opts = mesh->options();
  bundle.set("binaries", binary_hashes(mesh ? &mesh_opts : nullptr));
  bundle.write_text("gate.toml", profile.text);
  bundle.write_text("inventory.toml", orchestrator::render_fleet_toml(fleet));

  std::string log_text;  // gate.log: every progress line, written through the bundle (redacted)
  auto progress = [&](const std::string& line) {
    auto stamp_line = fmt::format("{} {}", utc_stamp(), line);
    fmt::print("{}\n", stamp_line);
    std::fflush(stdout);
    log_text += bundle.redactor().apply(stamp_line) + "\n";
  };

  orchestrator::FaultInjectorOptions fo;
  fo.accept_new_host_keys = o.accept_new_host_keys;
  if (mesh)
    fo.restart_local = [mesh](const std::string& host) {
      auto& nodes = mesh->nodes();
      for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].name == host) return mesh->restart_node(i);
      throw orchestrator::FaultError("restart: " + host + " is not a node of this local fleet");
    };
  else
    fo.restart_local = orchestrator::local_fleet_restarter(fleet.path);  // --fleet of a `local up` fleet
  auto faults = orchestrator::make_fault_injector(fleet, fo);
  auto access = orchestrator::make_api_access(fleet, {o.accept_new_host_keys});
  std::vector<harness::NodeApi> apis;
  try {
    apis = harness::open_node_apis(fleet, *access);
  } catch (const std::exception& e) {
    fmt::print(stderr, "x0xctl gate: {}\n", e.what());
    bundle.finish(kExitUsage);
    return kExitUsage;
  }
  for (auto& a : apis) bundle.redactor().add_secret(a.token);

  harness::GateRunOptions go;
  go.scenarios = scenarios;
  go.scenario = o.so;
  go.run_id = "gate-" + stamp;
  go.anchor = fleet.anchor;
  go.scenario.discover = std::chrono::milliseconds(static_cast<long>(o.discover_secs * 1000));
  go.scenario.settle = std::chrono::milliseconds(static_cast<long>(o.settle_secs * 1000));
  go.scenario.partition_pair = split_list(o.partition_pair);
  auto sink = [&](const std::string& rel, const json& j) {
    bundle.write_json(rel, j);
    bundle.checkpoint();
  };

  progress(fmt::format("gate {} on {} nodes ({}), scenarios {}; bundle {}", profile.name, fleet.hosts.size(),
                       mesh ? "local fleet" : fleet.path.string(), fmt::join(scenarios, ","), dir.string()));
  std::vector<gates::ScenarioRun> runs;
  std::string crash;
  auto run_started = std::chrono::steady_clock::now();
  {
    SignalScope signals;
    try {
      harness::run_gate_scenarios(fleet, apis, profile, *faults, go, sink, progress, &g_interrupted, runs);
    } catch (const std::exception& e) {
      crash = e.what();
      progress("CRASH: " + crash);
    }
  }
  // Requested scenarios the crash or an interrupt never reached are NOT RUN.
  for (std::size_t i = runs.size(); i < scenarios.size(); ++i) {
    gates::ScenarioRun r;
    r.name = scenarios[i];
    r.index = static_cast<int>(i);
    r.nodes = fleet.names();
    r.status = "not_run";
    r.reason = crash.empty() ? "interrupted before it started" : "the run crashed before it started: " + crash;
    gates::write_scenario_run(r, sink);
    runs.push_back(std::move(r));
  }

  if (crash.empty()) harvest_into(bundle, fleet, o, run_started, progress);

  auto verdict = gates::score(profile, runs);
  auto vj = verdict.to_json(runs);
  if (!crash.empty()) vj["crashed"] = crash;
  if (g_interrupted.load()) vj["interrupted"] = true;
  bundle.write_json("verdict.json", vj);
  bundle.write_text("summary.md", proofs::render_summary_md(vj));
  bundle.write_text("summary.csv", proofs::render_summary_csv(vj));
  bundle.write_text("report.html", proofs::render_report_html(vj));
  auto junit = proofs::render_junit(vj);
  bundle.write_text("junit.xml", junit);
  bundle.write_text("gate.log", log_text);
  print_verdict_table(stdout, vj);

  int rc = !crash.empty() ? kExitCrash : verdict.go ? kExitPass : kExitFail;
  bundle.finish(rc);
  if (!o.json_path.empty()) std::ofstream(o.json_path) << vj.dump(2) << "\n";
  if (!o.junit_path.empty()) std::ofstream(o.junit_path) << junit;
  fmt::print("Proof bundle: {}\n", dir.string());
  return rc;
}

int run_gate_cli(const GateCliOptions& o) {
  auto scenarios = split_list(o.scenarios);
  if (scenarios.empty()) {
    fmt::print(stderr, "x0xctl gate: --scenarios: empty list\n");
    return kExitUsage;
  }
  for (auto& s : scenarios)
    if (std::find(harness::scenario_names().begin(), harness::scenario_names().end(), s) == harness::scenario_names().end()) {
      fmt::print(stderr, "x0xctl gate: --scenarios: unknown scenario '{}' (known: {})\n", s,
                 fmt::join(harness::scenario_names(), ", "));
      return kExitUsage;
    }
  gates::GateProfile profile;
  try {
    profile = gates::resolve_profile(o.gate);
  } catch (const std::exception& e) {
    fmt::print(stderr, "x0xctl gate: --gate {}: {}\n", o.gate, e.what());
    return kExitUsage;
  }

  fs::path fleet_path = o.fleet.empty() ? fs::path("fleet.toml") : fs::path(o.fleet);
  if (!o.fleet.empty() || fs::exists(fleet_path)) {
    orchestrator::Fleet fleet;
    try {
      fleet = orchestrator::load_fleet(fleet_path, o.network);
    } catch (const orchestrator::InventoryError& e) {
      fmt::print(stderr, "x0xctl gate: invalid inventory:\n{}\n", e.what());
      return kExitUsage;
    }
    return run_gate_on(fleet, o, profile, scenarios, nullptr);
  }

  // The embedded default: a fresh local fleet for this run only.
  return with_embedded_fleet("gate", o.local_nodes, kExitCrash,
                             [&](const orchestrator::Fleet& fleet, orchestrator::LocalMesh& mesh) {
                               return run_gate_on(fleet, o, profile, scenarios, &mesh);
                             });
}

}  // namespace

void register_gate(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<GateCliOptions>();
  auto* sub = app.add_subcommand("gate", "score the fleet against a launch gate with scenarios; write a proof bundle");
  auto& so = o->so;
  sub->add_option("--fleet", o->fleet, "inventory (default ./fleet.toml; none: a fresh local fleet of 6 for this run)");
  sub->add_option("--network", o->network, "the inventory's network to use");
  sub->add_option("--gate", o->gate, "gate profile: a name (limited-production, broad-launch, or NAME.toml in $X0X_GATES_DIR or ./gates) or a path")->capture_default_str();
  sub->add_option("--scenarios", o->scenarios, "comma list: baseline, fanout_burst, restart_storm, high_rtt_peer, partition_recovery, slow_peer, stale_peer")->capture_default_str();
  sub->add_option("--anchor", o->anchor, "node that drives Phase A and publishes the burst (default: the inventory's anchor); never a fault target");
  sub->add_option("--proof-dir", o->proof_dir, "bundle directory (default proofs/launch-readiness-<UTC stamp>)");
  sub->add_option("--json", o->json_path, "also write verdict.json here");
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
  sub->add_option("--heal-secs", so.heal_secs, "recovery time limit after a heal")->capture_default_str()->check(CLI::PositiveNumber);
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
