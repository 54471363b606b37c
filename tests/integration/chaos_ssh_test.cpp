// Faults on SSH hosts against the loopback sshd, whose session PATH puts
// recorders for tc, iptables, ip6tables, ip and setsid first
// (tests/data/fake-tools). The recorders log every call in order and keep
// just enough state (the root qdisc, the rules) for x0xctl's verification,
// so these tests see what would run on a real host and in which order: the
// dead-man before the first change, the previous qdisc restored exactly,
// a killed orchestrator reverted by the host itself.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "core/encoding.h"
#include "core/process.h"
#include "orchestrator/faults/fault_heartbeat.h"
#include "orchestrator/faults/fault_injector.h"
#include "orchestrator/control/inventory.h"
#include "tests/support/cli_runner.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/sshd_fixture.h"
#include "tests/support/source_dir.h"

using namespace x0x;
using namespace x0x::orchestrator;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fs::path kFakeTools = x0x::testing::test_data("fake-tools");
const char* kHelperTest = "chaos helper: apply a delay from the environment and block";

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Index of the first line containing `needle`, or -1.
long first_line_with(const std::vector<std::string>& lines, const std::string& needle) {
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find(needle) != std::string::npos) return static_cast<long>(i);
  return -1;
}

testing::CliResult run_cli(const std::string& args) {
  auto bin = testing::x0xctl_bin();
  REQUIRE(fs::exists(bin));
  auto r = testing::run_shell(bin.string() + " " + args + " 2>&1");
  REQUIRE(r.started);
  return r;
}

bool is_our_sleeper(long pid, const std::string& undo_script) {
  auto cmdline = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.find(undo_script) != std::string::npos;
}

// Three "hosts" (anchor, nyc, sfo) that are folders on this machine reached
// through the loopback sshd. Stops any dead-man sleeper a failed test left.
class FakeHosts {
 public:
  FakeHosts()
      : dir_(fs::temp_directory_path() / ("x0x-chaos-ssh-" + random_hex(4))),
        state_(make_dir(dir_ / "state")),
        sshd_({"SetEnv PATH=" + kFakeTools.string() + ":/usr/bin:/bin X0X_FAKE_DIR=" + state_.string() +
               " X0X_FAKE_MARKERS=" + (dir_ / "nyc" / "run" / "chaos").string()}) {
    std::ostringstream t;
    t << "schema_version = 1\nfleet = \"chaos-test\"\n\n[defaults]\nanchor = \"anchor\"\nssh_user = \"root\"\nssh_port = "
      << sshd_.port() << "\nssh_identity = \"" << sshd_.client_key().string() << "\"\nknown_hosts = \""
      << sshd_.known_hosts().string() << "\"\nservice_manager = \"supervisor\"\n";
    int i = 0;
    for (auto* name : {"anchor", "nyc", "sfo"}) {
      auto root = dir_ / name;
      t << "\n[[host]]\nname = \"" << name << "\"\naddress = \"127.0.0.1\"\ntransport = \"ssh\"\napi_addr = \"127.0.0.1:"
        << 16600 + i << "\"\ngossip_addr = \"127.0.0.1:" << 16700 + i << "\"\ninstall_root = \"" << root.string()
        << "\"\ntoken_path = \"" << (root / "data" / "api-token").string() << "\"\n";
      ++i;
    }
    write_file(toml(), t.str());
    fleet_ = load_fleet(toml());
  }
  ~FakeHosts() {
    // A test that failed half-way may leave a sleeper: stop ours (checked by cmdline).
    std::error_code ec;
    for (auto& e : fs::directory_iterator(markers(), ec)) {
      if (e.path().extension() != ".json") continue;
      auto m = json::parse(slurp(e.path()), nullptr, false);
      if (m.is_discarded() || !m.contains("deadman") || !m["deadman"].is_object()) continue;
      auto pid = m["deadman"].value("pid", 0L);
      if (pid > 1 && is_our_sleeper(pid, m.value("undo_script", std::string("?")))) ::kill(static_cast<pid_t>(-pid), SIGTERM);
    }
    fs::remove_all(dir_, ec);
  }

