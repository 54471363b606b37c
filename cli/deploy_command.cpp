// `x0xctl deploy`: a node binary (x0xd or x0x-lean-node) and the runner to an
// SSH fleet — plan, canary wave, waves, health gate, rollback. The engine is
// orchestrator/lifecycle/deploy.h; this file is options, live output and the receipts.
// SIGINT/SIGTERM: no new host starts, hosts in flight finish or roll back, the
// table is printed and the exit code is 1.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/utc_time.h"
#include "orchestrator/lifecycle/deploy.h"
#include "orchestrator/control/inventory.h"
#include "runners/control_trust.h"

namespace x0x::cli {

namespace fs = std::filesystem;

namespace {

struct DeployCliOptions {
  std::string fleet, network, binary, runner, config_template, waves = "1,25%,100%", hosts, json_path, proof_root = "proofs";
  std::string expect_version, log_level, verify;  // verify: "", a, b or ab
  std::string runner_trusted_agents;               // "" (unset): each runner trusts its first discover's sender
  int max_fail = 0;
  std::size_t parallel = 8;
  double gate_secs = 60, api_secs = 30;
  bool dry_run = false, force = false, accept_new = false, strip = false, yes = false;
};

std::atomic<int> g_signal{0};

extern "C" void on_deploy_signal(int sig) {
  if (g_signal.exchange(sig) == 0) {
    static const char msg[] = "\nx0xctl deploy: interrupted — no new hosts start; the hosts in flight finish or roll back\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  }
}

// Installed for the run, the previous handlers restored after it.
struct SignalGuard {
  struct sigaction old_int{}, old_term{};
  SignalGuard() {
    g_signal = 0;
    struct sigaction sa{};
    sa.sa_handler = on_deploy_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int);
    ::sigaction(SIGTERM, &sa, &old_term);
  }
  ~SignalGuard() {
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
  }
};

// A network that asks for it (confirm_hold_s, e.g. prod) gets a red banner and
// a pause the operator can interrupt, unless --yes or X0X_NETWORK_NO_HOLD=1.
void hold_for_network(const orchestrator::Fleet& fleet, bool yes, bool tty) {
  auto* n = fleet.selected_network();
  if (!n || n->confirm_hold_s <= 0) return;
  const char* env = std::getenv("X0X_NETWORK_NO_HOLD");
  bool skip = yes || (env && std::string(env) == "1");
  auto banner = fmt::format("NETWORK {}{}: deploying to {} host(s){}", n->name, n->real_users ? " (REAL USERS)" : "",
                            fleet.hosts.size(), skip ? "" : fmt::format(" — starting in {} s, Ctrl-C to abort", n->confirm_hold_s));
  if (tty)
    fmt::print("\033[1;41;97m {} \033[0m\n", banner);
  else
    fmt::print("*** {} ***\n", banner);
  std::fflush(stdout);
  if (skip) return;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(n->confirm_hold_s);
  while (std::chrono::steady_clock::now() < until && g_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}


int run_deploy_cli(const DeployCliOptions& c) {
  orchestrator::Fleet fleet;
  fs::path fleet_path = c.fleet.empty() ? fs::path("fleet.toml") : fs::path(c.fleet);
  try {
    fleet = orchestrator::load_fleet(fleet_path, c.network);
  } catch (const orchestrator::InventoryError& e) {
    fmt::print(stderr, "x0xctl deploy: invalid inventory:\n{}\n", e.what());
    return kExitUsage;
  }
  orchestrator::DeployOptions o;
  o.binary = c.binary;
  o.runner = c.runner;
  try {
    auto trusted = runners::parse_trusted_agents(c.runner_trusted_agents);
    for (auto& a : trusted) o.runner_trusted_agents += (o.runner_trusted_agents.empty() ? "" : ",") + a;
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "x0xctl deploy: --runner-trusted-agents: {}\n", e.what());
    return kExitUsage;
  }
  o.config_template = c.config_template;
  o.expect_version = c.expect_version;
  o.waves = c.waves;
  o.max_fail = c.max_fail;
  o.parallel = c.parallel;
  o.dry_run = c.dry_run;
  o.force = c.force;
  o.accept_new_host_keys = c.accept_new;
  o.strip = c.strip;
  o.interrupted = [] { return g_signal != 0; };
  o.log_level = c.log_level;
  o.gate_timeout = std::chrono::milliseconds(static_cast<long>(c.gate_secs * 1000));
  o.api_timeout = std::chrono::milliseconds(static_cast<long>(c.api_secs * 1000));
  if (!c.hosts.empty()) {
    std::string item;
    std::stringstream ss(c.hosts);
    while (std::getline(ss, item, ','))
      if (!item.empty()) o.hosts.push_back(item);
  }
  fs::path proof_dir;
  if (!c.dry_run) {
    proof_dir = fs::path(c.proof_root) / ("deploy-" + utc_stamp());
    o.work_dir = proof_dir;
  }
  const bool tty = ::isatty(STDOUT_FILENO);
  SignalGuard signals;
  auto t0 = std::chrono::steady_clock::now();
  std::mutex mu;
  auto progress = [&](const std::string& host, const std::string& what) {
    std::lock_guard lk(mu);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty)
      fmt::print("\033[2m{:6.1f}s\033[0m {:<12} {}\n", s, host.empty() ? "·" : host, what);
    else
      fmt::print("{:6.1f}s {:<12} {}\n", s, host.empty() ? "-" : host, what);
    std::fflush(stdout);
  };
  auto on_plan = [&](const orchestrator::DeployReport& plan) {
    {
      std::lock_guard lk(mu);
      fmt::print("{}", orchestrator::format_plan(plan));
      std::fflush(stdout);
    }
    hold_for_network(fleet, c.yes, tty);
  };
  orchestrator::DeployReport rep;
  try {
    rep = orchestrator::run_deploy(fleet, o, progress, on_plan);
  } catch (const orchestrator::DeployUsageError& e) {
    fmt::print(stderr, "x0xctl deploy: {}\n", e.what());
    return kExitUsage;
  }
  if (c.dry_run) {
    fmt::print("{}", orchestrator::format_plan(rep));
    if (rep.stopped) fmt::print("{}\n", rep.stop_reason);
    fmt::print("Dry run: nothing was changed.\n");
  } else {
    fmt::print("\n{}", orchestrator::format_results(rep));
  }
  auto j = rep.to_json();
  if (!proof_dir.empty()) {
    std::ofstream out(proof_dir / "deploy.json");
    out << j.dump(2) << "\n";
    fmt::print("Deploy log: {}\n", (proof_dir / "deploy.log").string());
  }
  if (!c.json_path.empty()) {
    std::ofstream out(c.json_path);
    out << j.dump(2) << "\n";
    if (!out) {
      fmt::print(stderr, "x0xctl deploy: cannot write {}\n", c.json_path);
      return kExitUsage;
    }
  }
  if (!rep.passed()) return kExitFail;
  if (c.verify.empty() || c.dry_run) return kExitPass;
  // As the reference's deploy script with --mesh-verify: Phase A, then Phase B, on the fleet just deployed.
  fmt::print("\nDeploy done; verifying the fleet (--verify {})\n", c.verify);
  VerifyRequest v;
  v.phase = c.verify;
  v.accept_new_host_keys = c.accept_new;
  return verify_fleet(fleet, v);
}

}  // namespace

