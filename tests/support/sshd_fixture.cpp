#include "tests/support/sshd_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/encoding.h"
#include "core/process.h"
#include "tests/support/files.h"

namespace x0x::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Runs argv to completion (stdio inherited, 60 s at most); the exit code, or
// -1 if it could not start or was killed.
int run(const std::vector<std::string>& argv) {
  ProcessSpec spec;
  spec.argv = argv;
  spec.in = Stdio::inherit();
  try {
    return run_process(spec, 60s).exit_code();
  } catch (const ProcessError&) {
    return -1;
  }
}

using x0x::testing::slurp;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(std::string("sshd fixture: no free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

int read_pid(const fs::path& pidfile) {
  std::ifstream in(pidfile);
  int pid = -1;
  if (in >> pid && pid > 1) return pid;
  return -1;
}

}  // namespace

void generate_ssh_key(const fs::path& file, const std::string& comment) {
  if (run({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file.string()}) != 0)
    throw std::runtime_error("ssh-keygen failed for " + file.string());
}

SshdFixture::SshdFixture() : SshdFixture(std::vector<std::string>{}) {}

SshdFixture::SshdFixture(std::vector<std::string> extra_config) {
  dir_ = fs::temp_directory_path() / ("x0x-sshd-" + random_hex(6));
  fs::create_directories(dir_);
  try {
    for (const char* key : {"host_key", "client_key"}) generate_ssh_key(dir_ / key, std::string("x0x-test-") + key);
    fs::copy_file(dir_ / "client_key.pub", dir_ / "authorized_keys");
    fs::create_directories("/run/sshd");  // sshd's privilege separation directory

    const fs::path config = dir_ / "sshd_config", pidfile = dir_ / "sshd.pid";
    std::string last_error;
    for (int attempt = 0; attempt < 3 && pid_ < 0; ++attempt) {
      port_ = free_port();
      {
        std::ofstream c(config, std::ios::trunc);
        for (const auto& line : extra_config) c << line << "\n";
        c << "ListenAddress 127.0.0.1\n"
          << "Port " << port_ << "\n"
          << "HostKey " << (dir_ / "host_key").string() << "\n"
          << "AuthorizedKeysFile " << (dir_ / "authorized_keys").string() << "\n"
          << "PubkeyAuthentication yes\n"
          << "PasswordAuthentication no\n"
          << "KbdInteractiveAuthentication no\n"
          << "PermitRootLogin prohibit-password\n"
          << "StrictModes no\n"
          << "UsePAM no\n"
          << "PrintMotd no\n"
          << "UseDNS no\n"
          << "PidFile " << pidfile.string() << "\n"
          << "AllowTcpForwarding yes\n"
          << "Subsystem sftp internal-sftp\n"
          << "LogLevel VERBOSE\n";
      }
      fs::remove(pidfile);
      // sshd binds, then daemonises: a non-zero exit means it did not start.
      int rc = run({"/usr/sbin/sshd", "-f", config.string(), "-E", log_file().string()});
      if (rc != 0) {
        last_error = "sshd exited with " + std::to_string(rc);
        continue;
      }
      auto until = std::chrono::steady_clock::now() + 10s;
      auto pause = 5ms;
      while (std::chrono::steady_clock::now() < until) {
        if (pid_ < 0) pid_ = read_pid(pidfile);
        if (pid_ > 0 && port_accepts(port_)) break;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(100));
      }
      if (pid_ < 0 || !port_accepts(port_)) {
        last_error = "sshd did not accept connections on 127.0.0.1:" + std::to_string(port_) + " within 10 s";
        stop();
      }
    }
    if (pid_ < 0) throw std::runtime_error("sshd fixture: " + last_error + "; sshd.log:\n" + log_tail());

    // Pin the host key: "[127.0.0.1]:<port> ssh-ed25519 AAAA…".
    std::istringstream pub(slurp(host_pubkey()));
    std::string type, blob;
    pub >> type >> blob;
    std::ofstream(known_hosts()) << known_hosts_name() << " " << type << " " << blob << "\n";
  } catch (...) {
    stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

SshdFixture::~SshdFixture() {
  stop();
  if (!std::getenv("X0X_KEEP_TEST_DIRS")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void SshdFixture::stop() {
  if (pid_ <= 1) return;
  // The listener is frozen first so that no connection starts meanwhile, then
  // its connections end: one accepted just before would re-execute sshd after
  // the directory is gone, fail to read the host key and recreate sshd.log in
  // a directory being removed.
  send_signal(pid_, SIGSTOP);
  drop_connections();
  send_signal(pid_, SIGKILL);
  auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until && process_alive(pid_)) std::this_thread::sleep_for(10ms);
  pid_ = -1;
}

void SshdFixture::drop_connections() {
  if (pid_ <= 1) return;
  // Descendants of the listener, found through the parent pid in /proc/<pid>/stat.
  std::vector<int> family{pid_}, victims;
  for (bool grew = true; grew;) {
    grew = false;
    for (auto& e : fs::directory_iterator("/proc")) {
      const std::string name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(e.path() / "stat");
      std::string text;
      std::getline(stat, text);
      auto close_paren = text.rfind(')');
      if (close_paren == std::string::npos) continue;
      std::istringstream rest(text.substr(close_paren + 2));
      std::string state;
      int ppid = 0;
      rest >> state >> ppid;
      int pid = std::stoi(name);
      if (std::find(family.begin(), family.end(), ppid) != family.end() &&
          std::find(family.begin(), family.end(), pid) == family.end()) {
        family.push_back(pid);
        victims.push_back(pid);
        grew = true;
      }
    }
  }
  for (int pid : victims) send_signal(pid, SIGKILL);
}

std::string SshdFixture::known_hosts_name() const { return "[127.0.0.1]:" + std::to_string(port_); }

orchestrator::SshTarget SshdFixture::target(const std::string& name) const {
  orchestrator::SshTarget t;
  t.name = name;
  t.address = "127.0.0.1";
  t.port = port_;
  t.user = "root";
  t.identity = client_key().string();
  t.known_hosts = known_hosts().string();
  t.connect_timeout = 10s;
  return t;
}

std::string SshdFixture::log_tail(std::size_t lines) const {
  std::ifstream in(log_file());
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (auto& l : tail) out += l + "\n";
  return out;
}

}  // namespace x0x::testing
