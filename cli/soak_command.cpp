// `x0xctl soak`: the broad-launch soak certifier (spec gates-and-proofs.md §5)
// on an inventory, or on a local fleet of 6 lean nodes with background traffic
// when there is none. This file parses, refuses bad requests before any work
// (exit 2), and prints; the loop is harness::run_soak.
// Exit 0 GO, 1 NO-GO, 2 usage, 3 interrupted or crashed (the bundle is still
// written and says so; `--resume DIR` continues it).
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/embedded_fleet.h"
#include "cli/verb_support.h"
#include "core/contained_files.h"
#include "core/text.h"
#include "core/utc_time.h"
#include "gates/profile.h"
#include "gates/soak_model.h"
#include "harness/gate_run.h"
#include "harness/soak_loop.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/control/soak_lock.h"
#include "orchestrator/lifecycle/local_mesh.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct SoakCliOptions {
  std::string fleet, network, anchor, gate = "broad-launch", duration = "12h", interval = "30m", variant = "combined",
                                      soak_dir, resume, json_path, junit_path;
  int warmup = 1, local_nodes = 6;
  double background_rate = -1;  // -1: 5/s on the embedded default, none on an inventory
  double discover_secs = 30, settle_secs = 45;
  int burst_messages = 5000, burst_payload_bytes = 4096, burst_delay_ms = 1;
  bool accept_new_host_keys = false;
  std::vector<std::string> argv, given;  // argv as recorded; the names of the options given
};

std::string default_dir(harness::SoakVariant v) {
  const char* kind = v == harness::SoakVariant::fixed_roster      ? "launch-soak-fixed-roster-"
                     : v == harness::SoakVariant::pubsub_pressure ? "launch-soak-pubsub-pressure-"
                                                                  : "launch-readiness-soak-";
  return (fs::path("proofs") / (kind + utc_stamp())).string();
}

struct Prepared {
  harness::SoakRequest rq;
  std::optional<orchestrator::Fleet> inventory;  // none: the embedded default
  bool default_dir = false;
};

bool given(const SoakCliOptions& o, const std::string& name) {
  return std::find(o.given.begin(), o.given.end(), name) != o.given.end();
}

// A fresh soak's request; every problem is named before any work.
bool prepare_new(const SoakCliOptions& o, Prepared& p, std::vector<std::string>& problems) {
  auto& rq = p.rq;
  auto variant = harness::parse_soak_variant(o.variant);
  if (!variant) problems.push_back("--variant " + o.variant + ": expected combined, fixed-roster or pubsub-pressure");
  rq.variant = variant.value_or(harness::SoakVariant::combined);
  auto duration = parse_duration(o.duration), interval = parse_duration(o.interval);
  if (!duration) problems.push_back("--duration " + o.duration + ": expected a positive number of s, m or h (e.g. 12h, 90m, 60s)");
  if (!interval) problems.push_back("--interval " + o.interval + ": expected a positive number of s, m or h (e.g. 30m, 10s)");
  if (duration && interval && *interval > *duration)
    problems.push_back(fmt::format("--interval {} is longer than --duration {}: no window would fit", o.interval, o.duration));
  if (o.warmup < 0) problems.push_back("--warmup: must be 0 or more windows");
  try {
    rq.profile = gates::resolve_profile(o.gate);
  } catch (const std::exception& e) {
    problems.push_back("--gate " + o.gate + ": " + e.what());
  }
  harness::FleetShape shape;
  try {
    choose_fleet(o.fleet, o.network, o.anchor, o.local_nodes, p.inventory, shape);
  } catch (const orchestrator::InventoryError& e) {
    problems.push_back(std::string("invalid inventory:\n") + e.what());
    return false;
  }
  if (p.inventory) {
    rq.run.fleet_path = fs::absolute(p.inventory->path).string();
    if (auto held = orchestrator::soak_holding(p.inventory->path); !held.empty()) problems.push_back(held);
  }
  rq.run.network = o.network;
  rq.run.local_nodes = o.local_nodes;
  rq.run.background_rate = o.background_rate >= 0 ? o.background_rate : (p.inventory ? 0.0 : 5.0);
  rq.run.discover_secs = o.discover_secs;
  rq.run.settle_secs = o.settle_secs;
  rq.run.burst_messages = o.burst_messages;
  rq.run.burst_payload_bytes = o.burst_payload_bytes;
  rq.run.burst_delay_ms = o.burst_delay_ms;

  auto& c = rq.config;
  c.gate = rq.profile.name;
  c.gate_source = rq.profile.source;
  c.variant = std::string(harness::to_string(rq.variant));
  c.duration_secs = static_cast<double>(duration.value_or(0));
  c.interval_secs = static_cast<double>(interval.value_or(1));
  c.target_windows = std::max(1, static_cast<int>(std::floor(c.duration_secs / c.interval_secs)));
  c.warmup_windows = o.warmup;
  c.nodes = shape.nodes;
  auto n = static_cast<long>(shape.nodes.size());
  c.expected_pairs = n * (n - 1);  // §5.5 from the inventory itself, not a token-file line count (§9.1 item 5)

  p.default_dir = o.soak_dir.empty();
  rq.soak_dir = p.default_dir ? fs::path(default_dir(rq.variant)) : fs::path(o.soak_dir);
  // The windows are gate runs: the same checks as `x0xctl gate` (anchor, scenario, an empty directory).
  auto scenario = harness::window_scenario(rq.variant);
  for (auto& why : harness::gate_usage_problems({scenario}, rq.scenario, shape, rq.soak_dir))
    problems.push_back(why.rfind("--proof-dir", 0) == 0 ? "--soak-dir" + why.substr(11) : why);
  return true;
}

