// `x0xctl deploy` against a real sshd on loopback (tests/support/sshd_fixture.h):
// an inventory of 4 hosts on that one sshd, each with its own install root,
// API and gossip ports, service_manager = "supervisor". The "remote" hosts are
// this machine, so results are also checked directly (files, /health).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <atomic>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/process.h"
#include "core/sha256.h"
#include "core/toml_text.h"
#include "harness/phase_a.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/lifecycle/deploy.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/service_manager.h"
#include "orchestrator/control/ssh_remote.h"
#include "probes/rest_client.h"
#include "tests/support/cli_runner.h"
#include "tests/support/files.h"
#include "tests/support/sshd_fixture.h"

// Catch prints deploy states by their name.
namespace x0x::orchestrator {
inline std::ostream& operator<<(std::ostream& o, DeployResult r) { return o << to_string(r); }
inline std::ostream& operator<<(std::ostream& o, DeployAction a) { return o << to_string(a); }
}  // namespace x0x::orchestrator

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace x0x;
using namespace x0x::orchestrator;
using Catch::Matchers::Contains;

using x0x::testing::slurp;
using x0x::testing::write_file;

namespace {

// Free loopback ports, distinct within the test (kept bound until all are picked).
std::vector<int> free_ports(int n) {
  std::vector<int> fds, ports;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(fd >= 0);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    fds.push_back(fd);
    ports.push_back(ntohs(a.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

// The 4-host inventory on the fixture's sshd; every supervised process is
// stopped (through the uploaded supervisor) when it goes away, also when the
// test failed. Install roots are <dir>/<roots_in>/<host name>.
class DeployFleet {
 public:
  DeployFleet(const testing::SshdFixture& sshd, int n = 4, std::string known_hosts = {},
              std::string service_manager = "supervisor", std::string roots_in = {})
      : dir_(fs::temp_directory_path() / ("x0x-deploy-test-" + random_hex(4))) {
    fs::create_directories(dir_);
    auto ports = free_ports(2 * n);
    std::ostringstream t;
    t << "schema_version = 1\nfleet = \"deploy-test\"\n\n[defaults]\nssh_user = \"root\"\nssh_port = " << sshd.port()
      << "\nssh_identity = \"" << sshd.client_key().string() << "\"\nknown_hosts = \""
      << (known_hosts.empty() ? sshd.known_hosts().string() : known_hosts) << "\"\nservice_manager = \"" << service_manager << "\"\n";
    for (int i = 0; i < n; ++i) {
      auto name = "h" + std::to_string(i);
      auto root = roots_in.empty() ? dir_ / name : dir_ / roots_in / name;
      t << "\n[[host]]\nname = \"" << name << "\"\naddress = \"127.0.0.1\"\ntransport = \"ssh\"\napi_addr = \"127.0.0.1:"
        << ports[2 * i] << "\"\ngossip_addr = \"127.0.0.1:" << ports[2 * i + 1] << "\"\ninstall_root = " << toml_quote(root.string())
        << "\ntoken_path = " << toml_quote((root / "data" / "api-token").string()) << "\n";
      if (i == 0) t << "roles = [\"bootstrap\"]\n";
    }
    write_file(dir_ / "fleet.toml", t.str());
    fleet_ = load_fleet(dir_ / "fleet.toml");
  }
  ~DeployFleet() {
    for (auto& h : fleet_.hosts) {
      auto sup = fs::path(h.install_root) / "bin" / "x0x-supervise";
      if (fs::exists(sup))
        for (auto* svc : {"runner", "node"}) {
          ProcessSpec stop;
          stop.argv = {"/bin/sh", sup.string(), "stop", svc};
          stop.out = stop.err = Stdio::null();
          run_process(stop, 60s);
        }
    }
    std::error_code ec;
    if (std::getenv("X0X_KEEP_TEST_DIRS") == nullptr) fs::remove_all(dir_, ec);
  }
  const Fleet& fleet() const { return fleet_; }
  const fs::path& dir() const { return dir_; }
  fs::path root(std::size_t i) const { return fleet_.hosts[i].install_root; }

  nlohmann::json health(std::size_t i) const {
    probes::RestClient c("http://" + fleet_.hosts[i].api_addr, "", 3s);
    return c.get_json("/health");
  }
  bool pid_alive(std::size_t i, const std::string& file) const {
    auto text = slurp(root(i) / "run" / file);
    int pid = std::atoi(text.c_str());
    if (pid <= 0 || ::kill(pid, 0) != 0) return false;
    auto stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(") ");
    return close != std::string::npos && stat[close + 2] != 'Z';
  }

 private:
  fs::path dir_;
  Fleet fleet_;
};

DeployOptions options(const fs::path& work) {
  DeployOptions o;
  o.binary = X0X_LEAN_NODE_BIN;
  o.runner = X0X_TEST_RUNNER_BIN;
  o.parallel = 8;
  o.api_timeout = 30s;
  o.gate_timeout = 40s;
  o.work_dir = work;
  return o;
}

const HostReport& host(const DeployReport& r, const std::string& name) {
  for (auto& h : r.hosts)
    if (h.name == name) return h;
  FAIL("no host " << name << " in the report");
  throw std::logic_error("unreachable");
}

std::string results(const DeployReport& r) { return format_results(r); }

void first_deploy(DeployFleet& f) {
  auto o = options(f.dir() / "proofs-1");
  auto rep = run_deploy(f.fleet(), o);
  INFO(results(rep) << slurp(f.dir() / "proofs-1" / "deploy.log"));
  REQUIRE(rep.passed());
}

}  // namespace

TEST_CASE("deploy: waves are cumulative counts or percentages — the first is the canary") {
  CHECK(parse_waves("1,25%,100%", 8) == std::vector<std::size_t>{1, 1, 6});
  CHECK(parse_waves("1,25%,100%", 4) == std::vector<std::size_t>{1, 3});
  CHECK(parse_waves("1,25%,100%", 1) == std::vector<std::size_t>{1});
  CHECK(parse_waves("2,50%", 16) == std::vector<std::size_t>{2, 6, 8});  // the rest: one more wave
  CHECK(parse_waves("1", 4) == std::vector<std::size_t>{1, 3});
  CHECK(parse_waves("100%", 3) == std::vector<std::size_t>{3});
  CHECK(parse_waves("1", 0).empty());
  CHECK_THROWS_AS(parse_waves("0", 4), std::invalid_argument);
  CHECK_THROWS_AS(parse_waves("1,abc", 4), std::invalid_argument);
  CHECK_THROWS_AS(parse_waves("150%", 4), std::invalid_argument);
}

TEST_CASE("deploy: config rendering and systemd units follow the inventory") {
  Fleet f;
  f.path = "fleet.toml";
  auto make_host = [](std::string name, std::string address, std::vector<std::string> roles) {
    Host h;
    h.name = std::move(name);
    h.address = std::move(address);
    h.api_addr = "127.0.0.1:12600";
    h.gossip_addr = "0.0.0.0:5483";
    h.token_path = "/opt/x0x/data/api-token";
    h.install_root = "/opt/x0x";
    h.roles = std::move(roles);
    return h;
  };
  Host a = make_host("nyc", "203.0.113.10", {"bootstrap"});
  Host b = make_host("sfo", "203.0.113.11", {});
  f.hosts = {a, b};
  auto lb = HostLayout::for_host(b);
  auto text = render_node_config(f, b, lb, "log_level = \"debug\"\napi_address = \"1.2.3.4:1\"\n[gossip]\ndispatch_workers = 2\n",
                                 "tpl.toml", "");
  CHECK_THAT(text, Contains("api_address = \"127.0.0.1:12600\"") && Contains("bind_address = \"0.0.0.0:5483\"") &&
                       Contains("data_dir = \"/opt/x0x/data\"") && Contains("instance_name = \"sfo\"") &&
                       Contains("log_level = \"debug\"") && Contains("dispatch_workers = 2"));
  CHECK(text.find("1.2.3.4") == std::string::npos);
  CHECK(text.find("bootstrap_peers") < text.find("[gossip]"));
  CHECK_THAT(text, Contains("\"203.0.113.10:5483\""));  // what the node reads back: tests/unit/node_config_toml_test.cpp
  // The bootstrap host does not list itself.
  CHECK_THAT(render_node_config(f, a, HostLayout::for_host(a), "", "", ""), Contains("bootstrap_peers = []"));
  auto env = render_runner_env(b, lb, "info");
  CHECK_THAT(env, Contains("NODE_NAME='sfo'") && Contains("X0X_API_BASE='http://127.0.0.1:12600'") &&
                      Contains("X0X_API_TOKEN='/opt/x0x/data/api-token'"));
  // No list: the runner trusts the first orchestrator that discovers it; a list is written as given.
  CHECK(env.find("X0X_RUNNER_TRUSTED_AGENTS") == std::string::npos);
  const std::string orch(64, 'a');
  CHECK_THAT(render_runner_env(b, lb, "info", orch), Contains("X0X_RUNNER_TRUSTED_AGENTS='" + orch + "'"));
  auto runner_unit = render_systemd_unit(b, lb, Service::runner);
  CHECK_THAT(runner_unit, Contains("After=x0x-node-sfo.service") && Contains("Wants=x0x-node-sfo.service") &&
                              Contains("EnvironmentFile=/opt/x0x/etc/runner.env"));
  CHECK_THAT(render_systemd_unit(b, lb, Service::node),
             Contains("ExecStart=\"/opt/x0x/bin/x0x-node\" --config \"/opt/x0x/etc/config.toml\" --no-hard-coded-bootstrap"));
  // A network (or the host) names the node's unit; the runner's follows it.
  Host c = b;
  c.service = "x0xd-testnet";
  CHECK(systemd_unit_name(c, Service::node) == "x0xd-testnet.service");
  CHECK(systemd_unit_name(c, Service::runner) == "x0x-runner-sfo.service");
  CHECK_THAT(render_systemd_unit(c, lb, Service::runner), Contains("After=x0xd-testnet.service"));
  c.service = "x0xd@test.service";
  CHECK(systemd_unit_name(c, Service::node) == "x0xd@test.service");
  CHECK(lb.cache_dir == "/opt/.x0x-cache");
}

TEST_CASE("deploy: rendered files carry an install root with a quote, a space and a percent sign") {
  Fleet f;
  f.path = "fleet.toml";
  Host h;
  h.name = "nyc";
  h.address = "127.0.0.1";
  h.api_addr = "127.0.0.1:12600";
  h.gossip_addr = "127.0.0.1:5483";
  h.install_root = "/srv/o'brien x0x/100%\"ok\"";
  f.hosts = {h};
  auto l = HostLayout::for_host(h);
  // (The node config reads it back exactly: tests/unit/node_config_toml_test.cpp.)
  // The runner's env file, sourced by sh as the supervisor does.
  testing::TempDir tmp;
  write_file(tmp.path / "runner.env", render_runner_env(h, l, "info"));
  ProcessSpec sh;
  sh.argv = {"/bin/sh", "-c", "set -a; . \"$1\"; printf '%s' \"$X0X_API_TOKEN\"", "sh", (tmp.path / "runner.env").string()};
  sh.out = Stdio::pipe();
  CHECK(run_process(sh, 10s).out == h.install_root + "/data/api-token");
  // systemd cannot start a program from a path with a quote: refused, naming the host.
  CHECK_THROWS_WITH(render_systemd_unit(h, l, Service::node), Contains("install_root") && Contains("nyc"));
  h.service_manager = "systemd";
  CHECK_THROWS_AS(make_service_manager(h, l), std::invalid_argument);
  // A space and a percent sign are fine, quoted the systemd way; systemd-analyze agrees.
  h.install_root = (tmp.path / "x0x nodes" / "100%").string();
  l = HostLayout::for_host(h);
  auto unit = render_systemd_unit(h, l, Service::node);
  CHECK_THAT(unit, Contains("ExecStart=\"" + tmp.path.string() + "/x0x nodes/100%%/bin/x0x-node\" --config \"") &&
                       Contains("WorkingDirectory=" + tmp.path.string() + "/x0x nodes/100%%\n"));
  auto analyze = find_program("systemd-analyze");
  if (!analyze.empty()) {
    fs::create_directories(l.bin_dir);
    write_file(l.node_binary, "#!/bin/sh\n", fs::perms::owner_all);
    write_file(tmp.path / systemd_unit_name(h, Service::node), unit);
    ProcessSpec verify;
    verify.argv = {analyze.string(), "verify", "--man=no", (tmp.path / systemd_unit_name(h, Service::node)).string()};
    verify.out = Stdio::pipe();
    verify.err = Stdio::same_as_stdout();
    auto v = run_process(verify, 60s);
    INFO(unit << v.out);
    CHECK(v.exit_code() == 0);
    CHECK(v.out.find("special characters") == std::string::npos);
  }
}

TEST_CASE("deploy: lean node + runner to 4 hosts, all healthy — the same build again changes nothing") {
  testing::SshdFixture sshd;
  DeployFleet f(sshd);
  auto o = options(f.dir() / "proofs-1");
  std::vector<std::string> lines;
  std::mutex mu;
  auto rep = run_deploy(f.fleet(), o, [&](const std::string& h, const std::string& what) {
    std::lock_guard lk(mu);
    lines.push_back(h + ": " + what);
  });
  INFO(results(rep) << slurp(f.dir() / "proofs-1" / "deploy.log"));
  REQUIRE(rep.passed());
  CHECK(rep.waves == std::vector<std::vector<std::string>>{{"h0"}, {"h1", "h2", "h3"}});
  CHECK(fs::exists(f.dir() / "proofs-1" / "deploy.log"));
  auto lean_sha = sha256_file(X0X_LEAN_NODE_BIN);
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("host h" << i);
    auto& hr = rep.hosts[i];
    CHECK(hr.action == DeployAction::install);
    CHECK(hr.result == DeployResult::healthy);
    CHECK(hr.after_version == X0X_TOOLKIT_VERSION);
    auto h = f.health(i);
    CHECK(h["version"] == X0X_TOOLKIT_VERSION);
    CHECK(h["peers"].get<int>() >= 1);
    CHECK(f.pid_alive(i, "node.pid"));
    CHECK(f.pid_alive(i, "runner.pid"));
    CHECK(sha256_file(f.root(i) / "bin" / "x0x-node") == lean_sha);
    CHECK_THAT(slurp(f.root(i) / "run" / "deploy.state"), Contains("phase=done"));
    CHECK_THAT(slurp(f.root(i) / "log" / "runner.log"), Contains("runner ready"));
    CHECK(fs::exists(f.root(i) / "data" / "api-token"));
    // One verified upload per machine: every host's binary is a hard link of the cache entry.
    CHECK(fs::equivalent(f.root(i) / "bin" / "x0x-node", f.dir() / ".x0x-cache" / lean_sha));
    std::vector<std::string> phases;
    for (auto& [phase, secs] : hr.phases) phases.emplace_back(to_string(phase));
    CHECK(phases == std::vector<std::string>{"probe", "connect", "upload", "stage", "switch", "restart", "gate"});
  }
  CHECK(rep.uploads == 2);  // node and runner, once for the one machine
  CHECK(rep.to_json()["deploy"]["hosts"][1]["phases"].contains("gate"));
  // Tokens never appear in the log or the progress lines.
  auto log = slurp(f.dir() / "proofs-1" / "deploy.log");
  for (std::size_t i = 0; i < 4; ++i) {
    auto token = slurp(f.root(i) / "data" / "api-token");
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    REQUIRE(token.size() >= 32);
    CHECK(log.find(token) == std::string::npos);
    for (auto& l : lines) CHECK(l.find(token) == std::string::npos);
    CHECK(rep.to_json().dump().find(token) == std::string::npos);
  }

  // The same build again: every host is skipped, nothing restarts.
  std::vector<std::string> pids;
  for (std::size_t i = 0; i < 4; ++i) pids.push_back(slurp(f.root(i) / "run" / "node.pid"));
  auto again = run_deploy(f.fleet(), options(f.dir() / "proofs-2"));
  INFO(results(again));
  CHECK(again.passed());
  CHECK(again.waves.empty());
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(again.hosts[i].action == DeployAction::skip);
    CHECK(again.hosts[i].result == DeployResult::unchanged);
    CHECK(slurp(f.root(i) / "run" / "node.pid") == pids[i]);
  }
  CHECK_FALSE(fs::exists(f.root(0) / "bin" / "x0x-node.prev"));

  // Phase A through SSH tunnels: the anchor's API over a port forward, its
  // token read on the host through the SSH channel; every pair delivered.
  {
    auto access = make_api_access(f.fleet());
    auto ep = access->open(*f.fleet().find(f.fleet().anchor));
    CHECK(ep.base_url.rfind("http://127.0.0.1:", 0) == 0);
    CHECK(ep.base_url != "http://" + f.fleet().hosts[0].api_addr);  // a forward, not the node's own port
    harness::PhaseAOptions pa;
    pa.anchor_base_url = ep.base_url;
    pa.anchor_token = ep.token;
    pa.nodes = f.fleet().names();
    pa.discover = 20s;
    pa.settle = 30s;
    auto matrix = harness::run_phase_a(pa);
    INFO(matrix.to_json().dump(2));
    CHECK(matrix.verdict() == "Phase A: 12/12 delivered");
  }

  // `x0xctl gate` on this SSH fleet, the operator's main path on a real one:
  // snapshots and Phase A through tunnels, harvest over SSH, a bundle that
  // verifies and holds no token.
  {
    auto proof = f.dir() / "gate-proof";
    auto g = testing::run_x0xctl("gate --fleet '" + (f.dir() / "fleet.toml").string() +
                                     "' --gate limited-production --scenarios baseline --proof-dir '" + proof.string() + "'",
                                 f.dir());
    INFO(g.out);
    CHECK(g.rc == 0);
    CHECK_THAT(g.out, Contains("Verdict: GO") && Contains("4 nodes reached, 0 unreachable"));
    auto v = testing::run_x0xctl("proof verify '" + proof.string() + "'", f.dir());
    INFO(v.out);
    CHECK(v.rc == 0);
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(fs::is_directory(proof / "harvest" / ("h" + std::to_string(i))));
      auto token = slurp(f.root(i) / "data" / "api-token");
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
      for (auto& e : fs::recursive_directory_iterator(proof))
        if (e.is_regular_file()) CHECK(slurp(e.path()).find(token) == std::string::npos);
    }
  }