  const Fleet& fleet() const { return fleet_; }
  fs::path toml() const { return dir_ / "fleet.toml"; }
  fs::path markers() const { return dir_ / "nyc" / "run" / "chaos"; }
  fs::path state(const std::string& f) const { return state_ / f; }
  std::vector<std::string> calls() const { return lines_of(slurp(state_ / "calls.log")); }
  fs::path node_pidfile() const { return dir_ / "nyc" / "run" / "node.pid"; }
  std::size_t marker_count() const {
    std::size_t n = 0;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(markers(), ec)) n += e.path().extension() == ".json";
    return n;
  }

 private:
  static fs::path make_dir(const fs::path& p) {
    fs::create_directories(p);
    return p;
  }
  fs::path dir_, state_;
  testing::SshdFixture sshd_;
  Fleet fleet_;
};

FaultRequest request(std::string kind, std::string target, std::vector<std::string> peers, int lease_secs) {
  FaultRequest r;
  r.kind = std::move(kind);
  r.target = std::move(target);
  r.peers = std::move(peers);
  r.lease = std::chrono::seconds(lease_secs);
  r.run_id = "t" + random_hex(2);
  return r;
}

const std::string kSeededTbf = "qdisc tbf 8001: root refcnt 2 rate 1Mbit burst 32Kb lat 50.0ms \n";

// A child we own that plays the node for SIGSTOP/SIGCONT.
struct FakeNode {
  int pid = -1;
  FakeNode() {
    ProcessSpec spec;
    spec.argv = {"/bin/sleep", "300"};
    pid = spawn_process(spec).pid;
  }
  ~FakeNode() {
    if (send_signal(pid, SIGKILL)) reap(pid);  // never kill(-1, …): send_signal refuses pid <= 0
  }
  char state() const {
    auto s = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto p = s.rfind(')');
    return p == std::string::npos || p + 2 >= s.size() ? '?' : s[p + 2];
  }
};

}  // namespace

TEST_CASE("chaos over SSH: the dead-man is armed before tc changes anything, and revert restores the previous tbf exactly",
          "[faults][chaos]") {
  FakeHosts hosts;
  write_file(hosts.state("qdisc.lo"), kSeededTbf);
  auto inj = make_fault_injector(hosts.fleet());
  auto req = request("delay", "nyc", {"sfo"}, 30);
  req.delay_ms = 200;
  req.jitter_ms = 20;
  auto f = inj->apply(req);
  INFO(f.revert_plan.dump(2));
  CHECK(f.mechanism == "tc netem");
  CHECK(f.before["qdisc"] == kSeededTbf);
  CHECK(f.revert_plan["interface"] == "lo");

  // The marker and its dead-man, a detached sleeper (no systemd here).
  auto marker_path = hosts.markers() / ("chaos-" + f.id + ".json");
  REQUIRE(fs::exists(marker_path));
  auto marker = json::parse(slurp(marker_path));
  CHECK(marker["kind"] == "delay");
  CHECK(marker["lease_secs"] == 30);
  REQUIRE(marker["deadman"]["kind"] == "sleeper");
  long pid = marker["deadman"]["pid"];
  CHECK(pid == f.revert_plan["deadman"]["pid"].get<long>());
  auto undo_script = marker["undo_script"].get<std::string>();
  CHECK(is_our_sleeper(pid, undo_script));
  CHECK_THAT(slurp(undo_script), Catch::Contains("tc qdisc replace dev 'lo' root handle '8001:' tbf 'rate' '1Mbit'"));
  CHECK_THAT(slurp(hosts.state("qdisc.lo")), Catch::Contains("netem 8001: root refcnt 2 delay 200ms 20ms distribution normal"));

  // Order on the host: the sleeper started, then the first change, with the marker already there.
  auto calls = hosts.calls();
  INFO(slurp(hosts.state("calls.log")));
  auto armed = first_line_with(calls, "setsid sh -c f=");
  auto changed = first_line_with(calls, "tc qdisc replace");
  REQUIRE(armed >= 0);
  REQUIRE(changed > armed);
  CHECK_THAT(calls[changed], Catch::Contains("[markers: chaos-" + f.id + ".json"));
  CHECK(first_line_with(calls, "tc qdisc show dev lo") < armed);  // state recorded first

  auto r = inj->revert(f);
  INFO(r.dump(2));
  CHECK(r["clean"] == true);
  CHECK(r["after"]["qdisc"] == kSeededTbf);
  CHECK(slurp(hosts.state("qdisc.lo")) == kSeededTbf);  // re-created, not wiped
  CHECK_FALSE(fs::exists(marker_path));
  CHECK_FALSE(fs::exists(undo_script));
  CHECK(testing::eventually([&] { return !is_our_sleeper(pid, undo_script); }, 10s));
  CHECK(inj->revert(f)["clean"] == true);  // idempotent
}

