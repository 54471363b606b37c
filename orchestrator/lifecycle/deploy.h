// The deploy engine behind `x0xctl deploy`: plan (compare sha256 of what each
// host has with the targets), then waves — the first wave is the canary — each
// deployed in parallel (one SSH session per worker) and health-gated before
// the next starts; a failed host is rolled back to its `.prev` files.
//
// Per host, in this order, so that a dropped connection leaves a known state:
//  1. stage every changed file as "<path>.new". Artefacts (node, runner) go
//     through the machine's content-addressed cache <install_root>/../.x0x-cache/<sha256>:
//     uploaded at most once per machine and run (RemoteHost::upload: temp file,
//     sha256 checked on the host, atomic mv into the cache — so a file in the
//     cache is a verified one), then hard-linked (or copied and re-hashed) to
//     "<path>.new" — hosts sharing a machine share one upload. Rendered files
//     are written and sha256-checked in one script. Nothing live has changed yet.
//  2. one remote script: `cp -p <path> <path>.prev` for every changed file (or
//     record it as fresh), then the journal run/deploy.state says
//     "phase=switching" with the file list, then `mv -f <path>.new <path>` for
//     each, then "phase=switched".
//  3. restart through the service manager (runner after node), health gate.
//  4. "phase=done" — or roll back: restore each journalled file from .prev
//     (fresh ones are removed, and a host with no previous install is stopped
//     and cleaned), restart, re-gate at the previous version,
//     "phase=rolled-back".
// A connection lost after step 2 started is retried once to roll back; if the
// host stays unreachable it is reported as unknown, and the next run finds
// the unfinished journal and rolls the host back before anything else.
// Interrupted (DeployOptions::interrupted turns true, e.g. on SIGINT): no new
// host starts; a host in flight stops before step 2 (nothing changed) or, once
// switched, finishes — healthy, or rolled back — so none is left half-installed.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "orchestrator/lifecycle/deploy_plan.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/control/remote.h"
#include "orchestrator/lifecycle/service_manager.h"

namespace x0x::orchestrator {

struct DeployOptions {
  std::filesystem::path binary;           // the node binary (x0xd or x0x-lean-node)
  std::filesystem::path runner;           // empty: no runner managed
  // X0X_RUNNER_TRUSTED_AGENTS in the runner's env file (comma-separated agent ids,
  // validated by the caller); empty: the runner trusts its first discover's sender.
  std::string runner_trusted_agents;
  std::filesystem::path config_template;  // empty: render from the inventory only
  std::string expect_version;             // empty: from `<binary> --version`
  std::string waves = "1,25%,100%";
  int max_fail = 0;
  std::size_t parallel = 8;
  bool dry_run = false;
  bool force = false;                     // deploy (restart + gate) unchanged hosts too
  bool accept_new_host_keys = false;
  bool strip = false;                     // deploy `strip --strip-debug` copies of the artefacts
  std::vector<std::string> hosts;         // empty: every host of the fleet
  std::string log_level;                  // empty: the template's, else "info"
  std::chrono::milliseconds api_timeout{30000};   // restart → /health answers
  std::chrono::milliseconds gate_timeout{60000};  // → peers, send-ready peers, runner ready
  std::chrono::milliseconds command_timeout{60000};
  std::chrono::milliseconds connect_timeout{10000};
  // Where deploy.log and the rendered per-host files go (created); empty: a
  // temporary folder (removed afterwards), and no log file.
  std::filesystem::path work_dir;
  ServiceManagerOptions service;
  // How a host is reached; default: ssh_connect with the inventory's SSH fields.
  std::function<std::unique_ptr<RemoteHost>(const Host&, bool accept_new)> connect;
  // Polled between steps; true: stop starting hosts (see above). Unset: never.
  std::function<bool()> interrupted;
};

struct DeployReport;
// Called once the plan is known, before any host is changed (not on a dry run).
using DeployPlanHook = std::function<void(const DeployReport& plan)>;

// What the plan decided for a host. Strings ("install", …, "-") only at the
// edge: JSON, the tables, the log.
enum class DeployAction {
  none,     // "-": the plan failed for this host
  install,  // nothing installed yet
  upgrade,  // files differ (or an unfinished run is rolled back first)
  restart,  // same files, but not serving / not at the version / --force
  skip,     // already at the target and serving
};

// How a host ended (or, in a plan, stands).
enum class DeployResult {
  planned,        // dry run: would be deployed
  not_attempted,  // the rollout stopped before this host
  healthy,        // at the target version, gate passed
  unchanged,      // skipped: already at the target
  failed,
  rolled_back,    // gate failed; the previous install serves again
  cleaned,        // gate failed on a fresh host: stopped and removed
  unknown,        // connection lost after the switch; the next run rolls it back
  interrupted,    // interrupted before its switch: nothing changed
};

// Where a host's time went, in order, each once at most.
enum class DeployPhase { probe, connect, upload, stage, switch_files, restart, gate, rollback };

std::string_view to_string(DeployAction a);  // install | upgrade | restart | skip | -
std::string_view to_string(DeployResult r);  // healthy | unchanged | failed | rolled-back | cleaned | unknown | not-attempted | planned | interrupted
std::string_view to_string(DeployPhase p);   // probe | connect | upload | stage | switch | restart | gate | rollback
std::optional<DeployAction> deploy_action_from_string(std::string_view s);
std::optional<DeployResult> deploy_result_from_string(std::string_view s);
std::optional<DeployPhase> deploy_phase_from_string(std::string_view s);

struct HostReport {
  std::string name;
  int wave = 0;              // 1-based; 0: not in any wave (skipped, or the plan failed)
  DeployAction action = DeployAction::none;
  std::string changes;       // "node, config" or "unchanged"
  DeployResult result = DeployResult::not_attempted;
  // One line: why. Problems that did not decide the result but must not go
  // unseen (the journal not marked done, a service that would not stop
  // during a rollback) are appended as "; WARNING: …" (and logged).
  std::string detail;
  double seconds = 0;
  std::string before_version, after_version;
  bool ok = false;           // healthy at the target version (or unchanged and healthy)
  std::vector<std::pair<DeployPhase, double>> phases;
};

struct DeployReport {
  std::string run_id;
  Artefact binary;
  std::optional<Artefact> runner;
  std::vector<std::vector<std::string>> waves;
  std::vector<HostReport> hosts;  // in inventory order
  bool dry_run = false;
  bool stopped = false;           // the rollout stopped early
  bool interrupted = false;       // … because DeployOptions::interrupted turned true
  std::string stop_reason;
  std::string network;            // the inventory network deployed ("" when none)
  std::size_t uploads = 0;        // artefact uploads (at most one per machine and artefact)
  double seconds = 0;
  bool passed() const;            // every targeted host ok (dry run: the plan succeeded)
  nlohmann::json to_json() const;
};

// A line of live progress: host ("" for the run), what happens now.
using DeployProgress = std::function<void(const std::string& host, const std::string& what)>;

// DeployUsageError for usage/inventory problems (exit 2). Never throws for a
// host's failure: that is in the report.
DeployReport run_deploy(const Fleet& fleet, const DeployOptions& opts, const DeployProgress& progress = {},
                        const DeployPlanHook& on_plan = {});

// The plan as text (dry run and the start of a real run).
std::string format_plan(const DeployReport& plan);
// The final table: host, wave, action, result, seconds, detail.
std::string format_results(const DeployReport& report);

}  // namespace x0x::orchestrator