  // `x0xctl deploy --verify`: the same build (nothing to change), then the
  // verification through the tunnels, as the reference's deploy --mesh-verify.
  {
    auto d = testing::run_x0xctl("deploy --fleet '" + (f.dir() / "fleet.toml").string() + "' --binary '" +
                                     X0X_LEAN_NODE_BIN + "' --runner '" + X0X_TEST_RUNNER_BIN + "' --proof-root '" +
                                     (f.dir() / "proofs-3").string() + "' --verify ab",
                                 f.dir());
    INFO(d.out);
    CHECK(d.rc == 0);
    CHECK_THAT(d.out, Contains("verifying the fleet (--verify ab)") && Contains("Phase A: 12/12 delivered") &&
                          Contains("Phase B: 50/50 checks passed"));
  }

  // A dry run with --force plans a restart everywhere and changes nothing.
  auto dry = options({});
  dry.dry_run = true;
  dry.force = true;
  auto plan = run_deploy(f.fleet(), dry);
  CHECK(plan.passed());
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(plan.hosts[i].action == DeployAction::restart);
    CHECK(plan.hosts[i].result == DeployResult::planned);
    CHECK(slurp(f.root(i) / "run" / "node.pid") == pids[i]);
  }
}

TEST_CASE("deploy: a build that fails its health gate stops after the canary and is rolled back") {
  testing::SshdFixture sshd;
  DeployFleet f(sshd);
  first_deploy(f);
  auto good_sha = sha256_file(X0X_LEAN_NODE_BIN);
  // A "new build" whose --version differs from what it serves.
  auto bad = f.dir() / "x0x-lean-node-bad";
  write_file(bad,
             "#!/bin/sh\nif [ \"${1:-}\" = --version ]; then echo 'x0x-lean-node 9.9.9-bad'; exit 0; fi\nexec " +
                 std::string(X0X_LEAN_NODE_BIN) + " \"$@\"\n",
             fs::perms::owner_all);
  auto o = options(f.dir() / "proofs-bad");
  o.binary = bad;
  auto rep = run_deploy(f.fleet(), o);
  INFO(results(rep) << slurp(f.dir() / "proofs-bad" / "deploy.log"));
  CHECK_FALSE(rep.passed());
  CHECK(rep.stopped);
  CHECK(rep.waves.size() == 2);
  auto& canary = host(rep, "h0");
  CHECK(canary.wave == 1);
  CHECK(canary.result == DeployResult::rolled_back);
  CHECK_THAT(canary.detail, Contains("9.9.9-bad") && Contains("rolled back"));
  for (auto name : {"h1", "h2", "h3"}) CHECK(host(rep, name).result == DeployResult::not_attempted);
  // The canary serves the old build again, from the restored binary; .prev kept.
  CHECK(sha256_file(f.root(0) / "bin" / "x0x-node") == good_sha);
  CHECK(fs::exists(f.root(0) / "bin" / "x0x-node.prev"));
  CHECK_THAT(slurp(f.root(0) / "run" / "deploy.state"), Contains("phase=rolled-back"));
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("host h" << i);
    CHECK(f.health(i)["version"] == X0X_TOOLKIT_VERSION);
    CHECK(sha256_file(f.root(i) / "bin" / "x0x-node") == good_sha);
  }
  CHECK(f.pid_alive(0, "runner.pid"));
}

