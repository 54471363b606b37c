// Gate profiles as data: the shipped files carry the spec's §3.1 values, the
// compiled-in copies are those files, and bad input names file:line: key.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gates/profile.h"
#include "tests/support/files.h"
#include "tests/unit/gate_fixtures.h"

namespace fs = std::filesystem;
using namespace x0x::gates;

namespace {

const fs::path kRepo = x0x::testing::repo_root();

using x0x::testing::slurp;

// A temporary directory removed again, also when the test fails.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "x0x-gate-profile-XXXXXX").string();
    path = mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    fs::create_directories((path / name).parent_path());
    std::ofstream(path / name) << text;
    return path / name;
  }
};

// Sets (or clears) an environment variable for one scope.
struct EnvGuard {
  std::string name;
  std::optional<std::string> old;
  EnvGuard(std::string n, const std::optional<std::string>& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value) setenv(name.c_str(), value->c_str(), 1);
    else unsetenv(name.c_str());
  }
  ~EnvGuard() {
    if (old) setenv(name.c_str(), old->c_str(), 1);
    else unsetenv(name.c_str());
  }
};

struct CwdGuard {
  fs::path old = fs::current_path();
  explicit CwdGuard(const fs::path& to) { fs::current_path(to); }
  ~CwdGuard() { fs::current_path(old); }
};

std::string parse_error(const std::string& toml) {
  try {
    parse_profile(toml, "ops/my-gate.toml");
  } catch (const ProfileError& e) {
    return e.what();
  }
  return "(no error)";
}

const std::vector<std::string> kPhaseAScenarios = {"baseline", "partition_recovery", "restart_storm", "slow_peer", "stale_peer"};

// The shipped profiles leave exemptions to the scenarios (harness/scenario_registry.cpp)
// and give every scenario's settle bounds, the reference's fixed waits as maxima.
void check_exemptions(const GateProfile& p) {
  CHECK(p.exemptions.empty());
  const std::map<std::string, double> max = {{"baseline", 30},       {"fanout_burst", 30},        {"restart_storm", 30},
                                             {"high_rtt_peer", 150}, {"partition_recovery", 90}, {"slow_peer", 30},
                                             {"stale_peer", 30},      {"phase_b", 30}};
  CHECK(p.settle.size() == max.size());
  for (auto& [scenario, secs] : max) {
    INFO(scenario);
    REQUIRE(p.settle.count(scenario));
    CHECK(p.settle.at(scenario).min_secs == 0.0);
    CHECK(p.settle.at(scenario).max_secs == secs);
  }
}

}  // namespace

TEST_CASE("the built-in limited-production profile has the spec thresholds", "[gates][profile]") {
  EnvGuard env("X0X_GATES_DIR", std::nullopt);
  GateProfile p = resolve_profile("limited-production");
  CHECK(p.name == "limited-production");
  CHECK(p.source == "built-in:limited-production");
  CHECK(p.thresholds == std::map<std::string, double>{{kDispatcherTimedOut, 5},
                                                      {kDroppedFull, 0},
                                                      {kPerPeerTimeout, 200},
                                                      {kSuppressedSteady, 200},
                                                      {kMaxRecoverySecs, 90},
                                                      {kMaxPartitionRecoverySecs, 90}});
  CHECK(p.phase_a_all_pairs);
  CHECK(p.has(kMinPhaseAPairs));
  CHECK(p.phase_b_all_checks);
  CHECK(p.min_phase_b_checks(6) == 70);
  CHECK_FALSE(p.has(kPerPeerTimeoutRatio));
  CHECK(std::vector<std::string>(p.phase_a_scenarios.begin(), p.phase_a_scenarios.end()) == kPhaseAScenarios);
  check_exemptions(p);
}

