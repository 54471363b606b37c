// `x0xctl gate` on a local fleet of lean nodes with runners, as an operator
// runs it: GO on a healthy mesh (peer faults included: their targets' pairs
// are scored apart), NO-GO naming the rule and the node when a lossy node
// breaks Phase A or a window cannot settle, usage errors before any work,
// faults cleared afterwards, and a bundle that verifies and re-scores to the
// same verdict.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_fleet.h"
#include "tests/support/cli_runner.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path write_inventory(TestFleet& tf, const fs::path& dir) {
  auto path = dir / "fleet.toml";
  auto f = orchestrator::fleet_of_mesh(tf.mesh(), path);
  f.name = "gate-test";
  std::ofstream(path) << orchestrator::render_fleet_toml(f);
  return path;
}

// A local fleet with runners that has formed, a temporary directory holding
// its inventory, and where the gate's bundle goes.
struct GateFleet {
  TestFleet tf;
  TempDir tmp{"x0x-gate-cli-"};
  fs::path inventory, bundle = tmp.path / "bundle";
  explicit GateFleet(int nodes, std::string extra_toml = {}) : tf(nodes, std::move(extra_toml), true) {
    REQUIRE(tf.mesh().wait_mesh_formed(30s));
    inventory = write_inventory(tf, tmp.path);
  }
};

json read_json(const fs::path& p) {
  std::ifstream in(p);
  REQUIRE(in);
  return json::parse(in);
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every node's GET /lean/faults shows nothing active.
bool faults_clear_everywhere(TestFleet& tf) {
  for (std::size_t i = 0; i < tf.size(); ++i) {
    auto f = tf.get(i, "/lean/faults");
    if (!f.contains("active") || !f["active"].is_object() || !f["active"].empty() || f.value("any", true)) return false;
  }
  return true;
}

const json* find_blocking(const json& verdict, const std::string& rule, const std::string& node) {
  for (auto& b : verdict["blocking"])
    if (b.value("rule", "") == rule && b.value("node", "") == node) return &b;
  return nullptr;
}

const std::string kQuick = " --discover-secs 15 --settle-secs 15 --burst-settle-secs 30";

}  // namespace

TEST_CASE("gate limited-production on a healthy local fleet: baseline and fanout_burst are GO, the bundle verifies and rescores",
          "[gate][cli]") {
  GateFleet g(6);
  auto r = run_x0xctl("gate --fleet " + g.inventory.string() + " --gate limited-production --scenarios baseline,fanout_burst --proof-dir " +
                          g.bundle.string() + " --junit " + (g.tmp.path / "junit.xml").string() + kQuick,
                      g.tmp.path);
  INFO(r.out);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("Verdict: GO") != std::string::npos);

  auto v = read_json(g.bundle / "verdict.json");
  CHECK(v["verdict"] == "GO");
  REQUIRE(v["scenarios"].size() == 2);
  for (auto& s : v["scenarios"]) CHECK(s["status"] == "PASS");
  CHECK(v["thresholds"]["min_phase_a_pairs"] == 30);
  auto base = v["scenarios"][0];
  CHECK(base["phase_a"]["received"] == 30);
  auto fan = v["scenarios"][1];
  CHECK(fan["metrics"]["burst_delivery_min_ratio"] == 1.0);
  for (auto f : {"summary.md", "summary.csv", "report.html", "junit.xml", "gate.toml", "inventory.toml", "gate.log",
                 "diagnostics/baseline/nyc-pre.json", "diagnostics/fanout_burst/sydney-post.json",
                 "diagnostics_connectivity/baseline/sfo-post.json", "scenarios/baseline/scenario.json"})
    CHECK(fs::exists(g.bundle / f));
  bool harvested = false;
  for (auto& e : fs::recursive_directory_iterator(g.bundle / "harvest")) harvested = harvested || e.is_regular_file();
  CHECK(harvested);
  CHECK(read_all(g.bundle / "summary.md").find("### Overall verdict: **GO**") != std::string::npos);
  CHECK(read_all(g.tmp.path / "junit.xml").find("<testcase") != std::string::npos);
  // No token anywhere in the bundle.
  auto token = read_all(g.tf.mesh().nodes()[0].data_dir / "api-token");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  REQUIRE(token.size() >= 16);
  for (auto& e : fs::recursive_directory_iterator(g.bundle))
    if (e.is_regular_file()) CHECK(read_all(e.path()).find(token) == std::string::npos);

  auto verify = run_x0xctl("proof verify " + g.bundle.string(), g.tmp.path);
  INFO(verify.out);
  CHECK(verify.rc == 0);
  auto rescore = run_x0xctl("proof rescore " + g.bundle.string(), g.tmp.path);
  INFO(rescore.out);
  CHECK(rescore.rc == 0);
  CHECK(rescore.out.find("reproduces") != std::string::npos);
  CHECK(faults_clear_everywhere(g.tf));
}