TEST_CASE("deploy: a host key mismatch is refused before anything changes") {
  testing::SshdFixture sshd;
  auto other = sshd.dir() / "other_host_key";
  testing::generate_ssh_key(other);
  std::istringstream pub(slurp(other.string() + ".pub"));
  std::string type, blob;
  pub >> type >> blob;
  auto pinned = sshd.dir() / "pinned_other";
  write_file(pinned, sshd.known_hosts_name() + " " + type + " " + blob + "\n");
  DeployFleet f(sshd, 4, pinned.string());
  auto o = options(f.dir() / "proofs-key");
  o.accept_new_host_keys = true;  // a CHANGED key is refused even so
  auto rep = run_deploy(f.fleet(), o);
  INFO(results(rep));
  CHECK_FALSE(rep.passed());
  CHECK(rep.stopped);
  CHECK_THAT(rep.stop_reason, Contains("nothing was changed"));
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(rep.hosts[i].result == DeployResult::failed);
    CHECK_THAT(rep.hosts[i].detail, Contains("host key"));
    CHECK_FALSE(fs::exists(f.root(i)));
  }
}

namespace {

// A host on which a command containing fail_on "drops" the connection
// (drop), or fails (exit 1, a message on stderr) without running (refuse).
class FlakyHost : public RemoteHost {
 public:
  enum Mode { drop, refuse };
  FlakyHost(std::unique_ptr<RemoteHost> inner, std::string fail_on, Mode mode = drop)
      : inner_(std::move(inner)), fail_on_(std::move(fail_on)), mode_(mode) {}
  const std::string& name() const override { return inner_->name(); }
  ExecResult exec(const std::string& command, std::chrono::milliseconds timeout, std::string_view stdin_data) override {
    if (command.find(fail_on_) != std::string::npos) {
      if (mode_ == drop) throw RemoteError(name() + ": simulated: connection lost");
      return {1, "", "mv: cannot move: Read-only file system"};
    }
    return inner_->exec(command, timeout, stdin_data);
  }
  void upload(const fs::path& local, const std::string& remote_path, unsigned mode) override {
    inner_->upload(local, remote_path, mode);
  }
  std::string read_file(const std::string& remote_path, std::size_t max_bytes) override {
    return inner_->read_file(remote_path, max_bytes);
  }
  std::unique_ptr<PortForward> forward(const std::string& host, std::uint16_t port) override {
    return inner_->forward(host, port);
  }