TEST_CASE("chaos over SSH: a partition drops both directions per protocol and revert removes every rule",
          "[faults][chaos]") {
  FakeHosts hosts;
  auto inj = make_fault_injector(hosts.fleet());
  auto f = inj->apply(request("partition", "nyc", {"sfo"}, 30));
  CHECK(f.mechanism == "iptables");
  auto rules = lines_of(slurp(hosts.state("iptables.rules")));
  INFO(slurp(hosts.state("calls.log")));
  REQUIRE(rules.size() == 4);
  for (auto* want : {"-s 127.0.0.1 -p udp --sport 16702", "-s 127.0.0.1 -p udp --dport 16701",
                     "-s 127.0.0.1 -p tcp --sport 16702", "-s 127.0.0.1 -p tcp --dport 16701"})
    CHECK(first_line_with(rules, std::string(want) + " -m comment --comment x0x-partition-recovery -j DROP") >= 0);
  auto calls = hosts.calls();
  auto armed = first_line_with(calls, "setsid sh -c f=");
  REQUIRE(armed >= 0);
  CHECK(first_line_with(calls, "iptables -I INPUT 1") > armed);

  auto r = inj->revert(f);
  INFO(r.dump(2));
  CHECK(r["clean"] == true);
  CHECK(lines_of(slurp(hosts.state("iptables.rules"))).empty());
  CHECK(hosts.marker_count() == 0);
}

TEST_CASE("chaos over SSH: stale stops the node with SIGSTOP and revert continues it", "[faults][chaos]") {
  FakeHosts hosts;
  FakeNode node;
  fs::create_directories(hosts.node_pidfile().parent_path());
  write_file(hosts.node_pidfile(), std::to_string(node.pid) + "\n");
  auto inj = make_fault_injector(hosts.fleet());
  auto f = inj->apply(request("stale", "nyc", {}, 30));
  CHECK(f.mechanism == "sigstop");
  CHECK(testing::eventually([&] { return node.state() == 'T'; }, 5s));
  auto r = inj->revert(f);
  INFO(r.dump(2));
  CHECK(r["clean"] == true);
  CHECK(node.state() != 'T');
  // The dispatcher of a node cannot be stalled from outside.
  CHECK_THROWS_WITH(inj->apply(request("stall", "nyc", {}, 30)), Catch::Contains("not available over SSH"));
}

TEST_CASE("chaos over SSH: a root qdisc with children is never replaced", "[faults][chaos]") {
  FakeHosts hosts;
  write_file(hosts.state("qdisc.lo"), "qdisc htb 1: root refcnt 2 r2q 10 default 0\nqdisc netem 10: parent 1:1 limit 1000\n");
  auto inj = make_fault_injector(hosts.fleet());
  auto req = request("delay", "nyc", {"sfo"}, 30);
  req.delay_ms = 100;
  CHECK_THROWS_WITH(inj->apply(req), Catch::Contains("cannot re-create"));
  CHECK(first_line_with(hosts.calls(), "replace") < 0);
  CHECK(hosts.marker_count() == 0);
}

TEST_CASE("chaos over SSH: clear undoes every marker and removes every rule with our comment, idempotently",
          "[faults][chaos]") {
  FakeHosts hosts;
  write_file(hosts.state("qdisc.lo"), kSeededTbf);
  auto inj = make_fault_injector(hosts.fleet());
  auto d = request("slow", "nyc", {"sfo"}, 30);
  auto slow = inj->apply(d);
  CHECK(slow.mechanism == "tc tbf");
  inj->apply(request("partition", "nyc", {"sfo"}, 30));
  // A rule left by a run that died before writing its marker.
  write_file(hosts.state("ip6tables.rules"), "-s ::1 -p udp --sport 9 -m comment --comment x0x-partition-recovery -j DROP\n");
  REQUIRE(hosts.marker_count() == 2);
  auto st = inj->status({"nyc"});
  INFO(st.dump(2));
  CHECK(st[0]["faults"].size() == 2);

  auto res = inj->clear({});
  INFO(res.dump(2));
  REQUIRE(res.size() == 3);
  for (auto& h : res) CHECK(h["clean"] == true);
  // nyc's two markers; the rule without a marker goes with whichever host
  // on this machine is cleared first (hosts sharing a machine share iptables).
  CHECK(res[1]["removed"].size() >= 2);
  CHECK_THAT(res.dump(), Catch::Contains("removed ip6tables -s ::1 -p udp --sport 9"));
  CHECK(slurp(hosts.state("qdisc.lo")) == kSeededTbf);
  CHECK(lines_of(slurp(hosts.state("iptables.rules"))).empty());
  CHECK(lines_of(slurp(hosts.state("ip6tables.rules"))).empty());
  CHECK(hosts.marker_count() == 0);
  auto again = inj->clear({"nyc"});
  CHECK(again[0]["clean"] == true);
  CHECK(again[0]["removed"].empty());
}