// A resumed soak's request: everything from its soak.json, nothing from flags.
bool prepare_resume(const SoakCliOptions& o, Prepared& p, std::vector<std::string>& problems) {
  for (auto* flag : {"--fleet", "--network", "--anchor", "--gate", "--duration", "--interval", "--variant", "--soak-dir",
                     "--proof-dir", "--warmup", "--local-nodes", "--background-rate", "--discover-secs", "--settle-secs",
                     "--burst-messages", "--burst-payload-bytes", "--burst-delay-ms"})
    if (given(o, flag)) problems.push_back(std::string(flag) + ": not with --resume (a resumed soak keeps its recorded settings)");
  auto& rq = p.rq;
  rq.soak_dir = o.resume;
  rq.resume = true;
  harness::SoakState st;
  try {
    st = harness::load_soak_state(o.resume);
  } catch (const std::exception& e) {
    problems.push_back("--resume " + o.resume + ": " + printable(e.what()));
    return false;
  }
  if (st.state == "complete") {
    problems.push_back("--resume " + o.resume + ": this soak is complete (nothing to resume)");
    return false;
  }
  rq.config = st.config;
  rq.run = st.run;
  rq.variant = st.variant;
  rq.fleet_epoch = st.fleet_epoch;
  try {
    rq.profile = gates::parse_profile(contained::read_file(o.resume, "gate.toml", 1u << 20), (fs::path(o.resume) / "gate.toml").string());
  } catch (const std::exception& e) {
    problems.push_back("--resume " + o.resume + ": gate.toml: " + printable(e.what()));
  }
  if (!rq.run.fleet_path.empty()) {
    try {
      p.inventory = orchestrator::load_fleet(rq.run.fleet_path, rq.run.network);
    } catch (const orchestrator::InventoryError& e) {
      problems.push_back("--resume: the soak's inventory no longer loads:\n" + std::string(e.what()));
      return false;
    }
    if (p.inventory->names() != rq.config.nodes)
      problems.push_back("--resume: " + rq.run.fleet_path + " no longer lists the soak's nodes (" +
                         fmt::format("{}", fmt::join(rq.config.nodes, ",")) + ")");
    if (auto held = orchestrator::soak_holding(rq.run.fleet_path); !held.empty()) problems.push_back(held);
  } else {
    rq.fleet_epoch = st.fleet_epoch + 1;  // the old local fleet died with its orchestrator
  }
  return true;
}