 private:
  std::unique_ptr<RemoteHost> inner_;
  std::string fail_on_;
  Mode mode_;
};


}  // namespace

TEST_CASE("deploy: an install root with a quote and a space deploys, passes its gate and rolls back") {
  testing::SshdFixture sshd;
  DeployFleet f(sshd, 2, {}, "supervisor", "o'brien x0x");
  REQUIRE_THAT(f.root(0).string(), Contains("o'brien x0x/h0"));
  auto o = options(f.dir() / "proofs-quote");
  auto rep = run_deploy(f.fleet(), o);
  {
    INFO(results(rep) << slurp(f.dir() / "proofs-quote" / "deploy.log"));
    REQUIRE(rep.passed());
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(rep.hosts[i].result == DeployResult::healthy);
      CHECK(f.health(i)["version"] == X0X_TOOLKIT_VERSION);
      CHECK(f.pid_alive(i, "runner.pid"));
      CHECK_THAT(slurp(f.root(i) / "log" / "runner.log"), Contains("runner ready"));
      CHECK_THAT(slurp(f.root(i) / "run" / "deploy.state"), Contains("phase=done"));
      CHECK(fs::exists(f.root(i) / "data" / "api-token"));
    }
    CHECK(fs::is_directory(f.dir() / "o'brien x0x" / ".x0x-cache"));
  }
  // A build that fails its gate: the canary is rolled back from its .prev files.
  auto bad = f.dir() / "x0x-lean-node-bad";
  write_file(bad,
             "#!/bin/sh\nif [ \"${1:-}\" = --version ]; then echo 'x0x-lean-node 9.9.9-bad'; exit 0; fi\nexec " +
                 std::string(X0X_LEAN_NODE_BIN) + " \"$@\"\n",
             fs::perms::owner_all);
  auto ob = options(f.dir() / "proofs-quote-bad");
  ob.binary = bad;
  auto failed = run_deploy(f.fleet(), ob);
  INFO(results(failed) << slurp(f.dir() / "proofs-quote-bad" / "deploy.log"));
  CHECK(host(failed, "h0").result == DeployResult::rolled_back);
  CHECK(sha256_file(f.root(0) / "bin" / "x0x-node") == sha256_file(X0X_LEAN_NODE_BIN));
  CHECK(f.health(0)["version"] == X0X_TOOLKIT_VERSION);
}

