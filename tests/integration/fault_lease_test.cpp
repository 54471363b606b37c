// Fault leases between processes: `x0xctl gate` on a local fleet of lean
// nodes holds a peer fault under a short lease that its heartbeat renews. A
// gate killed with SIGKILL mid-fault leaves the fault on the node for seconds
// after its planned end at most (not the minutes a long lease would), and a
// live gate keeps it for its whole window although that is longer than the
// lease. Everything is observed through GET /lean/faults, polled against
// deadlines.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "core/process.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_fleet.h"
#include "tests/support/cli_runner.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// A formed local fleet with runners, its inventory, and a running gate with
// one peer fault (slow_peer) on the last node.
struct GateWithPeerFault {
  TestFleet tf{4, {}, true};
  TempDir tmp{"x0x-fault-lease-"};
  std::size_t target = 3;
  int pid = -1;

  explicit GateWithPeerFault(int peer_fault_secs) {
    REQUIRE(tf.mesh().wait_mesh_formed(30s));
    auto inventory = tmp.path / "fleet.toml";
    auto fleet = orchestrator::fleet_of_mesh(tf.mesh(), inventory);
    fleet.name = "fault-lease-test";
    std::ofstream(inventory) << orchestrator::render_fleet_toml(fleet);
    ProcessSpec spec;
    spec.argv = {x0xctl_bin().string(), "gate", "--fleet", inventory.string(), "--scenarios", "slow_peer",
                 "--allow-peer-faults", "--target-node", tf.mesh().nodes()[target].name, "--peer-fault-secs",
                 std::to_string(peer_fault_secs), "--heal-secs", "60", "--discover-secs", "5", "--settle-secs", "5",
                 "--proof-dir", (tmp.path / "bundle").string()};
    spec.out = Stdio::write_to(tmp.path / "gate.out");
    spec.err = Stdio::same_as_stdout();
    pid = spawn_process(spec).pid;
  }
  ~GateWithPeerFault() {  // never leave the gate behind, also when a REQUIRE fails
    if (pid > 0 && !try_reap(pid)) {
      send_signal(pid, SIGKILL);
      reap(pid);
    }
  }
  json target_faults() { return tf.get(target, "/lean/faults"); }
  std::string output() {
    std::ifstream in(tmp.path / "gate.out");
    return {std::istreambuf_iterator<char>(in), {}};
  }
};

double secs_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

TEST_CASE("fault leases: a gate SIGKILLed mid-fault leaves its peer fault on the node for seconds after its planned end at most",
          "[faults][gate]") {
  const int planned_secs = 30;
  GateWithPeerFault g(planned_secs);
  // The fault is on the node: it was applied at the latest now, so it is planned to end by now + 30 s.
  REQUIRE(eventually([&] { return g.target_faults()["active"].contains("delay"); }, 120s));
  const auto planned_end = Clock::now() + std::chrono::seconds(planned_secs);

  REQUIRE(send_signal(g.pid, SIGKILL));
  const int status = reap(g.pid);
  g.pid = -1;
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));

  // Nobody reverts it now: the node's lease must end it within 10 s of its planned end.
  const auto deadline = planned_end + 10s;
  bool gone = eventually([&] { return !g.target_faults().value("any", true); },
                         std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  INFO(g.target_faults().dump());
  INFO(g.output());
  CHECK(gone);
}

TEST_CASE("fault leases: a live gate holds its peer fault for the whole window on a short lease its heartbeat renews",
          "[faults][gate]") {
  const int planned_secs = 20;
  GateWithPeerFault g(planned_secs);
  // Poll the target until the gate ends: when the fault is seen, for how long
  // without a gap, and how far ahead its lease ever reached.
  std::optional<Clock::time_point> first, last;
  bool absent_after_first = false, gap = false;
  double longest_lease_ahead = 0;
  std::optional<int> status;
  const auto limit = Clock::now() + 300s;
  while (!(status = try_reap(g.pid)) && Clock::now() < limit) {
    auto active = g.target_faults()["active"];
    auto now = Clock::now();
    if (!active.contains("delay")) {
      absent_after_first = absent_after_first || first.has_value();
    } else {
      gap = gap || absent_after_first;  // it lapsed and came back: a late renewal
      if (!first) first = now;
      last = now;
      longest_lease_ahead = std::max(longest_lease_ahead, active["delay"].value("expires_in_ms", 0) / 1000.0);
    }
    std::this_thread::sleep_for(100ms);  // the poll interval, not a wait for an outcome
  }
  REQUIRE(status);
  g.pid = -1;
  INFO(g.output());
  REQUIRE(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  REQUIRE(first);
  // Held for its whole window, without a gap, although the lease is shorter.
  CHECK(secs_between(*first, *last) >= planned_secs - 2);
  CHECK_FALSE(gap);
  // The lease on the node was never far ahead: a few seconds, renewed.
  CHECK(longest_lease_ahead <= 10.0);
  CHECK(!g.target_faults().value("any", true));
  std::ifstream vin(g.tmp.path / "bundle" / "verdict.json");
  auto v = json::parse(vin);
  auto cleanup = v["scenarios"][0]["metrics"]["cleanup"];
  INFO(cleanup.dump());
  REQUIRE(cleanup.size() == 1);
  CHECK(cleanup[0]["lease_renewals"]["renewed"].get<int>() >= 3);
  CHECK(cleanup[0]["lease_renewals"]["failed"] == 0);
}
