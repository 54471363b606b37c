// A real OpenSSH server on 127.0.0.1 for integration tests (run as root): a
// temporary directory with an ed25519 host key, a client key authorised for
// root, a pinned known_hosts file and sshd's log. The destructor ends the
// connections still open (SIGKILL to the listener's descendants), stops sshd
// by the PID in its pid file and removes the directory.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "orchestrator/control/remote.h"

namespace x0x::testing {

// A new ed25519 key pair (no passphrase) at `file` and `file`.pub; throws if
// ssh-keygen fails.
void generate_ssh_key(const std::filesystem::path& file, const std::string& comment = "x0x-test");

class SshdFixture {
 public:
  // Throws with the tail of sshd.log if sshd does not come up within 10 s.
  SshdFixture();
  // extra_config: additional sshd_config lines (e.g. "SetEnv PATH=..."),
  // written before the defaults so that they win.
  explicit SshdFixture(std::vector<std::string> extra_config);
  ~SshdFixture();
  SshdFixture(const SshdFixture&) = delete;
  SshdFixture& operator=(const SshdFixture&) = delete;

  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path client_key() const { return dir_ / "client_key"; }
  std::filesystem::path known_hosts() const { return dir_ / "known_hosts"; }
  std::filesystem::path host_pubkey() const { return dir_ / "host_key.pub"; }
  std::filesystem::path log_file() const { return dir_ / "sshd.log"; }
  // "[127.0.0.1]:<port>", the host's name in known_hosts.
  std::string known_hosts_name() const;
  // 127.0.0.1:port, user root, the client key, the pinned known_hosts.
  orchestrator::SshTarget target(const std::string& name = "local") const;
  // Kills (SIGKILL) every process sshd started for its connections, as a
  // network failure would end them; the listener keeps running.
  void drop_connections();
  // The last lines of sshd.log (for failure messages).
  std::string log_tail(std::size_t lines = 30) const;

 private:
  void stop();
  std::filesystem::path dir_;
  int port_ = 0;
  int pid_ = -1;
};

}  // namespace x0x::testing