TEST_CASE("deploy: a journal that cannot be marked done is a warning in the report and the log, with the host") {
  testing::SshdFixture sshd;
  DeployFleet f(sshd, 1);
  auto o = options(f.dir() / "proofs-journal");
  o.connect = [&](const Host& h, bool) -> std::unique_ptr<RemoteHost> {
    return std::make_unique<FlakyHost>(ssh_connect(ssh_target_of(h, false)), "phase=done", FlakyHost::refuse);
  };
  auto rep = run_deploy(f.fleet(), o);
  auto log = slurp(f.dir() / "proofs-journal" / "deploy.log");
  INFO(results(rep) << log);
  CHECK(host(rep, "h0").result == DeployResult::healthy);  // it is: only its journal is stale
  CHECK_THAT(host(rep, "h0").detail, Contains("WARNING") && Contains("deploy.state could not be marked done") &&
                                         Contains("Read-only file system") && Contains("the next run will roll this host back first"));
  CHECK_THAT(log, Contains("h0: WARNING:") && Contains("could not be marked done"));
  CHECK_THAT(rep.to_json().dump(), Contains("could not be marked done"));
  CHECK_THAT(slurp(f.root(0) / "run" / "deploy.state"), Contains("phase=switched"));
}

TEST_CASE("deploy: a connection lost mid-host is reported as unknown, and the next run rolls it back first") {
  testing::SshdFixture sshd;
  DeployFleet f(sshd);
  first_deploy(f);
  auto lean_sha = sha256_file(X0X_LEAN_NODE_BIN);
  // A new build of the same version (another sha256).
  auto build = f.dir() / "x0x-lean-node-next";
  write_file(build, "#!/bin/sh\n# next build\nexec " + std::string(X0X_LEAN_NODE_BIN) + " \"$@\"\n", fs::perms::owner_all);
  auto build_sha = sha256_file(build);

  // h0's connection drops right after its files were switched, and h0 stays unreachable.
  std::atomic<int> h0_connects{0};
  auto o = options(f.dir() / "proofs-drop");
  o.binary = build;
  o.connect = [&](const Host& h, bool) -> std::unique_ptr<RemoteHost> {
    if (h.name == "h0") {
      int n = ++h0_connects;
      if (n >= 3) throw RemoteError("h0: simulated: host unreachable");
      if (n == 2) return std::make_unique<FlakyHost>(ssh_connect(ssh_target_of(h, false)), "'restart' 'node'");
    }
    return ssh_connect(ssh_target_of(h, false));
  };
  auto rep = run_deploy(f.fleet(), o);
  INFO(results(rep) << slurp(f.dir() / "proofs-drop" / "deploy.log"));
  CHECK_FALSE(rep.passed());
  CHECK(host(rep, "h0").result == DeployResult::unknown);
  CHECK_THAT(host(rep, "h0").detail, Contains("next run rolls it back"));
  for (auto name : {"h1", "h2", "h3"}) CHECK(host(rep, name).result == DeployResult::not_attempted);
  CHECK_THAT(slurp(f.root(0) / "run" / "deploy.state"), Contains("phase=switched"));
  CHECK(sha256_file(f.root(0) / "bin" / "x0x-node") == build_sha);  // switched, never gated

  // The next run finds the unfinished journal, rolls h0 back, then deploys.
  auto o2 = options(f.dir() / "proofs-next");
  o2.binary = build;
  auto rep2 = run_deploy(f.fleet(), o2);
  auto log2 = slurp(f.dir() / "proofs-next" / "deploy.log");
  INFO(results(rep2) << log2);
  CHECK(rep2.passed());
  CHECK_THAT(log2, Contains("unfinished run " + rep.run_id) && Contains("rolling back to .prev"));
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(rep2.hosts[i].result == DeployResult::healthy);
    CHECK(sha256_file(f.root(i) / "bin" / "x0x-node") == build_sha);
    CHECK(sha256_file(f.root(i) / "bin" / "x0x-node.prev") == lean_sha);
  }
}

