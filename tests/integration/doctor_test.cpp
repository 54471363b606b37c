// x0xctl doctor against the loopback sshd: a clean host passes, a busy port
// held by another program and a changed host key are blockers.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "core/encoding.h"
#include "orchestrator/collection/doctor.h"
#include "tests/support/sshd_fixture.h"

using namespace x0x;
using namespace x0x::orchestrator;
namespace fs = std::filesystem;

namespace {

// A listening socket this test holds, so the port is busy with "another program".
struct HeldPort {
  int fd = -1;
  std::uint16_t port = 0;
  HeldPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
  }
  ~HeldPort() { ::close(fd); }
};

Host ssh_host(const testing::SshdFixture& sshd, const std::string& name, const std::string& known_hosts,
              const std::string& api_addr) {
  Host h;
  h.name = name;
  h.address = "127.0.0.1";
  h.transport = "ssh";
  h.ssh_port = sshd.port();
  h.ssh_identity = sshd.client_key().string();
  h.known_hosts = known_hosts;
  h.service_manager = "supervisor";
  h.install_root = (sshd.dir() / name).string();
  h.api_addr = api_addr;
  return h;
}

const DoctorCheck* find(const DoctorHost& h, const std::string& name) {
  for (auto& c : h.checks)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("doctor: a clean host passes — a port held by another program and a changed host key are blockers") {
  testing::SshdFixture sshd;
  HeldPort busy;
  auto other_keys = sshd.dir() / "other_known_hosts";
  {
    std::ofstream out(other_keys);
    out << "[127.0.0.1]:" << sshd.port()
        << " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
  }
  Fleet f;
  f.hosts.push_back(ssh_host(sshd, "clean", sshd.known_hosts().string(), "127.0.0.1:1"));
  f.hosts.push_back(ssh_host(sshd, "busy", sshd.known_hosts().string(), "127.0.0.1:" + std::to_string(busy.port)));
  f.hosts.push_back(ssh_host(sshd, "rekeyed", other_keys.string(), "127.0.0.1:2"));
  auto rep = run_doctor(f, {});
  REQUIRE(rep.size() == 3);

  INFO(rep[0].checks.size());
  CHECK_FALSE(rep[0].blocked());
  REQUIRE(find(rep[0], "clock"));
  CHECK(find(rep[0], "clock")->status == "ok");
  REQUIRE(find(rep[0], "disk"));
  CHECK(find(rep[0], "disk")->status == "ok");
  REQUIRE(find(rep[0], "service manager"));
  CHECK(find(rep[0], "service manager")->status == "ok");

  CHECK(rep[1].blocked());
  auto* port = find(rep[1], "port " + std::to_string(busy.port));
  REQUIRE(port);
  CHECK(port->status == "blocker");

  CHECK(rep[2].blocked());
  REQUIRE(find(rep[2], "host key"));
  CHECK_THAT(find(rep[2], "host key")->detail, Catch::Contains("CHANGED"));
}