TEST_CASE("chaos over SSH: dry run records state but changes nothing", "[faults][chaos]") {
  FakeHosts hosts;
  FaultInjectorOptions o;
  o.dry_run = true;
  auto inj = make_fault_injector(hosts.fleet(), o);
  auto f = inj->apply(request("partition", "nyc", {"sfo"}, 30));
  auto would = f.revert_plan["would_run"];
  REQUIRE(would.size() == 5);  // the arming script, then four inserts
  CHECK_THAT(would[0].get<std::string>(), Catch::Contains("setsid sh -c"));
  CHECK_THAT(would[1].get<std::string>(), Catch::StartsWith("iptables -I INPUT 1 -s '127.0.0.1'"));
  for (auto& l : hosts.calls()) CHECK_THAT(l, !Catch::Contains("-I") && !Catch::Contains("setsid"));
  CHECK(hosts.marker_count() == 0);
}

// Not a test on its own: the child of the next tests, an orchestrator that
// applies a fault described by the environment (a 3 s lease, renewed by a
// heartbeat when X0X_CHAOS_HELPER_RENEW is set), says so, and blocks until
// it is killed.
TEST_CASE("chaos helper: apply a delay from the environment and block", "[.chaos-helper]") {
  const char* toml = std::getenv("X0X_CHAOS_HELPER_FLEET");
  REQUIRE(toml);
  auto inj = make_fault_injector(load_fleet(toml));
  auto req = request("delay", "nyc", {"sfo"}, 3);
  req.delay_ms = 150;
  auto f = inj->apply(req);
  std::optional<FaultHeartbeat> heartbeat;
  if (std::getenv("X0X_CHAOS_HELPER_RENEW")) heartbeat.emplace(*inj, f, req.lease);
  std::printf("applied %s\n", f.id.c_str());
  std::fflush(stdout);
  for (;;) ::pause();
}

namespace {

// The helper above as a child process, once it has applied its fault;
// SIGKILLed when it goes out of scope if the test has not killed it.
class OrchestratorChild {
 public:
  OrchestratorChild(const FakeHosts& hosts, bool renew) {
    ProcessSpec spec;
    spec.argv = {fs::read_symlink("/proc/self/exe").string(), kHelperTest};
    spec.env = {{"X0X_CHAOS_HELPER_FLEET", hosts.toml().string()}};
    if (renew) spec.env.push_back({"X0X_CHAOS_HELPER_RENEW", "1"});
    spec.out = Stdio::pipe();
    auto helper = spawn_process(spec);
    pid_ = helper.pid;
    REQUIRE(pid_ > 0);
    out_ = std::move(helper.out);
    // Wait for "applied <id>", with a deadline.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (said_.find('\n', said_.find("applied ")) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_.get(), POLLIN, 0};
      if (::poll(&p, 1, 200) > 0) {
        char buf[512];
        auto n = ::read(out_.get(), buf, sizeof buf);
        if (n <= 0) break;
        said_.append(buf, static_cast<std::size_t>(n));
      }
    }
    INFO(said_);
    REQUIRE(said_.find("applied ") != std::string::npos);
  }
  ~OrchestratorChild() {
    if (send_signal(pid_, SIGKILL)) reap(pid_);  // 0 once reaped: nothing is signalled
  }
  // SIGKILL, reaped; true when it died of it.
  bool kill() {
    if (!send_signal(pid_, SIGKILL)) return false;
    const int status = reap(pid_);
    pid_ = 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

 private:
  int pid_ = 0;
  UniqueFd out_;
  std::string said_;
};

bool netem_on(const FakeHosts& hosts) { return slurp(hosts.state("qdisc.lo")).find("netem") != std::string::npos; }

}  // namespace