TEST_CASE("gate on a healthy local fleet is GO on baseline, stale_peer and slow_peer: the target's pairs are scored apart and its faults cleared",
          "[gate][cli]") {
  GateFleet g(6);
  const std::string target = g.tf.mesh().nodes()[4].name;
  auto r = run_x0xctl("gate --fleet " + g.inventory.string() + " --scenarios baseline,stale_peer,slow_peer --allow-peer-faults --target-node " +
                          target + " --peer-fault-secs 8 --heal-secs 60 --discover-secs 6 --settle-secs 6 --proof-dir " +
                          g.bundle.string(),
                      g.tmp.path);
  INFO(r.out);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("Verdict: GO") != std::string::npos);
  auto v = read_json(g.bundle / "verdict.json");
  CHECK(v["verdict"] == "GO");
  REQUIRE(v["scenarios"].size() == 3);
  for (auto& s : v["scenarios"]) CHECK(s["status"] == "PASS");
  // stale_peer: the target answers nothing, so its 10 pairs fail; the bar is the other 20.
  auto stale = v["scenarios"][1];
  CHECK(stale["roles"]["target"] == json::array({target}));
  CHECK(stale["phase_a_excluded"]["pairs"] == 10);
  CHECK(stale["phase_a_excluded"]["delivered"] == 0);
  CHECK(stale["warnings"].empty());
  auto* rule = &stale["rules"][0];
  for (auto& x : stale["rules"])
    if (x["rule"] == "min_phase_a_pairs") rule = &x;
  CHECK((*rule)["threshold"] == "20");
  CHECK((*rule)["observed"] == "20");
  for (auto& p : stale["phase_a"]["pairs"])
    if (p["src"] == target || p["dst"] == target) CHECK(p["outcome"] == "failed");
  CHECK(stale["metrics"]["cleanup_ok"] == true);
  CHECK(v["scenarios"][2]["metrics"]["cleanup_ok"] == true);
  // Every window closed on quiescence, recorded with the bundle.
  for (auto& s : v["scenarios"]) CHECK(s["settle"]["settled"] == true);
  CHECK(faults_clear_everywhere(g.tf));
  CHECK(eventually([&] { return g.tf.peers(4) >= 5; }, 30s));
  auto rescore = run_x0xctl("proof rescore " + g.bundle.string(), g.tmp.path);
  INFO(rescore.out);
  CHECK(rescore.rc == 0);
}

