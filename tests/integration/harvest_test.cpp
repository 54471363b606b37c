// Harvest on a running local fleet: a bundle whose manifest verifies, which
// contains no token, and which records an unreachable node as such. Over SSH:
// systemd hosts read their units' journal and `systemctl show` (recorders on
// the sshd session's PATH), supervisor hosts their pidfile's process.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/utc_time.h"
#include "orchestrator/collection/harvest.h"
#include "proofs/bundle_writer.h"
#include "tests/support/files.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/sshd_fixture.h"

using namespace x0x;
using namespace x0x::testing;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

TEST_CASE("harvest: every node's diagnostics in a verified, token-free bundle — a dead node is recorded") {
  TestFleet fleet(4, {}, true);
  orchestrator::Fleet inv;
  inv.name = "harvest-test";
  for (auto& n : fleet.mesh().nodes())
    inv.hosts.push_back(orchestrator::Host::local(n.name, n.api_base.substr(7), (n.data_dir / "api-token").string(), n.dir.string()));
  inv.anchor = inv.hosts.front().name;
  std::vector<std::string> tokens;
  for (auto& n : fleet.mesh().nodes()) tokens.push_back(n.token);
  fleet.post(0, "/publish", {{"topic", "t"}, {"payload", "aGk="}});
  fleet.mesh().kill_node(3);  // nuremberg is down

  auto out = fs::temp_directory_path() / ("x0x-harvest-" + random_hex(4));
  orchestrator::HarvestOptions o;
  o.out = out;
  o.since = "1h";
  auto r = orchestrator::harvest(inv, o);
  CHECK(r.reached == 3);
  CHECK(r.unreachable == 1);
  CHECK(r.unreachable_hosts == std::vector<std::string>{"nuremberg"});
  CHECK(proofs::verify_bundle(out).empty());
  for (auto name : {"nyc", "sfo", "helsinki"})
    for (auto file : {"health.json", "agent.json", "status.json", "peers.json", "diagnostics-gossip.json",
                      "diagnostics-connectivity.json", "grep-counts.json", "host.txt"})
      CHECK(fs::exists(out / "harvest" / name / file));
  CHECK(fs::exists(out / "harvest/nuremberg/status.json"));
  std::ifstream in(out / "summary.md");
  std::stringstream md;
  md << in.rdbuf();
  CHECK(md.str().find("## Unreachable") != std::string::npos);
  CHECK(md.str().find("nuremberg") != std::string::npos);
  for (auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file()) {
      std::ifstream f(e.path());
      std::stringstream ss;
      ss << f.rdbuf();
      for (auto& t : tokens) CHECK(ss.str().find(t) == std::string::npos);
    }
  fs::remove_all(out);
}

