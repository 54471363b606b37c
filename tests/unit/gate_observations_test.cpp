// What the scorer reads goes into the proof bundle and comes back out the
// same: re-scoring a bundle from its raw snapshots gives the same verdict.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gates/observations_io.h"
#include "tests/support/files.h"
#include "tests/unit/gate_fixtures.h"

namespace fs = std::filesystem;
using namespace x0x::gates;
using x0x::testing::score;
using nlohmann::json;

using x0x::testing::gate_fixture;

namespace {

const fs::path kRepo = x0x::testing::repo_root();


using x0x::testing::slurp;

// A bundle directory removed again, also when the test fails.
struct Bundle {
  fs::path dir;
  Bundle() {
    std::string t = (fs::temp_directory_path() / "x0x-gate-bundle-XXXXXX").string();
    dir = mkdtemp(t.data());
  }
  ~Bundle() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // The bundle writer's job in production: pretty-printed, 2-space.
  JsonSink sink() const {
    return [d = dir](const std::string& rel, const json& j) {
      fs::create_directories((d / rel).parent_path());
      std::ofstream(d / rel) << j.dump(2) << "\n";
    };
  }
  void write(const std::vector<ScenarioRun>& runs) const {
    for (auto& r : runs) write_scenario_run(r, sink());
  }
};

RawFetch fetched(json body, long status = 200, double at = 1779123400.25) {
  RawFetch f;
  f.fetched = true;
  f.http_status = status;
  f.body = std::move(body);
  f.unix_time = at;
  return f;
}

RawFetch failed(std::string error) {
  RawFetch f;
  f.error = std::move(error);
  f.unix_time = 1779123401.5;
  return f;
}

json gossip(long long timed_out, long long completed) {
  json g = gate_fixture("spec-gossip.json");
  g["dispatcher"]["pubsub"]["timed_out"] = timed_out;
  g["dispatcher"]["pubsub"]["completed"] = completed;
  return g;
}

json phase_a(const std::vector<std::string>& nodes, std::size_t missing) {
  json pairs = json::array();
  std::size_t i = 0;
  for (auto& s : nodes)
    for (auto& d : nodes)
      if (s != d) {
        bool ok = i++ >= missing;
        pairs.push_back({{"src", s}, {"dst", d}, {"outcome", ok ? "delivered" : "failed"}, {"stage", ok ? json(nullptr) : json("not received")}});
      }
  return {{"expected_pairs", pairs.size()}, {"received", pairs.size() - missing}, {"send_ok", pairs.size()}, {"pairs", pairs}};
}

// Scenarios covering every shape the scorer distinguishes.
std::vector<ScenarioRun> sample_runs() {
  std::vector<std::string> nodes = {"nyc", "sfo", "helsinki"};
  json conn = gate_fixture("spec-connectivity.json");

  ScenarioRun baseline;
  baseline.name = "baseline";
  baseline.index = 0;
  baseline.nodes = nodes;
  baseline.roles = {{"anchor", {"nyc"}}};
  baseline.started_unix = 1779123400.125;
  baseline.ended_unix = 1779123460.875;
  baseline.metrics = {{"phase_a_secs", 41.5}};
  baseline.phase_a = phase_a(nodes, 2);
  for (auto& n : nodes) {
    baseline.pre[n] = {fetched(gossip(1, 1000)), fetched(conn)};
    baseline.post[n] = {fetched(gossip(n == "nyc" ? 8 : 1, 1100)), fetched(conn)};
  }
  baseline.post["sfo"].gossip = fetched(gate_fixture("gossip-503.json"), 503);
  baseline.post["nyc"].connectivity = failed("connect to 127.0.0.1:12700: Connection refused");
  baseline.post.erase("helsinki");

  ScenarioRun burst;
  burst.name = "fanout_burst";
  burst.index = 1;
  burst.status = RunStatus::errored;
  burst.reason = "burst publish: HTTP 500 on message 17";
  burst.nodes = nodes;
  burst.metrics = {{"burst_messages", 200}, {"burst_payload_bytes", 4096}};
  for (auto& n : nodes) {
    burst.pre[n] = {fetched(gossip(0, 0)), fetched(conn)};
    burst.post[n] = {fetched(gossip(0, 0)), fetched(conn)};
  }

  ScenarioRun netem;
  netem.name = "high_rtt_peer";
  netem.index = 2;
  netem.status = RunStatus::not_run;
  netem.reason = "pass --allow-netem to enable";
  netem.nodes = nodes;

  ScenarioRun restart;
  restart.name = "restart_storm";
  restart.index = 3;
  restart.nodes = nodes;
  restart.roles = {{"target", {"sfo", "helsinki"}}};
  restart.metrics = {{"recovery_secs_per_node", {{"sfo", 12.5}, {"helsinki", -1}}}, {"max_recovery_secs", 12.5}};
  restart.faults = {{"sfo", "restart", "SIGTERM then start", 1779123500.5, 1779123512.0},
                    {"helsinki", "restart", "SIGTERM then start", 1779123500.5, 0}};
  restart.phase_a = phase_a(nodes, 0);
  for (auto& n : nodes) {
    restart.pre[n] = {fetched(gossip(3, 5000)), fetched(conn)};
    restart.post[n] = {fetched(gossip(0, 40)), fetched(conn)};  // counters reset by the restart
  }
  return {baseline, burst, netem, restart};
}

GateProfile limited() { return load_profile_file(kRepo / "gates" / "profiles" / "limited-production.toml"); }

}  // namespace