void register_deploy(CLI::App& app, int& exit_code) {
  auto c = std::make_shared<DeployCliOptions>();
  auto* sub = app.add_subcommand("deploy", "Deploy a node binary (+ runner) to the SSH fleet: plan, canary, waves, health gate, rollback");
  sub->add_option("--fleet", c->fleet, "inventory (default ./fleet.toml)");
  sub->add_option("--network", c->network, "the inventory's [network.NAME] to deploy (a require_explicit network only by this option)");
  sub->add_option("--binary", c->binary, "the node binary to deploy (x0xd or x0x-lean-node)")->required();
  sub->add_option("--runner", c->runner, "the x0x-test-runner binary to deploy beside each node");
  sub->add_option("--runner-trusted-agents", c->runner_trusted_agents,
                  "orchestrator agent ids (64 hex, comma-separated) the runners take commands from, written to their "
                  "env file as X0X_RUNNER_TRUSTED_AGENTS (default: each runner trusts the first orchestrator that "
                  "discovers it, e.g. this deploy's --verify, until it restarts)")
      ->envname("X0X_RUNNER_TRUSTED_AGENTS");
  sub->add_option("--config-template", c->config_template,
                  "node config template (TOML); api_address, bind_address, data_dir, instance_name, log_level and "
                  "bootstrap_peers are set from the inventory");
  sub->add_option("--expect-version", c->expect_version, "the binary's version when it cannot run here (default: `BINARY --version`)");
  sub->add_option("--waves", c->waves, "cumulative wave sizes, counts or percentages; the first wave is the canary")->capture_default_str();
  sub->add_option("--max-fail", c->max_fail, "failed hosts tolerated before the rollout stops")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--parallel", c->parallel, "hosts deployed at once (one SSH session each)")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--hosts", c->hosts, "only these hosts (comma-separated names)");
  sub->add_option("--json", c->json_path, "write the report as JSON");
  sub->add_option("--proof-root", c->proof_root, "where deploy-<UTC>/deploy.log goes")->capture_default_str();
  sub->add_option("--log-level", c->log_level, "the node's log_level (default: the template's, else info)");
  sub->add_option("--gate-secs", c->gate_secs, "health gate budget for peers and the runner")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--api-secs", c->api_secs, "budget for /health to answer after a restart")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--verify", c->verify, "after a healthy deploy, run x0xctl verify --phase a|b|ab on the fleet")
      ->check(CLI::IsMember({"a", "b", "ab"}));
  sub->add_flag("--dry-run", c->dry_run, "print the plan and change nothing");
  sub->add_flag("--force", c->force, "reinstall and restart hosts that are already at the target");
  sub->add_flag("--strip", c->strip, "deploy copies without debug info (strip --strip-debug); the report names the original");
  sub->add_flag("--yes", c->yes, "no confirmation pause for a network with confirm_hold_s (also X0X_NETWORK_NO_HOLD=1)");
  sub->add_flag("--accept-new-host-keys", c->accept_new, "record UNKNOWN host keys in the inventory's known_hosts (a changed key is always refused)");
  sub->footer("Exit codes: 0 every targeted host healthy at the new version (and, with --verify, the verification passed), "
              "1 otherwise (also when interrupted), 2 usage or inventory error; with --verify, verify's codes (3, 4) too.");
  sub->callback([c, &exit_code] {
    try {
      exit_code = run_deploy_cli(*c);
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl deploy: {}\n", e.what());
      exit_code = kExitFail;
    }
  });
}

}  // namespace x0x::cli
