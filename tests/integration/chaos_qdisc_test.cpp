// The qdisc restore against the real kernel, in a network namespace of our
// own with a veth pair (this kernel has tbf but no netem): the command that
// reverts "slow" must put the previous root qdisc back exactly as
// `tc qdisc show` printed it, and a kernel default must come back as default.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include "core/encoding.h"
#include "orchestrator/faults/fault_commands.h"
#include "orchestrator/control/ssh_remote.h"
#include "tests/support/cli_runner.h"

using namespace x0x;
using namespace x0x::orchestrator;

namespace {

using Shell = testing::CliResult;

Shell sh(const std::string& cmd) {
  auto r = testing::run_shell(cmd + " 2>&1");
  REQUIRE(r.started);
  return r;
}

// A namespace with a veth pair, deleted (with its devices) at the end.
struct Netns {
  std::string name = "x0x-qdisc-" + random_hex(3);
  Netns() {
    auto r = sh("ip netns add " + name + " && ip -n " + name + " link add v0 type veth peer name v1 && ip -n " + name +
                " link set v0 up");
    INFO(r.out);
    REQUIRE(r.rc == 0);
  }
  ~Netns() { sh("ip netns del " + name); }
  Shell run(const std::string& cmd) const { return sh("ip netns exec " + name + " sh -c " + shell_quote(cmd)); }
  std::string show() const { return run(qdisc_show_command("v0")).out; }
};

}  // namespace

TEST_CASE("fault commands: in a real kernel the revert of slow re-creates the previous tbf exactly", "[faults]") {
  Netns ns;
  REQUIRE(ns.run("tc qdisc add dev v0 root handle 8001: tbf rate 2mbit burst 64kb latency 70ms").rc == 0);
  auto before = ns.show();
  REQUIRE_THAT(before, Catch::Contains("qdisc tbf 8001: root"));
  auto restore = qdisc_restore_command("v0", before);

  auto slow = ns.run(tbf_slow_command("v0"));
  INFO(slow.out);
  REQUIRE(slow.rc == 0);
  REQUIRE(ns.show() != before);
  auto r = ns.run(restore);
  INFO(restore + "\n" + r.out);
  CHECK(r.rc == 0);
  CHECK(ns.show() == before);
}

TEST_CASE("fault commands: in a real kernel a kernel-default root comes back as the default", "[faults]") {
  Netns ns;
  auto before = ns.show();
  REQUIRE_THAT(before, Catch::Contains(" 0: root"));
  REQUIRE(ns.run(tbf_slow_command("v0")).rc == 0);
  REQUIRE_THAT(ns.show(), Catch::Contains("qdisc tbf"));
  CHECK(ns.run(qdisc_restore_command("v0", before)).rc == 0);
  CHECK(ns.show() == before);
  CHECK(ns.run(qdisc_restore_command("v0", before)).rc == 0);  // idempotent
}