namespace {

// A stand-in for systemctl (this machine has no working systemd): it records
// every call and runs a unit's ExecStart (with its EnvironmentFile and
// StandardOutput=append: file) detached, tracked by a pid file, so a systemd
// host can be deployed and health-gated for real. Stops everything it started
// when it goes away.
class FakeSystemctl {
 public:
  explicit FakeSystemctl(const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir_ / "units");
    fs::create_directories(dir_ / "state");
    write_file(path(), R"SH(#!/bin/sh
U=)SH" + (dir_ / "units").string() + R"SH(
S=)SH" + (dir_ / "state").string() + R"SH(
echo "$*" >> "$S/calls.log"
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(sed 's/.*) //' /proc/$1/stat | cut -c1)" != Z ]; }
key() { sed -n "s/^$1=//p" "$U/$2" | head -n 1; }
start() {
  alive "$(cat "$S/$1.pid" 2>/dev/null)" && return 0
  exe=$(key ExecStart "$1"); envf=$(key EnvironmentFile "$1"); out=$(key StandardOutput "$1"); out=${out#append:}
  setsid sh -c "if [ -n '$envf' ]; then set -a; . '$envf'; set +a; fi; exec $exe" >> "${out:-/dev/null}" 2>&1 < /dev/null &
  echo $! > "$S/$1.pid"
}
stop() {
  p=$(cat "$S/$1.pid" 2>/dev/null); rm -f "$S/$1.pid"
  alive "$p" || return 0
  kill -TERM "$p"; i=0
  while alive "$p" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  alive "$p" && kill -KILL "$p"
  return 0
}
cmd=$1; shift
[ "${1:-}" = --quiet ] && shift
case "$cmd" in
  daemon-reload|enable|disable) exit 0 ;;
  start) start "$1" ;;
  stop) stop "$1" ;;
  restart) stop "$1"; start "$1" ;;
  is-active) if alive "$(cat "$S/$1.pid" 2>/dev/null)"; then echo active; else echo inactive; exit 3; fi ;;
  *) echo "fake systemctl: $cmd not supported" >&2; exit 1 ;;