TEST_CASE("gate on a healthy local fleet is GO on baseline and high_rtt_peer: the target cools under the traffic the scenario makes, and heals",
          "[gate][cli]") {
  // A 5 s cooldown instead of x0xd's 120 s, so that the heal (which waits for
  // the suppression to drain) fits a test.
  GateFleet g(5, "[lean]\ncooldown_ms = 5000\n");
  const std::string target = g.tf.mesh().nodes()[3].name;
  auto r = run_x0xctl("gate --fleet " + g.inventory.string() + " --scenarios baseline,high_rtt_peer --allow-netem --target-node " + target +
                          " --netem-secs 12 --netem-heal-secs 60 --discover-secs 6 --settle-secs 6 --proof-dir " + g.bundle.string(),
                      g.tmp.path);
  INFO(r.out);
  REQUIRE(r.rc == 0);
  auto v = read_json(g.bundle / "verdict.json");
  CHECK(v["verdict"] == "GO");
  auto high = v["scenarios"][1];
  CHECK(high["status"] == "PASS");
  CHECK(high["metrics"]["cooling_observed"] == true);
  CHECK(high["metrics"]["suppression_recovered"] == true);
  CHECK(high["metrics"]["traffic_published"].get<int>() > 0);
  CHECK(high["metrics"]["cleanup_ok"] == true);
  auto traj = read_json(g.bundle / "scenarios" / "high_rtt_peer" / "peer-score-trajectory.json");
  CHECK(traj["summary"]["cooling_observed"] == true);
  CHECK(high["settle"]["settled"] == true);
  CHECK(faults_clear_everywhere(g.tf));
}

TEST_CASE("gate refuses bad requests before any work: exit 2, nothing started, no bundle", "[gate][cli]") {
  TempDir tmp{"x0x-gate-usage-"};
  auto bundle = tmp.path / "bundle";
  struct Case {
    std::string args, says;
  };
  const std::vector<Case> cases = {
      {"--scenarios baseline,restart_storm", "restart_storm is destructive: pass --allow-restart-storm to run it"},
      {"--scenarios stale_peer", "stale_peer is destructive: pass --allow-peer-faults to run it"},
      {"--scenarios high_rtt_peer --allow-netem", "high_rtt_peer: --target-node is required with --allow-netem"},
      {"--scenarios partition_recovery --allow-iptables --partition-pair nyc,sfo", "--partition-pair must not include the anchor"},
      {"--scenarios baseline --json " + (tmp.path / "missing-dir" / "v.json").string(), "no such directory"},
      {"--scenarios baseline --junit " + tmp.path.string(), "is a directory"},
  };
  for (auto& c : cases) {
    INFO(c.args);
    auto r = run_x0xctl("gate " + c.args + " --proof-dir " + bundle.string(), tmp.path);
    INFO(r.out);
    CHECK(r.rc == 2);
    CHECK(r.out.find(c.says) != std::string::npos);
    CHECK(r.out.find("starting a local fleet") == std::string::npos);
    CHECK_FALSE(fs::exists(bundle));
  }
}

TEST_CASE("gate whose window cannot settle (a stalled dispatcher past max_settle_secs) is NO-GO naming the node and what was pending",
          "[gate][cli]") {
  GateFleet g(4);
  const std::size_t stalled = 3;
  const std::string name = g.tf.mesh().nodes()[stalled].name;
  auto profile = g.tmp.path / "quick.toml";
  std::ofstream(profile) << "name = \"quick-settle\"\n[thresholds]\nmax_recv_pump_dropped_full_delta = 0\n"
                            "[settle.baseline]\nmin_settle_secs = 0\nmax_settle_secs = 3\n";
  g.tf.post(stalled, "/lean/faults", {{"stall_dispatcher", true}, {"lease_secs", 120}});
  // PubSub frames reach the stalled node and wait in its queue.
  REQUIRE(eventually([&] { return g.tf.get(stalled, "/diagnostics/gossip")["recv_pump"]["pubsub"]["latest_depth"].get<long>() > 0; }, 30s));
  auto r = run_x0xctl("gate --fleet " + g.inventory.string() + " --gate " + profile.string() + " --scenarios baseline --proof-dir " +
                          g.bundle.string(),
                      g.tmp.path);
  g.tf.client(stalled).del("/lean/faults");
  INFO(r.out);
  REQUIRE(r.rc == 1);
  auto v = read_json(g.bundle / "verdict.json");
  auto* b = find_blocking(v, "window_settled", name);
  REQUIRE(b);
  CHECK((*b)["message"].get<std::string>().find(name + ": work still pending when the window closed") == 0);
  CHECK((*b)["message"].get<std::string>().find("recv_pump pubsub") != std::string::npos);
  CHECK((*b)["evidence"] == "scenarios/baseline/scenario.json");
  auto scenario = read_json(g.bundle / "scenarios" / "baseline" / "scenario.json");
  CHECK(scenario["settle"]["settled"] == false);
  CHECK(scenario["settle"]["pending"].contains(name));
  CHECK(scenario["settle"]["waited_secs"].get<double>() >= 3.0);
  // Only the stalled node is named.
  for (auto& x : v["blocking"]) CHECK(x["node"] == name);
  auto rescore = run_x0xctl("proof rescore " + g.bundle.string(), g.tmp.path);
  CHECK(rescore.rc == 0);
}