namespace {

std::string utc_now_iso() { return x0x::format_utc(std::time(nullptr), "%Y-%m-%dT%H:%M:%SZ"); }

nlohmann::json json_file(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

}  // namespace

TEST_CASE("harvest: systemd hosts give their units' journal and systemctl facts, supervisor hosts their process") {
  testing::TempDir tmp{"x0x-harvest-ssh-"};
  fs::create_directories(tmp.path / "bin");
  auto calls = (tmp.path / "calls.log").string();
  // Recorders: they log their argv and print canned output.
  write_file(tmp.path / "bin" / "journalctl",
             "#!/bin/sh\necho \"journalctl $*\" >> " + calls + "\n"
             "case \"$*\" in *--disk-usage*) echo 'Archived and active journals take up 8.0M in the file system.'; exit 0 ;; esac\n"
             "case \"$*\" in *nojournal*) echo 'No journal files were found.' >&2; exit 1 ;; esac\n"
             "echo '-- Journal begins at Mon 2030-01-01 00:00:00 UTC. --'\n"
             "echo '2030-01-01T00:00:00+0000 host x0xd[42]: WARN receive forward channel >80% full'\n"
             "echo '2030-01-01T00:00:01+0000 host x0xd[42]: peer_id=0123456789abcdef republish timed out'\n"
             "echo '2030-01-01T00:00:02+0000 host systemd[1]: x0xd-test.service: Main process exited, status=9/KILL (Killed)'\n",
             fs::perms::owner_all);
  write_file(tmp.path / "bin" / "systemctl",
             "#!/bin/sh\necho \"systemctl $*\" >> " + calls + "\n"
             "case \"$1\" in\n"
             "  show) printf 'MainPID=4242\\nActiveState=active\\nNRestarts=3\\nMemoryCurrent=52428800\\nCPUUsageNSec=1500000000\\n' ;;\n"
             "  is-system-running) echo running ;;\n"
             "  *) exit 1 ;;\n"
             "esac\n",
             fs::perms::owner_all);
  testing::SshdFixture sshd({"SetEnv PATH=" + (tmp.path / "bin").string() + ":/usr/bin:/bin"});

  auto host = [&](const std::string& name, const std::string& manager, const std::string& service) {
    orchestrator::Host h;
    h.name = name;
    h.address = "127.0.0.1";
    h.ssh_port = sshd.port();
    h.ssh_identity = sshd.client_key().string();
    h.known_hosts = sshd.known_hosts().string();
    h.service_manager = manager;
    h.service = service;
    h.install_root = (tmp.path / name).string();
    h.api_addr = "127.0.0.1:9";  // nothing there: the API part fails, logs and facts do not
    h.token_path = (tmp.path / name / "data" / "api-token").string();
    fs::create_directories(tmp.path / name / "log");
    fs::create_directories(tmp.path / name / "run");
    return h;
  };
  orchestrator::Fleet inv;
  inv.name = "harvest-ssh";
  inv.hosts = {host("sd", "systemd", "x0xd-test"), host("nj", "systemd", "nojournal"), host("sup", "supervisor", "")};
  inv.anchor = "sd";
  auto now = utc_now_iso();
  write_file(tmp.path / "nj" / "log" / "node.log", now + " WARN peer connected: aaaa\n");
  write_file(tmp.path / "sup" / "log" / "node.log", now + " INFO peer connected: bbbb\n" + now + " ERROR something broke\n");
  write_file(tmp.path / "sup" / "run" / "node.pid", std::to_string(::getpid()) + "\n");  // this test's own process

  orchestrator::HarvestOptions o;
  o.out = tmp.path / "bundle";
  o.since = "1h";
  auto r = orchestrator::harvest(inv, o);
  CHECK(r.unreachable == 3);  // no API anywhere
  CHECK(proofs::verify_bundle(o.out).empty());
  auto log = slurp(calls);
  INFO(log);
  CHECK_THAT(log, Contains("journalctl -u x0xd-test.service -u x0x-runner-sd.service --since -3600s --no-pager -o short-iso --utc"));
  CHECK_THAT(log, Contains("systemctl show -p MainPID,ActiveState,NRestarts,MemoryCurrent,CPUUsageNSec x0xd-test.service"));
  CHECK_THAT(log, Contains("systemctl show -p MainPID,ActiveState,NRestarts,MemoryCurrent,CPUUsageNSec x0x-runner-sd.service"));
  CHECK(log.find("x0x-node-sup") == std::string::npos);  // supervisor hosts have no units

  auto h = o.out / "harvest";
  // systemd, journal present: the journal is the source and is counted.
  auto sd = json_file(h / "sd" / "status.json");
  CHECK(sd["logs"]["source"] == "journal");
  CHECK(sd["logs"]["journal"]["lines"] == 3);
  auto sd_counts = json_file(h / "sd" / "grep-counts.json");
  CHECK(sd_counts["counts"]["recv_channel_80pct_warn"] == 1);
  CHECK(sd_counts["counts"]["per_peer_timeout"] == 1);
  CHECK(sd_counts["counts"]["crash_or_restart"] == 1);
  CHECK(sd_counts["top_per_peer_timeout_sources"][0]["peer_id"] == "0123456789abcdef");
  auto sd_facts = json_file(h / "sd" / "facts.json");
  CHECK(sd_facts["units"]["node"]["MainPID"] == "4242");
  CHECK(sd_facts["units"]["node"]["NRestarts"] == "3");
  CHECK(sd_facts["units"]["runner"]["ActiveState"] == "active");
  CHECK(sd_facts["system_state"] == "running");
  CHECK_THAT(sd_facts["journal_disk_usage"].get<std::string>(), Contains("8.0M"));
  CHECK_FALSE(sd_facts["uptime"].get<std::string>().empty());
  CHECK(sd_facts.contains("df"));
  // systemd, journalctl fails: the log file instead, and why.
  auto nj = json_file(h / "nj" / "status.json");
  CHECK(nj["logs"]["source"] == "log-file");
  CHECK_THAT(nj["logs"]["journal"]["fallback"].get<std::string>(), Contains("journalctl failed: No journal files were found."));
  CHECK(json_file(h / "nj" / "grep-counts.json")["counts"]["peer_connected"] == 1);
  // supervisor: the log file, and the pidfile's process from /proc.
  auto sup = json_file(h / "sup" / "status.json");
  CHECK(sup["logs"]["source"] == "log-file");
  CHECK_FALSE(sup["logs"].contains("journal"));
  CHECK(json_file(h / "sup" / "grep-counts.json")["counts"]["errors"] == 1);
  auto proc = json_file(h / "sup" / "facts.json")["processes"]["node"];
  CHECK(proc["pid"] == std::to_string(::getpid()));
  CHECK(std::stol(proc["rss_kb"].get<std::string>()) > 0);
  REQUIRE(proc["cpu_seconds"].is_number());
  CHECK(proc["cpu_seconds"].get<double>() >= 0);
  CHECK(json_file(h / "sup" / "facts.json")["processes"]["runner"]["pid"] == "");
}
