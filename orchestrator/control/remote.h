// The boundary through which the deploy engine, doctor and harvest reach a
// remote host: run a command, upload a file with an integrity check, read a
// small file, forward a local port to the host's loopback. ssh_remote.h is the
// real (libssh) implementation; tests may swap in their own.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace x0x::orchestrator {

struct ExecResult {
  int exit_code = -1;  // -1 (own channel) or 128+N (command shell) when the remote process died of signal N
  std::string out, err;
};

// Every failure talking to a host; the message names the host and what failed.
class RemoteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The host key is unknown (and not accepted) or differs from the pinned one.
class HostKeyError : public RemoteError {
 public:
  using RemoteError::RemoteError;
};

// A local listener on 127.0.0.1:<ephemeral> forwarding each accepted
// connection to remote_host:remote_port as seen from the SSH server.
class PortForward {
 public:
  virtual ~PortForward() = default;  // stops listening and closes every forwarded connection
  virtual std::uint16_t local_port() const = 0;
};

// One host. NOT thread-safe: use one per worker thread.
class RemoteHost {
 public:
  virtual ~RemoteHost() = default;
  virtual const std::string& name() const = 0;

  // Runs a command through the remote shell. stdin_data is written to its
  // stdin (then EOF). A command still running after `timeout` is signalled,
  // its channel closed, and RemoteError thrown. stdin_data is never logged.
  virtual ExecResult exec(const std::string& command, std::chrono::milliseconds timeout,
                          std::string_view stdin_data = {}) = 0;

  // Upload (streamed over the SSH channel) to "<remote_path>.upload-<random>"; then `sha256sum` on the
  // host must equal the sha256 of the bytes sent; then the mode is set and
  // the file is moved over remote_path atomically (`mv -f -T`). Any mismatch
  // or failure removes the temporary file and throws RemoteError.
  virtual void upload(const std::filesystem::path& local, const std::string& remote_path,
                      unsigned mode) = 0;

  // Reads a small remote file (SFTP), e.g. a node's API token. Throws
  // RemoteError if it is missing or larger than max_bytes. The contents are
  // never logged.
  virtual std::string read_file(const std::string& remote_path, std::size_t max_bytes = 65536) = 0;

  // A forward from 127.0.0.1:<ephemeral> to remote_host:remote_port (e.g.
  // 127.0.0.1:13600 on the host). It has its own SSH session and thread, so
  // this RemoteHost stays usable meanwhile.
  virtual std::unique_ptr<PortForward> forward(const std::string& remote_host,
                                               std::uint16_t remote_port) = 0;
};

struct SshTarget {
  std::string name;         // for messages
  std::string address;      // IP or host name
  int port = 22;
  std::string user = "root";
  std::string identity;     // private key file; empty: ssh-agent / default keys
  std::string known_hosts;  // pinned known_hosts file (required)
  bool accept_new = false;  // record an unknown host key into known_hosts (never a CHANGED one)
  std::chrono::milliseconds connect_timeout{10000};
  int keepalive_secs = 10;  // 0 disables
  // Run commands through one long-lived `/bin/sh` per connection instead of a
  // channel (and a login shell, with its rc files) per command. See ssh_remote.h.
  bool command_shell = true;
};

}  // namespace x0x::orchestrator