TEST_CASE("a scenario run is stored in the bundle layout", "[gates][observations]") {
  Bundle b;
  auto runs = sample_runs();
  b.write(runs);
  const fs::path& d = b.dir;
  CHECK(fs::exists(d / "diagnostics/baseline/nyc-pre.json"));
  CHECK(fs::exists(d / "diagnostics/baseline/nyc-post.json"));
  CHECK(fs::exists(d / "diagnostics/baseline/sfo-post.json"));  // an error-shaped body is kept as evidence
  CHECK_FALSE(fs::exists(d / "diagnostics/baseline/helsinki-post.json"));
  CHECK(fs::exists(d / "diagnostics_connectivity/baseline/sfo-post.json"));
  CHECK_FALSE(fs::exists(d / "diagnostics_connectivity/baseline/nyc-post.json"));  // no body, no file
  CHECK(fs::exists(d / "scenarios/baseline/phase-a.json"));
  CHECK_FALSE(fs::exists(d / "scenarios/fanout_burst/phase-a.json"));
  CHECK(fs::exists(d / "scenarios/high_rtt_peer/scenario.json"));

  CHECK(slurp(d / "diagnostics/baseline/sfo-post.json") == gate_fixture("gossip-503.json").dump(2) + "\n");
  CHECK(json::parse(slurp(d / "scenarios/baseline/phase-a.json")) == runs[0].phase_a);

  json s = json::parse(slurp(d / "scenarios/baseline/scenario.json"));
  CHECK(s["name"] == "baseline");
  CHECK(s["status"] == "ran");
  CHECK(s["nodes"] == json{"nyc", "sfo", "helsinki"});
  CHECK(s["roles"] == json{{"anchor", {"nyc"}}});
  CHECK(s["phase_a_file"] == "scenarios/baseline/phase-a.json");
  CHECK(s["fetches"]["post"]["sfo"]["gossip"] == json{{"fetched", true}, {"http_status", 503}, {"error", ""},
                                                      {"unix_time", 1779123400.25}, {"file", "diagnostics/baseline/sfo-post.json"}});
  CHECK(s["fetches"]["post"]["nyc"]["connectivity"] ==
        json{{"fetched", false}, {"http_status", 0}, {"error", "connect to 127.0.0.1:12700: Connection refused"},
             {"unix_time", 1779123401.5}, {"file", nullptr}});
  CHECK_FALSE(s["fetches"]["post"].contains("helsinki"));
}

TEST_CASE("re-scoring a bundle reproduces the verdict", "[gates][observations]") {
  Bundle b;
  auto runs = sample_runs();
  GateProfile profile = limited();
  RunVerdict original = score(profile, runs);
  json verdict = original.to_json(runs);
  REQUIRE_FALSE(original.go());
  REQUIRE(verdict["blocking"].size() > 5);  // the samples really fail in several ways
  b.write(runs);
  b.sink()("verdict.json", verdict);

  auto back = read_scenario_runs(b.dir);
  REQUIRE(back.size() == runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    INFO(runs[i].name);
    CHECK(back[i].name == runs[i].name);
    CHECK(back[i].index == runs[i].index);
    CHECK(back[i].status == runs[i].status);
    CHECK(back[i].reason == runs[i].reason);
    CHECK(back[i].nodes == runs[i].nodes);
    CHECK(back[i].roles == runs[i].roles);
    CHECK(back[i].metrics == runs[i].metrics);
    CHECK(back[i].phase_a == runs[i].phase_a);
    CHECK(back[i].started_unix == runs[i].started_unix);
    CHECK(back[i].faults.size() == runs[i].faults.size());
    CHECK(back[i].pre.size() == runs[i].pre.size());
    CHECK(back[i].post.size() == runs[i].post.size());
  }
  CHECK(back[0].post.at("nyc").connectivity.error == "connect to 127.0.0.1:12700: Connection refused");
  CHECK(back[0].post.at("sfo").gossip.http_status == 503);
  CHECK(back[3].faults[0].end_unix == 1779123512.0);
  CHECK(score(profile, back).to_json(back) == verdict);
}