esac
)SH",
               fs::perms::owner_all);
  }
  ~FakeSystemctl() {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir_ / "state", ec))
      if (e.path().extension() == ".pid") {
        ProcessSpec stop;
        stop.argv = {path().string(), "stop", e.path().stem().string()};
        stop.out = stop.err = Stdio::null();
        run_process(stop, 60s);
      }
  }
  fs::path path() const { return dir_ / "systemctl"; }
  fs::path unit_dir() const { return dir_ / "units"; }
  std::string calls() const { return slurp(dir_ / "state" / "calls.log"); }

 private:
  fs::path dir_;
};

}  // namespace

TEST_CASE("deploy: systemd hosts get rendered units and are driven through systemctl") {
  testing::SshdFixture sshd;
  DeployFleet f(sshd, 2, {}, "systemd");
  FakeSystemctl sc(f.dir() / "systemd");
  // First a build that fails its gate on the fresh fleet: the canary has no
  // previous install, so it is stopped, disabled and cleaned.
  auto bad = f.dir() / "x0x-lean-node-bad";
  write_file(bad,
             "#!/bin/sh\nif [ \"${1:-}\" = --version ]; then echo 'x0x-lean-node 9.9.9-bad'; exit 0; fi\nexec " +
                 std::string(X0X_LEAN_NODE_BIN) + " \"$@\"\n",
             fs::perms::owner_all);
  // This systemctl also refuses the `disable` of that clean-up (after doing
  // it): the clean-up goes on, and the refusal is in the report and the log.
  auto refusing = f.dir() / "systemctl-refusing-disable";
  write_file(refusing,
             "#!/bin/sh\n" + sc.path().string() + " \"$@\"; rc=$?\n"
             "if [ \"$1\" = disable ]; then echo 'Failed to disable unit: Access denied' >&2; exit 1; fi\nexit $rc\n",
             fs::perms::owner_all);
  auto ob = options(f.dir() / "proofs-systemd-bad");
  ob.binary = bad;
  ob.service.systemctl = refusing.string();
  ob.service.systemd_unit_dir = sc.unit_dir().string();
  auto failed = run_deploy(f.fleet(), ob);
  {
    auto log = slurp(f.dir() / "proofs-systemd-bad" / "deploy.log");
    INFO(results(failed) << log << sc.calls());
    CHECK_FALSE(failed.passed());
    CHECK(host(failed, "h0").result == DeployResult::cleaned);
    CHECK_THAT(host(failed, "h0").detail, Contains("WARNING: removing the services during the rollback failed") &&
                                              Contains("systemctl disable failed") && Contains("Access denied"));
    CHECK_THAT(log, Contains("h0: WARNING: removing the services during the rollback failed"));
    CHECK(host(failed, "h1").result == DeployResult::not_attempted);
    CHECK_THAT(sc.calls(), Contains("disable --quiet x0x-node-h0.service x0x-runner-h0.service"));
    CHECK_FALSE(fs::exists(sc.unit_dir() / "x0x-node-h0.service"));
    CHECK_FALSE(fs::exists(f.root(0) / "bin" / "x0x-node"));
    CHECK_FALSE(fs::exists(f.root(0) / "etc" / "config.toml"));
    CHECK_THAT(slurp(f.root(0) / "run" / "deploy.state"), Contains("phase=rolled-back"));
  }
  auto o = options(f.dir() / "proofs-systemd");
  o.service.systemctl = sc.path().string();
  o.service.systemd_unit_dir = sc.unit_dir().string();
  auto rep = run_deploy(f.fleet(), o);
  INFO(results(rep) << slurp(f.dir() / "proofs-systemd" / "deploy.log") << sc.calls());
  REQUIRE(rep.passed());
  for (std::size_t i = 0; i < 2; ++i) {
    auto n = "h" + std::to_string(i);
    CHECK(f.health(i)["version"] == X0X_TOOLKIT_VERSION);
    CHECK_THAT(sc.calls(), Contains("enable --quiet x0x-node-" + n + ".service x0x-runner-" + n + ".service") &&
                               Contains("restart x0x-node-" + n + ".service") && Contains("restart x0x-runner-" + n + ".service"));
    auto runner_unit = slurp(sc.unit_dir() / ("x0x-runner-" + n + ".service"));
    CHECK_THAT(runner_unit, Contains("After=x0x-node-" + n + ".service") && Contains("Wants=x0x-node-" + n + ".service"));
    CHECK_THAT(slurp(f.root(i) / "log" / "runner.log"), Contains("runner ready"));
  }
  CHECK_THAT(sc.calls(), Contains("daemon-reload"));
}

