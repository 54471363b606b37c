// `x0xctl soak` as an operator runs it, on compressed time (10 s windows): GO
// on the embedded default with its warm-up and six counted windows, a bundle
// that verifies and rescores; SIGKILL after window 3 and --resume finishing
// every slot with the gap recorded; a node stalled during window 4 failing that
// window and the soak, named; SIGINT ending with exit 3 and a summary; the
// PubSub-pressure variant; the soak lock refusing chaos on its inventory.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "core/process.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_fleet.h"
#include "probes/rest_client.h"
#include "tests/support/cli_runner.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const fs::path& p) {
  auto j = json::parse(read_all(p), nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

// Windows per class in soak.json.
std::map<std::string, int> classes(const json& soak) {
  std::map<std::string, int> out;
  for (auto& w : soak["windows"]) out[w.value("class", "?")]++;
  return out;
}

// x0xctl soak in the background, its output in a file, killed at the end of the test if still running.
struct SoakProcess {
  fs::path log;
  int pid = -1;
  SoakProcess(const std::vector<std::string>& args, const fs::path& cwd, fs::path log_path) : log(std::move(log_path)) {
    ProcessSpec spec;
    spec.argv = {x0xctl_bin().string(), "soak"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.cwd = cwd;
    spec.out = Stdio::write_to(log);
    spec.err = Stdio::same_as_stdout();
    pid = spawn_process(spec).pid;
  }
  ~SoakProcess() {
    if (pid > 0 && !try_reap(pid)) {
      send_signal(pid, SIGKILL);
      reap(pid);
    }
  }
  std::string output() const { return read_all(log); }
  bool said(const std::string& text) const { return output().find(text) != std::string::npos; }
  // Exit code once it ended within `limit`; nullopt if it did not (or died of a signal).
  std::optional<int> wait(std::chrono::seconds limit) {
    auto st = reap_within(pid, limit);
    if (!st) return std::nullopt;
    pid = -1;
    if (!WIFEXITED(*st)) return std::nullopt;
    return WEXITSTATUS(*st);
  }
};

// The embedded default's folder, from "starting a local fleet of N lean nodes with runners in DIR".
fs::path embedded_dir(const std::string& out) {
  std::smatch m;
  static const std::regex re("with runners in (\\S+)");
  if (!std::regex_search(out, m, re)) return {};
  return m[1].str();
}

// A node of the embedded fleet, reached as an operator would: its port and token files.
probes::RestClient embedded_node(const fs::path& dir, const std::string& name) {
  auto data = dir / name / "data";
  auto port = read_all(data / "api.port");
  auto token = read_all(data / "api-token");
  while (!port.empty() && std::isspace(static_cast<unsigned char>(port.back()))) port.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return probes::RestClient("http://" + port, token, std::chrono::seconds(5));  // api.port holds host:port
}

// Removes an embedded fleet's kept logs (a run that did not pass keeps them).
struct KeptLogs {
  fs::path dir;
  ~KeptLogs() {
    std::error_code ec;
    if (!dir.empty() && dir.string().find("x0x-soak-") != std::string::npos) fs::remove_all(dir, ec);
  }
};

const std::vector<std::string> kQuick = {"--duration", "60s", "--interval", "10s", "--discover-secs", "8", "--settle-secs", "8"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("soak on the embedded default: a warm-up and 6 counted windows, GO, the bundle verifies, rescores and renders",
          "[soak][cli]") {
  TempDir tmp("x0x-soak-cli-");
  auto dir = tmp.path / "soak";
  auto r = run_x0xctl("soak --duration 60s --interval 10s --discover-secs 8 --settle-secs 8 --soak-dir " + dir.string() +
                          " --junit " + (tmp.path / "junit.xml").string(),
                      tmp.path);
  INFO(r.out);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("Soak verdict: GO") != std::string::npos);
  auto soak = read_json(dir / "soak.json");
  CHECK(soak["verdict"] == "GO");
  CHECK(soak["state"] == "complete");
  REQUIRE(soak["windows"].size() == 7);
  auto c = classes(soak);
  CHECK(c["clean"] == 6);
  CHECK(c["warmup"] == 1);
  // The accounting covered the idle time: background traffic completed work between windows.
  CHECK(soak["policy"]["dispatcher_noise"]["total_completed"].get<double>() > 0);
  for (int i = 2; i <= 7; ++i) {
    auto& w = soak["windows"][i - 1];
    CHECK(w["continuous"]["has_data"] == true);
    CHECK(w["continuous"]["unaccounted"].empty());
    CHECK(fs::exists(dir / w["dir"].get<std::string>() / "verdict.json"));
  }
  // Anchored schedule: slot k starts interval·(k−1) after the first.
  double s1 = soak["windows"][0]["slot_unix"], s7 = soak["windows"][6]["slot_unix"];
  CHECK(s7 - s1 == Approx(60.0));
  auto timeline = read_all(dir / "timeline.csv");
  CHECK(timeline.rfind("window,start_unix,verdict,phase_a_received,phase_a_sent,", 0) == 0);
  CHECK(std::count(timeline.begin(), timeline.end(), '\n') == 8);
  auto summary = read_all(dir / "summary.md");
  CHECK(summary.find("Overall verdict: **GO**") != std::string::npos);
  CHECK(summary.find("aggregate Phase A SLO: **PASS**") != std::string::npos);
  auto junit = read_all(tmp.path / "junit.xml");
  CHECK(junit.find("window 007") != std::string::npos);
  CHECK(junit.find("<failure") == std::string::npos);
  auto html = read_all(dir / "report.html");
  CHECK(html.find("data-metric=\"phase_a_p99_ms\"") != std::string::npos);
  CHECK(html.find("data-metric=\"rss_kb\"") != std::string::npos);
  // Every node's RSS came from the harvest facts of the windows.
  CHECK(soak["windows"][3]["nodes"]["nyc"]["rss_kb"].is_number());

  auto verify = run_x0xctl("proof verify " + dir.string(), tmp.path);
  INFO(verify.out);
  CHECK(verify.rc == 0);
  auto rescore = run_x0xctl("proof rescore " + dir.string(), tmp.path);
  INFO(rescore.out);
  CHECK(rescore.rc == 0);
  CHECK(rescore.out.find("rescore reproduces the recorded soak: GO") != std::string::npos);
  // A tampered window is caught by verify.
  {
    std::ofstream(dir / "windows" / "003" / "summary.md", std::ios::app) << "edited\n";
  }
  CHECK(run_x0xctl("proof verify " + dir.string(), tmp.path).rc == 1);
}

TEST_CASE("soak killed with SIGKILL after window 3 and resumed finishes every slot, the gap recorded", "[soak][cli]") {
  TempDir tmp("x0x-soak-resume-");
  auto dir = tmp.path / "soak";
  KeptLogs kept;
  {
    SoakProcess p(with(kQuick, {"--soak-dir", dir.string()}), tmp.path, tmp.path / "first.out");
    REQUIRE(eventually([&] { return p.said("window 003: GO"); }, 120s));
    REQUIRE(send_signal(p.pid, SIGKILL));
    REQUIRE(reap_within(p.pid, 30s));
    p.pid = -1;
    kept.dir = embedded_dir(p.output());
  }
  auto before = read_json(dir / "soak.json");
  CHECK(before["state"] == "running");
  // What survives the kill: each slot's record and timeline row, appended as it ended.
  auto rows = read_all(dir / "timeline.csv");
  CHECK(std::count(rows.begin(), rows.end(), '\n') >= 4);  // the header and windows 1-3
  CHECK(read_all(dir / "windows.jsonl").find("\"index\":3") != std::string::npos);
  auto r = run_x0xctl("soak --resume " + dir.string(), tmp.path);
  INFO(r.out);
  CHECK((r.rc == 0 || r.rc == 1));  // the verdict is the fleet's; what matters is that it finished
  auto soak = read_json(dir / "soak.json");
  CHECK(soak["state"] == "complete");
  REQUIRE(soak["windows"].size() == 7);
  REQUIRE(soak["gaps"].size() == 1);
  CHECK(soak["gaps"][0]["to_unix"].get<double>() > soak["gaps"][0]["from_unix"].get<double>());
  CHECK(soak["fleet_epoch"] == 1);
  // The resumed windows ran on a fresh local fleet: a new accounting epoch, not a counter reset.
  bool restarted_gap = false;
  for (auto& w : soak["windows"]) {
    CHECK(w["state"] != "missing");
    for (auto& g : w.value("continuous", json::object()).value("gaps", json::array()))
      if (g.get<std::string>().find(":fleet_restarted") != std::string::npos) restarted_gap = true;
  }
  CHECK(restarted_gap);
  CHECK(r.rc == (soak["verdict"] == "GO" ? 0 : 1));
  CHECK(run_x0xctl("proof verify " + dir.string(), tmp.path).rc == 0);
  CHECK(run_x0xctl("soak --resume " + dir.string(), tmp.path).rc == 2);  // complete: nothing to resume
}

TEST_CASE("soak with a node stalled during window 4: that window fails and the soak is NO-GO naming the node", "[soak][cli]") {
  TempDir tmp("x0x-soak-stall-");
  auto dir = tmp.path / "soak";
  // broad-launch, with baseline windows that close 3 s after their work at most.
  auto profile = tmp.path / "soak-quick.toml";
  std::ofstream(profile) << "name = \"soak-quick\"\n[thresholds]\nmax_dispatcher_timed_out_delta = 0\n"
                            "max_recv_pump_dropped_full_delta = 0\nmin_phase_a_pairs = \"all\"\n"
                            "[phase_a]\nscenarios = [\"baseline\"]\n[settle.baseline]\nmin_settle_secs = 0\nmax_settle_secs = 3\n";
  KeptLogs kept;
  SoakProcess p(with(kQuick, {"--soak-dir", dir.string(), "--gate", profile.string()}), tmp.path, tmp.path / "soak.out");
  REQUIRE(eventually([&] { return p.said("window 003: GO"); }, 120s));
  kept.dir = embedded_dir(p.output());
  REQUIRE_FALSE(kept.dir.empty());
  const std::string stalled = "sydney";
  auto soak = read_json(dir / "soak.json");
  const double slot4 = soak["config"]["started_unix"].get<double>() + 3 * 10;  // slot k starts (k−1)·interval in
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  REQUIRE(now < slot4 - 1);  // window 3 ended in time to stall the node before window 4
  // Stalled through window 4's runner discovery (8 s): its Phase A misses the
  // node's pairs. The stall lapses by itself (the lease) while window 4 still
  // runs, which overruns slot 5: that slot is skipped, not shifted.
  auto lease = std::max(1.0, slot4 + 12 - now);
  auto node = embedded_node(kept.dir, stalled);
  auto resp = node.post("/lean/faults", json{{"stall_dispatcher", true}, {"lease_secs", static_cast<long>(lease)}}.dump());
  REQUIRE(resp.ok());
  auto rc = p.wait(180s);
  INFO(p.output());
  REQUIRE(rc);
  CHECK(*rc == 1);
  soak = read_json(dir / "soak.json");
  CHECK(soak["verdict"] == "NO-GO");
  REQUIRE(soak["windows"].size() == 7);
  auto& w4 = soak["windows"][3];
  CHECK(w4["class"] == "effective_failed");
  bool named = false;
  for (auto& v : w4["violations"]) named = named || v.value("node", "") == stalled;
  CHECK(named);
  CHECK(soak["policy"]["effective_failed"] == json::array({4}));
  CHECK(p.said("window 004 failed"));
  CHECK(p.said("  - " + stalled + ":"));
  CHECK(soak["windows"][5]["class"] == "clean");  // the fleet recovered after the stall
  for (auto& w : soak["windows"])
    if (w["state"] == "skipped") CHECK(w["note"] == "the previous window overran this slot");
}

TEST_CASE("soak interrupted by SIGINT ends with exit 3, its summary written and the soak marked interrupted", "[soak][cli]") {
  TempDir tmp("x0x-soak-int-");
  KeptLogs kept;
  // The default bundle folder: proofs/launch-readiness-soak-<UTC>, with proofs/latest pointing at it.
  SoakProcess p(kQuick, tmp.path, tmp.path / "soak.out");
  REQUIRE(eventually([&] { return p.said("window 002: GO"); }, 120s));
  kept.dir = embedded_dir(p.output());
  REQUIRE(send_signal(p.pid, SIGINT));
  auto rc = p.wait(60s);
  INFO(p.output());
  REQUIRE(rc);
  CHECK(*rc == 3);
  auto latest = tmp.path / "proofs" / "latest";
  REQUIRE(fs::is_symlink(latest));
  CHECK(fs::read_symlink(latest).string().rfind("launch-readiness-soak-", 0) == 0);
  auto dir = fs::canonical(latest);
  auto soak = read_json(dir / "soak.json");
  CHECK(soak["state"] == "interrupted");
  CHECK(soak["verdict"] == "INTERRUPTED");
  CHECK(soak["partial_verdict"] == "GO");
  auto summary = read_all(dir / "summary.md");
  CHECK(summary.find("INTERRUPTED") != std::string::npos);
  CHECK(p.said("Soak INTERRUPTED"));
  CHECK(run_x0xctl("proof verify " + dir.string(), tmp.path).rc == 0);
}

TEST_CASE("soak pubsub-pressure variant runs fanout_burst windows and writes the reference's pressure summary", "[soak][cli]") {
  TempDir tmp("x0x-soak-pp-");
  auto dir = tmp.path / "soak";
  // --json -: stdout carries soak.json and nothing else (progress, the local fleet's lines: stderr).
  auto r = run_shell("exec " + x0xctl_bin().string() + " soak --variant pubsub-pressure --duration 20s --interval 10s --warmup 0 "
                     "--burst-messages 200 --burst-payload-bytes 1024 --json - --soak-dir " + dir.string() + " 2>" +
                         (tmp.path / "stderr.txt").string(),
                     tmp.path);
  INFO(r.out);
  INFO(read_all(tmp.path / "stderr.txt"));
  REQUIRE(r.rc == 0);
  auto soak = read_json(dir / "soak.json");
  auto printed = json::parse(r.out, nullptr, false);
  REQUIRE(printed.is_object());
  CHECK(printed["verdict"] == "GO");
  CHECK(soak["config"]["variant"] == "pubsub-pressure");
  REQUIRE(soak["windows"].size() == 2);
  for (auto& w : soak["windows"]) CHECK(w["scenario"] == "fanout_burst");
  CHECK(fs::exists(dir / "windows" / "002" / "scenarios" / "fanout_burst" / "scenario.json"));
  auto summary = read_all(dir / "summary.md");
  CHECK(summary.rfind("# PubSub Pressure Soak Summary", 0) == 0);
  CHECK(summary.find("verdict: **PASS**") != std::string::npos);
  CHECK(read_all(dir / "timeline.csv").rfind("window,start_unix,verdict,max_disp_to_delta,max_drop_full_delta,", 0) == 0);
}

TEST_CASE("soak against an inventory holds it: chaos on that fleet is refused while the soak runs", "[soak][cli]") {
  TestFleet tf(4, {}, true);
  REQUIRE(tf.mesh().wait_mesh_formed(30s));
  TempDir tmp("x0x-soak-lock-");
  auto inventory = tmp.path / "fleet.toml";
  {
    auto f = orchestrator::fleet_of_mesh(tf.mesh(), inventory);
    f.name = "soak-lock-test";
    std::ofstream(inventory) << orchestrator::render_fleet_toml(f);
  }
  auto dir = tmp.path / "soak";
  SoakProcess p({"--fleet", inventory.string(), "--duration", "20s", "--interval", "10s", "--warmup", "0", "--discover-secs", "8",
                 "--settle-secs", "8", "--soak-dir", dir.string()},
                tmp.path, tmp.path / "soak.out");
  REQUIRE(eventually([&] { return p.said("window 001:"); }, 60s));
  const std::string target = tf.mesh().nodes()[3].name;
  auto chaos = run_x0xctl("chaos stall --fleet " + inventory.string() + " --hosts " + target + " --for 10s", tmp.path);
  INFO(chaos.out);
  CHECK(chaos.rc == 2);
  CHECK(chaos.out.find("holds " + inventory.string()) != std::string::npos);
  CHECK_FALSE(tf.get(3, "/lean/faults").value("any", true));
  auto rc = p.wait(120s);
  INFO(p.output());
  REQUIRE(rc);
  CHECK(*rc == 0);
  CHECK_FALSE(fs::exists(inventory.string() + ".soak-lock"));  // released at the end
  auto soak = read_json(dir / "soak.json");
  CHECK(soak["windows"].size() == 2);
  CHECK(soak["run"]["fleet"] == fs::absolute(inventory).string());
}