TEST_CASE("scenarios come back in verdict.json order, else in run order", "[gates][observations]") {
  Bundle b;
  auto runs = sample_runs();
  b.write(runs);
  auto names = [](const std::vector<ScenarioRun>& rs) {
    std::vector<std::string> out;
    for (auto& r : rs) out.push_back(r.name);
    return out;
  };
  CHECK(names(read_scenario_runs(b.dir)) == std::vector<std::string>{"baseline", "fanout_burst", "high_rtt_peer", "restart_storm"});
  b.sink()("verdict.json", {{"scenarios", {{{"name", "restart_storm"}}, {{"name", "baseline"}}}}});
  CHECK(names(read_scenario_runs(b.dir)) == std::vector<std::string>{"restart_storm", "baseline", "fanout_burst", "high_rtt_peer"});
}

TEST_CASE("a damaged bundle is an error naming the file and field", "[gates][observations]") {
  Bundle b;
  b.write({sample_runs()[0]});
  fs::path file = b.dir / "scenarios/baseline/scenario.json";
  json s = json::parse(slurp(file));
  auto rewrite = [&](const json& j) { std::ofstream(file) << j.dump(2); };

  json bad = s;
  bad.erase("status");
  rewrite(bad);
  CHECK_THROWS_WITH(read_scenario_runs(b.dir), file.string() + ": status: missing");

  bad = s;
  bad["status"] = "skipped";
  rewrite(bad);
  CHECK_THROWS_WITH(read_scenario_runs(b.dir), file.string() + ": status: expected \"ran\", \"not_run\" or \"errored\", got \"skipped\"");

  bad = s;
  bad["fetches"]["pre"]["nyc"]["gossip"]["http_status"] = "200";
  rewrite(bad);
  CHECK_THROWS_WITH(read_scenario_runs(b.dir), file.string() + ": fetches.pre.nyc.gossip.http_status: expected an integer, got string");

  bad = s;
  bad["fetches"]["pre"]["nyc"]["gossip"]["file"] = "../../etc/passwd";
  rewrite(bad);
  CHECK_THROWS_WITH(read_scenario_runs(b.dir),
                    file.string() + ": fetches.pre.nyc.gossip.file: expected a path inside the bundle: ../../etc/passwd: leaves the bundle (..)");

  rewrite(s);
  fs::remove(b.dir / "diagnostics/baseline/sfo-pre.json");
  CHECK_THROWS_WITH(read_scenario_runs(b.dir), (b.dir / "diagnostics/baseline/sfo-pre.json").string() + ": missing");

  std::ofstream(file) << "{ not json";
  CHECK_THROWS_WITH(read_scenario_runs(b.dir), file.string() + ": not valid JSON");

  Bundle empty;
  CHECK_THROWS_WITH(read_scenario_runs(empty.dir), (empty.dir / "scenarios").string() + ": no scenarios in this bundle");
}

TEST_CASE("scenario and node names must stay single path components", "[gates][observations]") {
  Bundle b;
  ScenarioRun r = sample_runs()[2];
  r.nodes.push_back("../escape");
  CHECK_THROWS_WITH(write_scenario_run(r, b.sink()), "node name \"../escape\" cannot be a file name in a proof bundle");
  r = sample_runs()[2];
  r.name = "a/b";
  CHECK_THROWS_WITH(write_scenario_run(r, b.sink()), "scenario name \"a/b\" cannot be a file name in a proof bundle");
  CHECK(fs::is_empty(b.dir));
}

TEST_CASE("a phase_b run keeps its report in phase-b.json and reads it back", "[gates][observations]") {
  Bundle b;
  ScenarioRun run;
  run.name = "phase_b";
  run.nodes = {"nyc", "sfo"};
  run.roles = {{"anchor", {"nyc"}}};
  run.phase_b = {{"expected_checks", 30},
                 {"passed_checks", 1},
                 {"checks", json::array({{{"label", "nyc creates group"}, {"node", "nyc"}, {"area", "join"}, {"outcome", "pass"}}})}};
  b.write({run});
  CHECK(json::parse(slurp(b.dir / "scenarios/phase_b/phase-b.json")) == run.phase_b);
  CHECK_FALSE(fs::exists(b.dir / "scenarios/phase_b/phase-a.json"));
  json s = json::parse(slurp(b.dir / "scenarios/phase_b/scenario.json"));
  CHECK(s["phase_b_file"] == "scenarios/phase_b/phase-b.json");
  CHECK(s["phase_a_file"].is_null());
  auto back = read_scenario_runs(b.dir);
  REQUIRE(back.size() == 1);
  CHECK(back[0].phase_b == run.phase_b);
  CHECK(back[0].phase_a.is_null());
}