TEST_CASE("gate on a fleet where one node loses every frame it sends is NO-GO naming min_phase_a_pairs and that node", "[gate][cli]") {
  GateFleet g(5);
  const std::size_t lossy = 3;
  const std::string name = g.tf.mesh().nodes()[lossy].name;
  g.tf.post(lossy, "/lean/faults", {{"loss", 1.0}, {"lease_secs", 300}});
  auto r = run_x0xctl("gate --fleet " + g.inventory.string() + " --scenarios baseline --discover-secs 6 --settle-secs 6 --proof-dir " +
                          g.bundle.string(),
                      g.tmp.path);
  g.tf.client(lossy).del("/lean/faults");
  INFO(r.out);
  REQUIRE(r.rc == 1);
  auto v = read_json(g.bundle / "verdict.json");
  CHECK(v["thresholds"]["min_phase_a_pairs"] == 20);
  auto* b = find_blocking(v, "min_phase_a_pairs", name);
  REQUIRE(b);
  CHECK((*b)["message"].get<std::string>().find("< gate 20") != std::string::npos);
  CHECK(faults_clear_everywhere(g.tf));
}

TEST_CASE("gate interrupted by SIGTERM while a fault is active reverts it, writes the bundle and ends NO-GO", "[gate][cli]") {
  GateFleet g(4);
  auto log = g.tmp.path / "gate.out";
  const std::string target = g.tf.mesh().nodes()[3].name;
  ProcessSpec spec;
  spec.argv = {x0xctl_bin().string(), "gate", "--fleet", g.inventory.string(), "--scenarios", "stale_peer,baseline",
               "--allow-peer-faults", "--target-node", target, "--peer-fault-secs", "300", "--discover-secs", "5",
               "--settle-secs", "5", "--proof-dir", g.bundle.string()};
  spec.out = Stdio::write_to(log);
  spec.err = Stdio::same_as_stdout();
  const int pid = spawn_process(spec).pid;
  struct Reap {  // never leave the child behind, also when a REQUIRE fails
    int pid;
    ~Reap() {
      if (pid > 0 && !try_reap(pid)) {
        send_signal(pid, SIGKILL);
        reap(pid);
      }
    }
  } reap_guard{pid};
  // Wait until the fault is on the node, then stop the orchestrator.
  REQUIRE(eventually([&] { return g.tf.get(3, "/lean/faults").value("any", false); }, 60s));
  REQUIRE(send_signal(pid, SIGTERM));
  auto ended = reap_within(pid, 60s);
  REQUIRE(ended);
  reap_guard.pid = -1;
  const int status = *ended;
  INFO(read_all(log));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(faults_clear_everywhere(g.tf));
  auto v = read_json(g.bundle / "verdict.json");
  CHECK(v["verdict"] == "NO-GO");
  CHECK(v["interrupted"] == true);
  CHECK(v["scenarios"][0]["status"] == "ERROR");  // interrupted (faults reverted)
  CHECK(v["scenarios"][0]["metrics"]["cleanup_ok"] == true);
  CHECK(v["scenarios"][1]["status"] == "NOT RUN");
  auto verify = run_x0xctl("proof verify " + g.bundle.string(), g.tmp.path);
  CHECK(verify.rc == 0);
}
