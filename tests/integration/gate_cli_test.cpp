// `x0xctl gate` on a local fleet of lean nodes with runners, as an operator
// runs it: GO on a healthy mesh, NO-GO naming the rule and the node when a
// stale peer or a lossy node breaks Phase A, NOT RUN for a scenario without
// its opt-in, faults cleared afterwards, and a bundle that verifies and
// re-scores to the same verdict.
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
  explicit GateFleet(int nodes) : tf(nodes, {}, true) {
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

TEST_CASE("gate with a stale peer is NO-GO naming min_phase_a_pairs and the stale node, a scenario without its opt-in is NOT RUN, and every fault is cleared",
          "[gate][cli]") {
  GateFleet g(6);
  const std::string target = g.tf.mesh().nodes()[4].name;
  auto r = run_x0xctl("gate --fleet " + g.inventory.string() + " --scenarios stale_peer,restart_storm --allow-peer-faults --target-node " +
                          target + " --peer-fault-secs 16 --heal-secs 60 --discover-secs 6 --settle-secs 6 --proof-dir " +
                          g.bundle.string(),
                      g.tmp.path);
  INFO(r.out);
  REQUIRE(r.rc == 1);
  CHECK(r.out.find("Verdict: NO-GO") != std::string::npos);
  auto v = read_json(g.bundle / "verdict.json");
  CHECK(v["verdict"] == "NO-GO");
  auto* b = find_blocking(v, "min_phase_a_pairs", target);
  REQUIRE(b);
  CHECK((*b)["message"].get<std::string>().rfind("phase A ", 0) == 0);
  CHECK(v["scenarios"][0]["status"] == "FAIL");
  CHECK(v["scenarios"][1]["status"] == "NOT RUN");
  CHECK(v["scenarios"][1]["reason"].get<std::string>().find("--allow-restart-storm") != std::string::npos);
  CHECK(v["scenarios"][0]["metrics"]["cleanup_ok"] == true);
  CHECK(faults_clear_everywhere(g.tf));
  // The stale node is back in the mesh after the heal.
  CHECK(eventually([&] { return g.tf.peers(4) >= 5; }, 30s));
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
  CHECK(v["scenarios"][0]["status"] == "FAIL");
  CHECK(v["scenarios"][0]["metrics"]["cleanup_ok"] == true);
  CHECK(v["scenarios"][1]["status"] == "NOT RUN");
  auto verify = run_x0xctl("proof verify " + g.bundle.string(), g.tmp.path);
  CHECK(verify.rc == 0);
}