bool prepare(const SoakCliOptions& o, Prepared& p) {
  std::vector<std::string> problems;
  bool ok = o.resume.empty() ? prepare_new(o, p, problems) : prepare_resume(o, p, problems);
  auto& so = p.rq.scenario;
  so.discover = std::chrono::milliseconds(static_cast<long>(p.rq.run.discover_secs * 1000));
  so.settle = std::chrono::milliseconds(static_cast<long>(p.rq.run.settle_secs * 1000));
  so.burst_messages = p.rq.run.burst_messages;
  so.burst_payload_bytes = p.rq.run.burst_payload_bytes;
  so.burst_delay_ms = p.rq.run.burst_delay_ms;
  so.no_pubsub_after_discover = p.rq.variant == harness::SoakVariant::fixed_roster;
  for (auto& why : output_problems(o.json_path, o.junit_path)) problems.push_back(why);
  for (auto& why : problems) fmt::print(stderr, "x0xctl soak: {}\n", why);
  return ok && problems.empty();
}

// The end on a terminal: the windows by class, the rules, and what failed, by node.
void print_soak_summary(std::FILE* out, const json& soak) {
  std::map<std::string, int> by_class;
  for (auto& w : soak.value("windows", json::array())) by_class[w.value("class", std::string("?"))]++;
  std::string classes;
  for (auto& [c, n] : by_class) classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", n, c);
  fmt::print(out, "\nwindows: {}\n", classes);
  for (auto& r : soak.value("rules", json::array()))
    fmt::print(out, "  {:<26} {:<5} {}\n", r.value("rule", ""), r.value("status", ""), printable(r.value("detail", "")));
  for (auto& w : soak.value("windows", json::array())) {
    if (w.value("class", "") != "effective_failed") continue;
    fmt::print(out, "window {:03d} failed ({}):\n", w.value("index", 0), w.value("verdict", "?"));
    for (auto& v : w.value("violations", json::array())) fmt::print(out, "  - {}\n", printable(v.value("message", "")));
    std::map<std::string, int> per_node;
    for (auto& pair : w["phase_a"].value("failed_pairs", json::array()))
      for (auto& end : pair)
        if (end.is_string()) per_node[end.get<std::string>()]++;
    for (auto& [node, n] : per_node)
      if (n > 1) fmt::print(out, "  - {}: in {} failed Phase A pairs\n", printable(node), n);
    if (!w.value("note", std::string()).empty()) fmt::print(out, "  - {}\n", printable(w.value("note", "")));
  }
  auto verdict = soak.value("verdict", std::string("?"));
  if (verdict == "INTERRUPTED")
    fmt::print(out, "\nSoak INTERRUPTED (the windows so far give {}); resume with: x0xctl soak --resume DIR\n",
               soak.value("partial_verdict", std::string("?")));
  else
    fmt::print(out, "\nSoak verdict: {} (gate {}, {})\n", verdict, soak["config"].value("gate", ""), soak["config"].value("variant", ""));
}

int run_soak_cli(const SoakCliOptions& o) {
  Prepared p;
  if (!prepare(o, p)) return kExitUsage;
  // Every window starts threads (snapshots, Phase A, the harvest) whose freed
  // memory glibc keeps in one arena per thread: over hundreds of windows that
  // is RSS growth without a leak. One arena keeps a soak at the RSS of its
  // first windows (BENCHMARKS.md). Set before any thread exists.
  ::mallopt(M_ARENA_MAX, 1);
  std::FILE* human = human_stream(o.json_path, o.junit_path);
  auto& rq = p.rq;
  rq.argv = o.argv;
  rq.accept_new_host_keys = o.accept_new_host_keys;
  rq.interrupted = &StopSignals::flag();
  auto progress = line_printer(human);
  harness::SoakOutcome outcome;
  auto run = [&](const orchestrator::Fleet& fleet, orchestrator::LocalMesh* mesh) {
    rq.fleet = fleet;
    if (!o.anchor.empty()) rq.fleet.anchor = o.anchor;
    rq.local_mesh = mesh;
    StopSignals signals;
    std::optional<orchestrator::SoakLock> lock;
    if (!rq.run.fleet_path.empty()) {
      lock.emplace(rq.run.fleet_path, rq.soak_dir);
      if (!lock->held()) progress("WARNING: cannot write " + lock->path().string() + ": destructive runs are not locked out");
    }
    outcome = harness::run_soak(rq, progress);
    return outcome.exit_code;
  };
  int rc = p.inventory ? run(*p.inventory, nullptr)
                       : with_embedded_fleet("soak", rq.run.local_nodes, kExitCrash,
                                             [&](const orchestrator::Fleet& f, orchestrator::LocalMesh& m) { return run(f, &m); });
  if (outcome.soak.is_object()) {
    print_soak_summary(human, outcome.soak);
    bool written = write_output(human, "soak", "--json", o.json_path, outcome.soak.dump(2) + "\n") &&
                   write_output(human, "soak", "--junit", o.junit_path, outcome.junit);
    if (!written && rc != kExitCrash) rc = kExitUsage;
  }
  if (!outcome.dir.empty()) {
    if (p.default_dir) update_latest_link(outcome.dir);
    fmt::print(human, "Soak bundle: {}\n", outcome.dir.string());
  }
  return rc;
}

}  // namespace

