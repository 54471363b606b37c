#include "harness/gate_run.h"

#include <fstream>
#include <mutex>
#include <sstream>

#include <fmt/core.h>
#include <fmt/format.h>

#include "core/encoding.h"
#include "core/exit_codes.h"
#include "core/sha256.h"
#include "core/utc_time.h"
#include "harness/settle.h"
#include "harness/snapshots.h"
#include "orchestrator/collection/harvest.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/lifecycle/local_fleet.h"
#include "orchestrator/lifecycle/local_mesh.h"
#include "proofs/bundle_writer.h"
#include "proofs/renderers.h"

namespace x0x::harness {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// sha256 of the binaries a local fleet runs (remote hosts' come from the harvest).
json local_binary_hashes(const orchestrator::LocalMesh* mesh) {
  json out = json::object();
  if (!mesh) return out;
  const auto& o = mesh->options();
  for (auto& [name, path] : {std::pair{"x0x-lean-node", o.node_binary}, std::pair{"x0x-test-runner", o.runner_binary}}) {
    if (path.empty()) continue;
    try {
      out[name] = sha256_file(path);
    } catch (const std::exception& e) {
      out[name] = std::string("unreadable: ") + e.what();
    }
  }
  return out;
}

// The manifest names the binaries each remote host runs, as the harvest's
// `sha256sum` on the host saw them.
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
void harvest_into(proofs::BundleWriter& bundle, const GateRequest& rq, Clock::time_point since,
                  const std::function<void(const std::string&)>& progress) {
  auto tmp = fs::temp_directory_path() / ("x0x-gate-harvest-" + random_hex(4));
  try {
    orchestrator::HarvestOptions ho;
    ho.out = tmp;
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - since).count() + 60;
    ho.since = std::to_string(secs) + "s";
    ho.accept_new_host_keys = rq.accept_new_host_keys;
    progress("harvest: logs, pattern counts and host facts of the last " + ho.since);
    auto hr = orchestrator::harvest(rq.fleet, ho);
    for (auto& e : fs::recursive_directory_iterator(tmp)) {
      if (!e.is_regular_file()) continue;
      auto rel = fs::relative(e.path(), tmp).string();  // harvest/<node>/…, or its own manifest.json and summary.md
      bundle.write_text(rel.rfind("harvest/", 0) == 0 ? rel : "harvest/" + rel, read_text(e.path()));
    }
    record_remote_binaries(bundle, rq.fleet, tmp);
    progress(fmt::format("harvest: {} nodes reached, {} unreachable", hr.reached, hr.unreachable));
  } catch (const std::exception& e) {
    progress(std::string("harvest failed: ") + e.what());
    bundle.write_text("harvest/ERROR.txt", std::string(e.what()) + "\n");
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
}

gates::ScenarioRun new_run(const std::string& name, std::size_t index, const orchestrator::Fleet& fleet, const std::string& anchor) {
  gates::ScenarioRun run;
  run.name = name;
  run.index = static_cast<int>(index);
  run.nodes = fleet.names();
  run.roles["anchor"] = {anchor};
  return run;
}

}  // namespace

std::vector<std::string> gate_usage_problems(const std::vector<std::string>& scenarios, const ScenarioOptions& opts,
                                             const FleetShape& fleet, const fs::path& proof_dir) {
  std::vector<std::string> problems;
  if (scenarios.empty()) problems.push_back("--scenarios: empty list");
  if (std::find(fleet.nodes.begin(), fleet.nodes.end(), fleet.anchor) == fleet.nodes.end())
    problems.push_back("--anchor " + fleet.anchor + ": not a host of the fleet");
  std::set<std::string> seen;
  for (auto& s : scenarios) {
    if (!seen.insert(s).second) problems.push_back("--scenarios: " + s + " is listed twice (one bundle folder per scenario)");
    if (auto why = scenario_usage_problem(s, opts, fleet); !why.empty()) problems.push_back("--scenarios: " + why);
  }
  if (std::error_code ec; fs::exists(proof_dir, ec) && !fs::is_empty(proof_dir, ec))
    // Mixing two runs' files would make a bundle nobody can trust.
    problems.push_back("--proof-dir " + proof_dir.string() + ": exists and is not empty");
  return problems;
}