TEST_CASE("the built-in broad-launch profile has the spec thresholds", "[gates][profile]") {
  EnvGuard env("X0X_GATES_DIR", std::nullopt);
  GateProfile p = resolve_profile("broad-launch");
  CHECK(p.source == "built-in:broad-launch");
  CHECK(p.thresholds == std::map<std::string, double>{{kDispatcherTimedOut, 0},
                                                      {kDroppedFull, 0},
                                                      {kPerPeerTimeoutRatio, 0.25},
                                                      {kSuppressionRatio, 0.12},
                                                      {kDataTxHighWater, 0},
                                                      {kMaxRecoverySecs, 30},
                                                      {kMaxPartitionRecoverySecs, 90}});
  CHECK(p.phase_a_all_pairs);
  CHECK(p.phase_b_all_checks);
  CHECK(p.has(kMinPhaseBChecks));
  CHECK_FALSE(p.has(kPerPeerTimeout));
  CHECK_FALSE(p.has(kSuppressedSteady));
  CHECK(std::vector<std::string>(p.phase_a_scenarios.begin(), p.phase_a_scenarios.end()) == kPhaseAScenarios);
  check_exemptions(p);
}

TEST_CASE("the compiled-in profiles are the files in gates/profiles byte for byte", "[gates][profile]") {
  auto names = builtin_profile_names();
  CHECK(names == std::vector<std::string>{"broad-launch", "limited-production"});
  EnvGuard env("X0X_GATES_DIR", std::nullopt);
  for (auto& name : names) {
    INFO(name);
    GateProfile built_in = resolve_profile(name);
    CHECK(built_in.text == slurp(kRepo / "gates" / "profiles" / (name + ".toml")));
    GateProfile from_file = load_profile_file(kRepo / "gates" / "profiles" / (name + ".toml"));
    CHECK(from_file.thresholds == built_in.thresholds);
    CHECK(from_file.source == (kRepo / "gates" / "profiles" / (name + ".toml")).string());
  }
}

TEST_CASE("min_phase_a_pairs is n times n-1 for all, or the number given", "[gates][profile]") {
  GateProfile all = parse_profile("name = \"x\"\n[thresholds]\nmin_phase_a_pairs = \"all\"\n", "x.toml");
  CHECK(all.min_phase_a_pairs(6) == 30);
  CHECK(all.min_phase_a_pairs(5) == 20);
  CHECK(all.min_phase_a_pairs(2) == 2);
  CHECK(all.min_phase_a_pairs(1) == 0);
  CHECK(all.min_phase_a_pairs(0) == 0);
  GateProfile fixed = parse_profile("name = \"x\"\n[thresholds]\nmin_phase_a_pairs = 12\n", "x.toml");
  CHECK_FALSE(fixed.phase_a_all_pairs);
  CHECK(fixed.min_phase_a_pairs(6) == 12);
  GateProfile none = parse_profile("name = \"x\"\n", "x.toml");
  CHECK_FALSE(none.min_phase_a_pairs(6).has_value());
  CHECK_FALSE(none.has(kMinPhaseAPairs));
}

TEST_CASE("min_phase_b_checks is the strict 10n+10 for all, or the number given", "[gates][profile]") {
  GateProfile all = parse_profile("name = \"x\"\n[thresholds]\nmin_phase_b_checks = \"all\"\n", "x.toml");
  CHECK(all.has(kMinPhaseBChecks));
  CHECK(all.min_phase_b_checks(6) == 70);
  CHECK(all.min_phase_b_checks(20) == 210);
  CHECK(all.min_phase_b_checks(0) == 0);
  CHECK_FALSE(all.has(kMinPhaseAPairs));
  GateProfile fixed = parse_profile("name = \"x\"\n[thresholds]\nmin_phase_b_checks = 59\n", "x.toml");
  CHECK_FALSE(fixed.phase_b_all_checks);
  CHECK(fixed.min_phase_b_checks(6) == 59);
  CHECK_FALSE(parse_profile("name = \"x\"\n", "x.toml").has(kMinPhaseBChecks));
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmin_phase_b_checks = \"most\"\n") ==
        "ops/my-gate.toml:3: thresholds.min_phase_b_checks: expected \"all\" or a non-negative integer, got the string \"most\"");
}