void register_soak(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SoakCliOptions>();
  auto* sub = app.add_subcommand("soak", "certify a fleet over hours: gate windows on a wall-clock schedule, continuous "
                                          "accounting, tolerance, aggregate SLOs, burn rate; resumable");
  sub->add_option("--fleet", o->fleet, "inventory (default ./fleet.toml; none: a local fleet of 6 lean nodes with background traffic)");
  sub->add_option("--network", o->network, "the inventory's network to use");
  sub->add_option("--anchor", o->anchor, "node that drives Phase A (default: the inventory's anchor)");
  sub->add_option("--gate", o->gate, "gate profile of every window: a name or a path")->capture_default_str();
  sub->add_option("--duration", o->duration, "counted soak time: 12h, 90m, 60s (windows = duration / interval)")->capture_default_str();
  sub->add_option("--interval", o->interval, "one window per interval, anchored to the wall clock")->capture_default_str();
  sub->add_option("--variant", o->variant, "combined (baseline windows), fixed-roster (PubSub for discovery only), "
                                           "pubsub-pressure (fanout_burst windows)")->capture_default_str();
  sub->add_option("--soak-dir,--proof-dir", o->soak_dir, "bundle directory, empty or new (default proofs/launch-readiness-soak-<UTC stamp>)");
  sub->add_option("--resume", o->resume, "continue the unfinished soak in DIR (after a kill, a crash or a reboot)");
  sub->add_option("--warmup", o->warmup, "warm-up windows before the counted ones (recorded, never counted)")->capture_default_str();
  sub->add_option("--json", o->json_path, "also write soak.json here (- = stdout, and everything else goes to stderr)");
  sub->add_option("--junit", o->junit_path, "write JUnit XML: one case per window and per soak rule");
  sub->add_option("--local-nodes", o->local_nodes, "size of the local fleet when there is no inventory")->capture_default_str()->check(CLI::Range(2, 100));
  sub->add_option("--background-rate", o->background_rate, "PubSub messages/s between windows (default 5 on the local fleet, 0 on an inventory)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--discover-secs", o->discover_secs, "Phase A discovery window")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--settle-secs", o->settle_secs, "Phase A: wait for results after the last command")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--burst-messages", o->burst_messages, "pubsub-pressure: messages per window")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--burst-payload-bytes", o->burst_payload_bytes, "pubsub-pressure: payload size")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--burst-delay-ms", o->burst_delay_ms, "pubsub-pressure: pause between publishes")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_flag("--accept-new-host-keys", o->accept_new_host_keys, "record unknown SSH host keys (a changed key is always refused)");
  sub->callback([o, &exit_code, sub] {
    o->argv.clear();
    o->given.clear();
    for (auto* opt : sub->get_options())
      if (opt->count() > 0) {
        o->given.push_back(opt->get_name());
        for (auto& lname : opt->get_lnames()) o->given.push_back("--" + lname);
        o->argv.push_back(opt->get_name() + (opt->get_expected_max() > 0 ? "=" + opt->as<std::string>() : ""));
      }
    try {
      exit_code = run_soak_cli(*o);
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl soak: crashed: {}\n", printable(e.what()));
      exit_code = kExitCrash;
    }
  });
}

}  // namespace x0x::cli