void run_gate_scenarios(const ScenarioLoop& loop, const std::vector<std::string>& scenarios, std::vector<gates::ScenarioRun>& runs) {
  FleetShape shape{loop.fleet.names(), loop.anchor};
  auto interrupted = [&] { return loop.interrupted && loop.interrupted->load(); };
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const auto& name = scenarios[i];
    auto run = new_run(name, i, loop.fleet, loop.anchor);
    const auto* spec = find_scenario(name);
    auto why_not = interrupted() ? std::string("interrupted before it started") : scenario_usage_problem(name, loop.opts, shape);
    if (!why_not.empty()) {
      // The CLI refuses these before any work; a caller that did not check gets NOT RUN, never PASS.
      run.status = gates::RunStatus::not_run;
      run.reason = why_not;
      run.started_unix = run.ended_unix = unix_now();
      loop.progress(name + ": NOT RUN (" + why_not + ")");
    } else {
      ScenarioContext ctx{loop.fleet, loop.apis, loop.anchor, loop.faults, loop.profile, loop.opts, loop.run_id,
                          [&](const std::string& line) { loop.progress(name + ": " + line); }, loop.interrupted, loop.sink};
      run.started_unix = unix_now();
      if (spec->roles)
        for (auto& [role, nodes] : spec->roles(loop.opts, shape)) run.roles[role] = nodes;
      loop.progress(name + ": pre snapshot");
      run.pre = take_snapshots(loop.apis, loop.opts.request_timeout);
      run_scenario_body(spec->body, ctx, run);
      SettleOptions so;
      so.bounds = settle_bounds(*spec, loop.profile);
      so.poll = loop.settle_poll;
      so.request_timeout = loop.opts.request_timeout;
      so.interrupted = loop.interrupted;
      loop.progress(fmt::format("{}: window settling (at least {} s, at most {} s)", name, so.bounds.min_secs, so.bounds.max_secs));
      run.post = settle_window(loop.apis, so, run.settle);
      run.ended_unix = unix_now();
      std::string settled = run.settle.settled ? fmt::format("settled after {:.1f} s", run.settle.waited_secs)
                                               : fmt::format("NOT settled after {:.1f} s ({} nodes with work pending)",
                                                             run.settle.waited_secs, run.settle.pending.size());
      loop.progress(fmt::format("{}: post snapshot, window {}; done in {:.1f} s{}", name, settled, run.ended_unix - run.started_unix,
                                run.status == gates::RunStatus::ran ? "" : fmt::format(" ({}: {})", gates::to_string(run.status), run.reason)));
    }
    gates::write_scenario_run(run, loop.sink);
    runs.push_back(std::move(run));
  }
}