TEST_CASE("profile errors name file, line and key", "[gates][profile]") {
  CHECK(parse_error("name = \"x\"\n\ncolour = \"red\"\n") ==
        "ops/my-gate.toml:3: colour: unknown key (expected name, description, thresholds, phase_a, settle or exemptions)");
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmax_dispatcher_timed_out_delta = 5\nmax_dispatcher_timeouts = 1\n") ==
        "ops/my-gate.toml:4: thresholds.max_dispatcher_timeouts: unknown key");
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmax_dispatcher_timed_out_delta = \"5\"\n") ==
        "ops/my-gate.toml:3: thresholds.max_dispatcher_timed_out_delta: expected a non-negative integer, got the string \"5\"");
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmax_recv_pump_dropped_full_delta = 0.5\n") ==
        "ops/my-gate.toml:3: thresholds.max_recv_pump_dropped_full_delta: expected a non-negative integer, got the float 0.5");
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmax_per_peer_timeout_delta = -1\n") ==
        "ops/my-gate.toml:3: thresholds.max_per_peer_timeout_delta: expected a non-negative integer, got the integer -1");
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmax_suppressed_peers_to_known_peer_topic_pairs_ratio = true\n") ==
        "ops/my-gate.toml:3: thresholds.max_suppressed_peers_to_known_peer_topic_pairs_ratio: expected a non-negative number, got true");
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmin_phase_a_pairs = \"most\"\n") ==
        "ops/my-gate.toml:3: thresholds.min_phase_a_pairs: expected \"all\" or a non-negative integer, got the string \"most\"");
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmin_phase_a_pairs = -2\n") ==
        "ops/my-gate.toml:3: thresholds.min_phase_a_pairs: expected a non-negative integer, got the integer -2");
  CHECK(parse_error("name = \"x\"\n[thresholds]\nmin_phase_a_pairs = 2.5\n") ==
        "ops/my-gate.toml:3: thresholds.min_phase_a_pairs: expected \"all\" or a non-negative integer, got the float 2.5");
  CHECK(parse_error("name = \"x\"\n[phase_a]\nscenarios = \"baseline\"\n") ==
        "ops/my-gate.toml:3: phase_a.scenarios: expected an array of strings, got the string \"baseline\"");
  CHECK(parse_error("name = \"x\"\n[phase_a]\nscenarios = [\"baseline\", 3]\n") ==
        "ops/my-gate.toml:3: phase_a.scenarios[1]: expected a string, got the integer 3");
  CHECK(parse_error("name = \"x\"\n[phase_a]\nrounds = 2\n") == "ops/my-gate.toml:3: phase_a.rounds: unknown key");
  CHECK(parse_error("name = \"x\"\n[exemptions.high_rtt_peer]\ndrop = [\"target\"]\n") ==
        "ops/my-gate.toml:3: exemptions.high_rtt_peer.drop: unknown exemption kind (expected dispatcher_timeout or suppression_ratio)");
  CHECK(parse_error("name = \"x\"\n[exemptions]\nhigh_rtt_peer = 1\n") ==
        "ops/my-gate.toml:3: exemptions.high_rtt_peer: expected a table, got the integer 1");
  CHECK(parse_error("name = \"x\"\n[exemptions.slow_peer]\ndispatcher_timeout = \"target\"\n") ==
        "ops/my-gate.toml:3: exemptions.slow_peer.dispatcher_timeout: expected an array of strings, got the string \"target\"");
  CHECK(parse_error("name = \"x\"\n[settle.fanout_burst]\nmax_settle = 3\n") ==
        "ops/my-gate.toml:3: settle.fanout_burst.max_settle: unknown key (expected min_settle_secs or max_settle_secs)");
  CHECK(parse_error("name = \"x\"\n[settle.fanout_burst]\nmax_settle_secs = -3\n") ==
        "ops/my-gate.toml:3: settle.fanout_burst.max_settle_secs: expected a non-negative number, got the integer -3");
  CHECK(parse_error("name = \"x\"\n[settle.fanout_burst]\nmin_settle_secs = 40\nmax_settle_secs = 30\n") ==
        "ops/my-gate.toml:2: settle.fanout_burst: min_settle_secs 40 is above max_settle_secs 30");
  CHECK(parse_error("name = 7\n") == "ops/my-gate.toml:1: name: expected a string, got the integer 7");
  CHECK(parse_error("description = \"no name\"\n") ==
        "ops/my-gate.toml:1: name: required (the profile's name, e.g. \"limited-production\")");
  CHECK_THAT(parse_error("name = \"x\"\n[thresholds\n"), Catch::StartsWith("ops/my-gate.toml:2:") && Catch::Contains("invalid TOML"));
}

