// The shell text of faults on SSH hosts (orchestrator/faults/fault_commands.h)
// run by a real /bin/sh: values from the inventory and the host layout stay
// one word each, whatever they contain, and the dead-man of a marker folder
// with a quote and a space in its path is found and cancelled.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/process.h"
#include "orchestrator/control/ssh_remote.h"
#include "orchestrator/faults/fault_commands.h"
#include "tests/support/cli_runner.h"
#include "tests/support/files.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::orchestrator;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using x0x::testing::slurp;
using x0x::testing::write_file;

namespace {

ProcessResult sh(const std::string& script, const std::vector<std::pair<std::string, std::string>>& env = {}) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = env;
  spec.out = Stdio::pipe();
  spec.err = Stdio::same_as_stdout();
  return run_process(spec, 30s);
}

}  // namespace

TEST_CASE("chaos commands: an inventory address is one word to iptables, never shell syntax", "[faults][chaos]") {
  testing::TempDir dir("x0x-chaos-cmd-");
  // An iptables that prints its arguments one per line.
  write_file(dir.path / "iptables", "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n", fs::perms::owner_all);
  auto canary = dir.path / "injected";
  auto rules = partition_rules("10.0.0.2; touch " + canary.string(), 6483, 5483, {"udp"});
  REQUIRE(rules.size() == 2);
  auto r = sh(rule_insert_command(rules[0]), {{"PATH", dir.path.string() + ":/usr/bin:/bin"}});
  INFO(r.out);
  CHECK(r.exit_code() == 0);
  CHECK_FALSE(fs::exists(canary));
  CHECK_THAT(r.out, Contains("[-s]\n[10.0.0.2; touch " + canary.string() + "]\n[-p]\n[udp]\n[--sport]\n[6483]\n"));
}

TEST_CASE("chaos commands: a marker folder with a quote and a space is armed, and its dead-man cancelled", "[faults][chaos]") {
  testing::TempDir dir("x0x-chaos-cmd-");
  auto marker_dir = (dir.path / "o'brien x0x" / "run" / "chaos").string();
  auto paths = MarkerPaths::for_fault(marker_dir, "t1-nyc-delay");
  auto undone = dir.path / "undone";
  auto arm = arm_script(paths, "t1-nyc-delay", {{"id", "t1-nyc-delay"}}, {"touch " + shell_quote(undone.string())}, 300);
  write_file(dir.path / "arm.sh", arm);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-s"};
  spec.in = Stdio::read_from(dir.path / "arm.sh");
  spec.out = Stdio::pipe();
  spec.err = Stdio::same_as_stdout();
  // Not under systemd here: the dead-man is a detached sleeper.
  auto armed = run_process(spec, 30s);
  INFO(armed.out);
  REQUIRE(armed.exit_code() == 0);
  REQUIRE(fs::exists(paths.marker));
  auto marker = nlohmann::json::parse(slurp(paths.marker));
  REQUIRE(marker["deadman"].is_object());
  REQUIRE(marker["deadman"]["kind"] == "sleeper");
  int sleeper = marker["deadman"]["pid"].get<int>();
  REQUIRE(process_alive(sleeper));
  struct Cleanup {  // never leave the sleeper behind
    int pid;
    ~Cleanup() {
      if (process_alive(pid)) signal_group(pid, SIGKILL);
    }
  } cleanup{sleeper};

  auto cancel = sh(cancel_deadman_command(marker["deadman"], paths));
  INFO(cancel.out);
  CHECK_THAT(cancel.out, Contains("cancelled sleeper " + std::to_string(sleeper)));
  CHECK(testing::eventually([&] { return !process_alive(sleeper); }, 10s));
  CHECK_FALSE(fs::exists(undone));  // cancelled, not run
  // A renewal moves the expiry the dead-man reads, by the host's clock.
  const auto before = std::time(nullptr);
  auto renewed = sh(renew_expiry_command(paths, 600));
  INFO(renewed.out);
  CHECK(renewed.exit_code() == 0);
  auto expires = parse_renewed_expiry(renewed.out);
  REQUIRE(expires);
  CHECK(*expires >= static_cast<double>(before + 600));
  CHECK(std::stod(slurp(paths.expiry)) == *expires);
  // The undo script itself runs with the quoted paths, and takes the expiry with it.
  CHECK(sh("sh " + shell_quote(paths.undo_script)).exit_code() == 0);
  CHECK(fs::exists(undone));
  CHECK_FALSE(fs::exists(paths.marker));
  CHECK_FALSE(fs::exists(paths.expiry));
  // An undone fault is never renewed back.
  auto late = sh(renew_expiry_command(paths, 600));
  CHECK(late.exit_code() == 3);
  CHECK_FALSE(fs::exists(paths.expiry));
}