TEST_CASE("deploy: interrupted, no new host starts and none is left half-installed") {
  testing::SshdFixture sshd;
  DeployFleet f(sshd);
  // Interrupted while the canary stages its files: it stops before the
  // switch, nothing changed anywhere.
  std::atomic<bool> stop{false};
  auto o = options(f.dir() / "proofs-int-1");
  o.interrupted = [&] { return stop.load(); };
  auto early = run_deploy(f.fleet(), o, [&](const std::string& h, const std::string& what) {
    if (h == "h0" && what.rfind("staging", 0) == 0) stop = true;
  });
  {
    INFO(results(early) << slurp(f.dir() / "proofs-int-1" / "deploy.log"));
    CHECK_FALSE(early.passed());
    CHECK(early.interrupted);
    CHECK(host(early, "h0").result == DeployResult::interrupted);
    CHECK_THAT(host(early, "h0").detail, Contains("nothing changed"));
    for (auto n : {"h1", "h2", "h3"}) {
      CHECK(host(early, n).result == DeployResult::not_attempted);
      CHECK(host(early, n).detail == "interrupted before this host started");
    }
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK_FALSE(fs::exists(f.root(i) / "bin" / "x0x-node"));
      CHECK_FALSE(fs::exists(f.root(i) / "bin" / "x0x-node.new"));
      CHECK_FALSE(fs::exists(f.root(i) / "run" / "deploy.state"));
    }
  }
  // Interrupted during the canary's health gate, with --strip: the canary
  // finishes (healthy, at the stripped copy), the other waves never start.
  stop = false;
  auto o2 = options(f.dir() / "proofs-int-2");
  o2.strip = true;
  o2.interrupted = [&] { return stop.load(); };
  auto rep = run_deploy(f.fleet(), o2, [&](const std::string& h, const std::string& what) {
    if (h == "h0" && what.rfind("health gate", 0) == 0) stop = true;
  });
  INFO(results(rep) << slurp(f.dir() / "proofs-int-2" / "deploy.log"));
  CHECK_FALSE(rep.passed());
  CHECK(rep.interrupted);
  CHECK_THAT(rep.stop_reason, Contains("interrupted"));
  CHECK(host(rep, "h0").result == DeployResult::healthy);
  CHECK(f.health(0)["version"] == X0X_TOOLKIT_VERSION);
  CHECK_THAT(slurp(f.root(0) / "run" / "deploy.state"), Contains("phase=done"));
  for (auto n : {"h1", "h2", "h3"}) CHECK(host(rep, n).result == DeployResult::not_attempted);
  CHECK_FALSE(fs::exists(f.root(1) / "bin" / "x0x-node"));
  // --strip deploys a smaller copy and says what it was made from; the operator's file is untouched.
  CHECK(rep.binary.source == fs::path(X0X_LEAN_NODE_BIN));
  CHECK(rep.binary.size < fs::file_size(X0X_LEAN_NODE_BIN));
  CHECK(rep.binary.sha256 != sha256_file(X0X_LEAN_NODE_BIN));
  CHECK(sha256_file(f.root(0) / "bin" / "x0x-node") == rep.binary.sha256);
  CHECK(rep.to_json()["deploy"]["binary"]["stripped_from"] == X0X_LEAN_NODE_BIN);
}