TEST_CASE("resolve_profile loads a path as given and says when it is missing", "[gates][profile]") {
  TempDir dir;
  auto file = dir.write("custom.toml", "name = \"custom\"\n[thresholds]\nmax_dispatcher_timed_out_delta = 3\n");
  GateProfile p = resolve_profile(file.string());
  CHECK(p.name == "custom");
  CHECK(p.source == file.string());
  CHECK(p.thresholds == std::map<std::string, double>{{kDispatcherTimedOut, 3}});
  CHECK(p.text == slurp(file));
  CHECK_THROWS_WITH(resolve_profile((dir.path / "absent.toml").string()),
                    (dir.path / "absent.toml").string() + ": no such gate profile file");
  // A bad operator file keeps its own path in the error.
  auto bad = dir.write("bad.toml", "name = \"bad\"\n[thresholds]\nmax_recovery_secs = \"fast\"\n");
  CHECK_THROWS_WITH(resolve_profile(bad.string()),
                    bad.string() + ":3: thresholds.max_recovery_secs: expected a non-negative number, got the string \"fast\"");
}

TEST_CASE("resolve_profile finds a name in X0X_GATES_DIR before ./gates and the built-in", "[gates][profile]") {
  TempDir env_dir, cwd_dir;
  env_dir.write("limited-production.toml", "name = \"limited-production\"\n[thresholds]\nmax_dispatcher_timed_out_delta = 1\n");
  env_dir.write("night-shift.toml", "name = \"night-shift\"\n[thresholds]\nmax_recv_pump_dropped_full_delta = 0\n");
  cwd_dir.write("gates/night-shift.toml", "name = \"night-shift-local\"\n");
  cwd_dir.write("gates/local-only.toml", "name = \"local-only\"\n");
  CwdGuard cwd(cwd_dir.path);
  {
    EnvGuard env("X0X_GATES_DIR", env_dir.path.string());
    GateProfile over = resolve_profile("limited-production");
    CHECK(over.source == (env_dir.path / "limited-production.toml").string());
    CHECK(over.thresholds == std::map<std::string, double>{{kDispatcherTimedOut, 1}});
    CHECK(resolve_profile("night-shift").name == "night-shift");
    CHECK(resolve_profile("local-only").source == "gates/local-only.toml");
    CHECK(resolve_profile("broad-launch").source == "built-in:broad-launch");
    CHECK_THROWS_WITH(resolve_profile("nope"),
                      "unknown gate profile \"nope\": looked in " + (env_dir.path / "nope.toml").string() +
                          " ($X0X_GATES_DIR), ./gates/nope.toml, built-in (broad-launch, limited-production)");
  }
  {
    EnvGuard env("X0X_GATES_DIR", std::nullopt);
    CHECK(resolve_profile("night-shift").name == "night-shift-local");
    CHECK(resolve_profile("limited-production").source == "built-in:limited-production");
    CHECK_THROWS_WITH(resolve_profile("nope"),
                      "unknown gate profile \"nope\": looked in ./gates/nope.toml, built-in (broad-launch, limited-production)");
  }
}