GateOutcome run_gate(const GateRequest& rq, const std::function<void(const std::string&)>& progress) {
  GateOutcome out;
  const auto& fleet = rq.fleet;
  const std::string anchor = !fleet.anchor.empty() ? fleet.anchor : fleet.hosts.front().name;
  const auto stamp = utc_stamp();
  out.bundle_dir = rq.proof_dir;
  json meta = {{"run_id", stamp},
               {"gate", rq.profile.name},
               {"gate_source", rq.profile.source},
               {"scenarios", rq.scenarios},
               {"fleet", fleet.path.string()},
               {"network", rq.network},
               {"nodes", fleet.names()},
               {"argv", rq.argv},
               {"local_fleet", rq.local_mesh != nullptr}};
  proofs::BundleWriter bundle(rq.proof_dir, "launch-readiness", meta);
  bundle.set("binaries", local_binary_hashes(rq.local_mesh));
  bundle.write_text("gate.toml", rq.profile.text);
  bundle.write_text("inventory.toml", orchestrator::render_fleet_toml(fleet));

  std::string log_text;  // gate.log: every progress line, written through the bundle (redacted)
  std::mutex log_mu;     // a scenario may report from its worker threads
  auto say = [&](const std::string& line) {
    auto stamped = fmt::format("{} {}", utc_stamp(), line);
    auto redacted = bundle.redactor().apply(stamped);
    std::lock_guard lk(log_mu);
    log_text += redacted + "\n";
    if (progress) progress(redacted);
  };

  orchestrator::FaultInjectorOptions fo;
  fo.accept_new_host_keys = rq.accept_new_host_keys;
  if (auto* mesh = rq.local_mesh)
    fo.restart_local = [mesh](const std::string& host) {
      auto& nodes = mesh->nodes();
      for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].name == host) return mesh->restart_node(i);
      throw orchestrator::FaultError("restart: " + host + " is not a node of this local fleet");
    };
  else
    fo.restart_local = orchestrator::local_fleet_restarter(fleet.path);  // --fleet of a `local up` fleet
  auto faults = orchestrator::make_fault_injector(fleet, fo);
  auto access = orchestrator::make_api_access(fleet, {rq.accept_new_host_keys});
  std::vector<NodeApi> apis;
  try {
    apis = open_node_apis(fleet, *access);
  } catch (const std::exception& e) {
    say(std::string("cannot reach every node's API: ") + e.what());
    bundle.write_text("gate.log", log_text);
    bundle.finish(kExitUsage);
    out.exit_code = kExitUsage;
    out.crash = e.what();
    return out;
  }
  for (auto& a : apis) bundle.redactor().add_secret(a.token);

  auto sink = [&](const std::string& rel, const json& j) {
    bundle.write_json(rel, j);
    bundle.checkpoint();
  };
  say(fmt::format("gate {} on {} nodes ({}), scenarios {}; bundle {}", rq.profile.name, fleet.hosts.size(),
                  rq.local_mesh ? "local fleet" : fleet.path.string(), fmt::join(rq.scenarios, ","), rq.proof_dir.string()));
  std::vector<gates::ScenarioRun> runs;
  auto started = Clock::now();
  try {
    ScenarioLoop loop{fleet, apis, rq.profile, *faults, rq.scenario, anchor, "gate-" + stamp, sink, say, rq.interrupted, rq.settle_poll};
    run_gate_scenarios(loop, rq.scenarios, runs);
  } catch (const std::exception& e) {
    out.crash = e.what();
    say("CRASH: " + out.crash);
  }
  // Requested scenarios that the crash or an interrupt never reached are NOT RUN.
  for (std::size_t i = runs.size(); i < rq.scenarios.size(); ++i) {
    auto r = new_run(rq.scenarios[i], i, fleet, anchor);
    r.status = gates::RunStatus::not_run;
    r.reason = out.crash.empty() ? "interrupted before it started" : "the run crashed before it started: " + out.crash;
    gates::write_scenario_run(r, sink);
    runs.push_back(std::move(r));
  }

  if (out.crash.empty()) harvest_into(bundle, rq, started, say);

  auto verdict = gates::score(rq.profile, runs, scenario_scoring);
  out.verdict = verdict.to_json(runs);
  if (!out.crash.empty()) out.verdict["crashed"] = out.crash;
  bool interrupted = rq.interrupted && rq.interrupted->load();
  if (interrupted) out.verdict["interrupted"] = true;
  bundle.write_json("verdict.json", out.verdict);
  bundle.write_text("summary.md", proofs::render_summary_md(out.verdict));
  bundle.write_text("summary.csv", proofs::render_summary_csv(out.verdict));
  bundle.write_text("report.html", proofs::render_report_html(out.verdict));
  out.junit = proofs::render_junit(out.verdict);
  bundle.write_text("junit.xml", out.junit);
  say(fmt::format("verdict {} (gate {})", gates::to_string(verdict.verdict), rq.profile.name));
  bundle.write_text("gate.log", log_text);
  out.exit_code = !out.crash.empty() ? kExitCrash : verdict.go() ? kExitPass : kExitFail;
  bundle.finish(out.exit_code);
  return out;
}

}  // namespace x0x::harness