TEST_CASE("chaos over SSH: when the orchestrator is SIGKILLed, the host's dead-man reverts at expiry", "[faults][chaos]") {
  FakeHosts hosts;
  OrchestratorChild orchestrator(hosts, false);
  REQUIRE(hosts.marker_count() == 1);
  CHECK(netem_on(hosts));
  REQUIRE(orchestrator.kill());

  // Nobody is left to revert: the host's watcher does, after the 3 s lease.
  CHECK(testing::eventually([&] { return hosts.marker_count() == 0 && !fs::exists(hosts.state("qdisc.lo")); }, 20s));
  auto calls = hosts.calls();
  INFO(slurp(hosts.state("calls.log")));
  auto applied = first_line_with(calls, "tc qdisc replace dev lo root netem");
  auto reverted = first_line_with(calls, "tc qdisc del dev lo root");
  CHECK(applied >= 0);
  CHECK(reverted > applied);
}

TEST_CASE("chaos over SSH: a live orchestrator's heartbeat keeps a fault past its 3 s lease, and after a SIGKILL the host "
          "ends it within seconds", "[faults][chaos]") {
  FakeHosts hosts;
  OrchestratorChild orchestrator(hosts, true);
  REQUIRE(hosts.marker_count() == 1);
  REQUIRE(netem_on(hosts));
  auto expiry_file = [&] {
    for (auto& e : fs::directory_iterator(hosts.markers()))
      if (e.path().extension() == ".expiry") return e.path();
    return fs::path();
  };
  REQUIRE(!expiry_file().empty());
  const auto first_expiry = std::stol(slurp(expiry_file()));

  // Three leases long, the fault stays: the heartbeat moves the expiry on.
  const auto held_until = std::chrono::steady_clock::now() + 9s;
  bool held = true;
  while (held && std::chrono::steady_clock::now() < held_until) {
    held = hosts.marker_count() == 1 && netem_on(hosts);
    std::this_thread::sleep_for(200ms);  // the poll interval, not a wait for an outcome
  }
  INFO(slurp(hosts.state("calls.log")));
  CHECK(held);
  REQUIRE(!expiry_file().empty());
  CHECK(std::stol(slurp(expiry_file())) >= first_expiry + 6);
  auto st = make_fault_injector(hosts.fleet())->status({"nyc"});
  INFO(st.dump(2));
  CHECK(st[0]["faults"][0]["expires_unix"].get<double>() >= static_cast<double>(first_expiry + 6));

  // Once it is dead, the host ends the fault within its lease (3 s, and the watcher's 1 s tick).
  REQUIRE(orchestrator.kill());
  CHECK(testing::eventually([&] { return hosts.marker_count() == 0 && !fs::exists(hosts.state("qdisc.lo")); }, 6s));
  CHECK(expiry_file().empty());
}

TEST_CASE("chaos CLI over SSH: delay with a lease, status, clear, and stall refused", "[chaos]") {
  FakeHosts hosts;
  write_file(hosts.state("qdisc.lo"), kSeededTbf);
  auto fleet = " --fleet " + hosts.toml().string();

  auto dry = run_cli("chaos delay" + fleet + " --hosts nyc --peers sfo --delay-ms 100 --for 30s --dry-run");
  INFO(dry.out);
  CHECK(dry.rc == 0);
  CHECK_THAT(dry.out, Catch::Contains("[dry-run] delay on nyc (tc netem) would run") &&
                          Catch::Contains("tc qdisc replace dev 'lo' root netem delay 100ms 200ms distribution normal"));
  CHECK(hosts.marker_count() == 0);
  CHECK(slurp(hosts.state("qdisc.lo")) == kSeededTbf);

  auto applied = run_cli("chaos delay" + fleet + " --hosts nyc --peers sfo --delay-ms 100 --jitter-ms 0 --for 30s");
  INFO(applied.out);
  CHECK(applied.rc == 0);
  CHECK_THAT(applied.out, Catch::Contains("applied delay on nyc (tc netem, all egress on lo)") &&
                              Catch::Contains("dead-man sleeper pid"));
  CHECK(hosts.marker_count() == 1);

  auto st = run_cli("chaos status" + fleet);
  INFO(st.out);
  CHECK(st.rc == 0);
  CHECK(std::regex_search(st.out, std::regex("nyc +delay +tc netem +[0-9]+ s")));

  auto stall = run_cli("chaos stall" + fleet + " --hosts nyc --for 30s");
  CHECK(stall.rc == 1);
  CHECK_THAT(stall.out, Catch::Contains("not available over SSH"));

  auto clear = run_cli("chaos clear" + fleet);
  INFO(clear.out);
  CHECK(clear.rc == 0);
  CHECK_THAT(clear.out, Catch::Contains("3 host(s), 0 not clean"));
  CHECK(slurp(hosts.state("qdisc.lo")) == kSeededTbf);
  CHECK(hosts.marker_count() == 0);
}
