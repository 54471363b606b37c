// RemoteHost over libssh 0.10. libssh sessions are not thread-safe: a
// RemoteHost owns one session used only by its caller's thread, and every
// PortForward owns a second session used only by the forward's own thread.
#include "orchestrator/control/ssh_remote.h"
#include "core/text.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <cctype>
#include <list>
#include <thread>
#include <vector>

#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include "core/encoding.h"

namespace x0x::orchestrator {

std::string one_line(std::string s, std::size_t max) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  for (auto& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > max) s = s.substr(0, max) + "…";
  return s;
}

std::string shell_quote(std::string_view text) {
  std::string q = "'";
  for (char c : text) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  q += '\'';
  return q;
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct SessionFree {
  void operator()(ssh_session s) const {
    ssh_disconnect(s);
    ssh_free(s);
  }
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionFree>;

struct KeyFree {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyFree>;

struct ChannelFree {
  void operator()(ssh_channel c) const {
    if (ssh_channel_is_open(c)) ssh_channel_close(c);
    ssh_channel_free(c);
  }
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelFree>;

struct SftpFree {
  void operator()(sftp_session s) const { sftp_free(s); }
};
using SftpPtr = std::unique_ptr<sftp_session_struct, SftpFree>;

struct SftpFileClose {
  void operator()(sftp_file f) const { sftp_close(f); }
};
using SftpFilePtr = std::unique_ptr<sftp_file_struct, SftpFileClose>;

std::string endpoint(const SshTarget& t) {
  std::string host = t.address.find(':') != std::string::npos ? "[" + t.address + "]" : t.address;
  return host + ":" + std::to_string(t.port);
}

// "nyc (127.0.0.1:2222)"
std::string who(const SshTarget& t) { return t.name + " (" + endpoint(t) + ")"; }

std::string ssh_error(ssh_session s) {
  const char* e = ssh_get_error(s);
  return e && *e ? e : "unknown error";
}

// At most 120 characters of a command for a message.
std::string command_head(const std::string& command) {
  if (command.size() <= 120) return command;
  return command.substr(0, 117) + "...";
}

std::string sftp_error_text(sftp_session sftp) {
  switch (sftp_get_error(sftp)) {
    case SSH_FX_NO_SUCH_FILE: return "no such file";
    case SSH_FX_PERMISSION_DENIED: return "permission denied";
    case SSH_FX_NO_SUCH_PATH: return "no such path";
    case SSH_FX_FILE_ALREADY_EXISTS: return "file already exists";
    case SSH_FX_WRITE_PROTECT: return "write-protected";
    case SSH_FX_NO_MEDIA: return "no media";
    case SSH_FX_EOF: return "end of file";
    case SSH_FX_OP_UNSUPPORTED: return "operation unsupported";
    case SSH_FX_FAILURE: return "failure (" + ssh_error(sftp->session) + ")";
    default: return ssh_error(sftp->session);
  }
}

// libssh 0.10 has no ServerAliveInterval: TCP keepalive plus TCP_USER_TIMEOUT
// make a dead peer an error within about 3-4 intervals instead of hanging.
void set_keepalive(int fd, int secs) {
  if (fd < 0 || secs <= 0) return;
  int on = 1, cnt = 3;
  unsigned user_timeout_ms = static_cast<unsigned>(secs) * 3000u;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof secs);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

void check_host_key(ssh_session s, const SshTarget& t) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(s, &raw) != SSH_OK)
    throw HostKeyError(who(t) + ": the server sent no host key: " + ssh_error(s));
  KeyPtr key(raw);
  std::string fingerprint = "(unknown)";
  unsigned char* hash = nullptr;
  size_t hash_len = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_len) == SSH_OK) {
    char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_len);
    if (fp) {
      fingerprint = fp;
      ssh_string_free_char(fp);
    }
    ssh_clean_pubkey_hash(&hash);
  }
  const char* type_c = ssh_key_type_to_char(ssh_key_type(key.get()));
  const std::string type = type_c ? type_c : "unknown-type";
  const std::string& kh = t.known_hosts;

  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      return;
    case SSH_KNOWN_HOSTS_CHANGED:
      throw HostKeyError(who(t) + ": host key CHANGED: the server offers " + type + " " + fingerprint + " but " +
                         kh + " pins a different key for it; refusing (possible man-in-the-middle; if the "
                         "host was reinstalled, verify the new key and replace the pinned one)");
    case SSH_KNOWN_HOSTS_OTHER:
      throw HostKeyError(who(t) + ": host key CHANGED: the server offers " + type + " " + fingerprint + " but " +
                         kh + " pins a key of another type for it; refusing (possible man-in-the-middle)");
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (!t.accept_new)
        throw HostKeyError(who(t) + ": host key is not in " + kh + " (fingerprint " + fingerprint +
                           "); pin it or run with --accept-new-host-keys");
      if (ssh_session_update_known_hosts(s) != SSH_OK)
        throw HostKeyError(who(t) + ": cannot record the new host key (" + fingerprint + ") in " + kh + ": " +
                           ssh_error(s));
      spdlog::warn("{}: host key {} {} was not pinned; recorded it in {}", who(t), type, fingerprint, kh);
      return;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      throw HostKeyError(who(t) + ": cannot check the host key against " + kh + ": " + ssh_error(s));
  }
}

// Connected, host key verified, authenticated; blocking mode.
SessionPtr open_session(const SshTarget& t) {
  if (t.known_hosts.empty())
    throw RemoteError(who(t) + ": no known_hosts file given; host keys must be pinned");
  SessionPtr s(ssh_new());
  if (!s) throw RemoteError(who(t) + ": cannot create an SSH session");
  auto set = [&](enum ssh_options_e opt, const void* value, const char* what) {
    if (ssh_options_set(s.get(), opt, value) < 0)
      throw RemoteError(who(t) + ": cannot set SSH option " + what + ": " + ssh_error(s.get()));
  };
  bool process_config = false;  // never read ~/.ssh/config or /etc/ssh/ssh_config
  set(SSH_OPTIONS_PROCESS_CONFIG, &process_config, "ProcessConfig");
  set(SSH_OPTIONS_HOST, t.address.c_str(), "Host");
  unsigned int port = static_cast<unsigned int>(t.port);
  set(SSH_OPTIONS_PORT, &port, "Port");
  set(SSH_OPTIONS_USER, t.user.c_str(), "User");
  // The pinned file is the only source of trust: it also stands in for the
  // global /etc/ssh/ssh_known_hosts.
  set(SSH_OPTIONS_KNOWNHOSTS, t.known_hosts.c_str(), "UserKnownHostsFile");
  set(SSH_OPTIONS_GLOBAL_KNOWNHOSTS, t.known_hosts.c_str(), "GlobalKnownHostsFile");
  int strict = 1;
  set(SSH_OPTIONS_STRICTHOSTKEYCHECK, &strict, "StrictHostKeyChecking");
  long ms = std::max<long>(1, static_cast<long>(t.connect_timeout.count()));
  long secs = ms / 1000, usecs = (ms % 1000) * 1000;
  set(SSH_OPTIONS_TIMEOUT, &secs, "Timeout");
  set(SSH_OPTIONS_TIMEOUT_USEC, &usecs, "TimeoutUsec");
  int one = 1, zero = 0;
  set(SSH_OPTIONS_NODELAY, &one, "NoDelay");
  set(SSH_OPTIONS_PASSWORD_AUTH, &zero, "PasswordAuthentication");
  set(SSH_OPTIONS_KBDINT_AUTH, &zero, "KbdInteractiveAuthentication");
  set(SSH_OPTIONS_GSSAPI_AUTH, &zero, "GSSAPIAuthentication");

  if (ssh_connect(s.get()) != SSH_OK)
    throw RemoteError(who(t) + ": cannot connect: " + ssh_error(s.get()));
  check_host_key(s.get(), t);

  if (!t.identity.empty()) {
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(t.identity.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK)
      throw RemoteError(who(t) + ": cannot load the private key " + t.identity +
                        " (missing, unreadable or passphrase-protected; use ssh-agent for the latter)");
    KeyPtr key(raw);
    int rc = ssh_userauth_publickey(s.get(), nullptr, key.get());
    if (rc != SSH_AUTH_SUCCESS)
      throw RemoteError(who(t) + ": authentication as " + t.user + " with " + t.identity + " failed" +
                        (rc == SSH_AUTH_ERROR ? ": " + ssh_error(s.get()) : std::string(" (key not accepted)")));
  } else {
    int rc = ssh_userauth_publickey_auto(s.get(), nullptr, nullptr);
    if (rc != SSH_AUTH_SUCCESS)
      throw RemoteError(who(t) + ": authentication as " + t.user +
                        " failed (tried ssh-agent and the default keys in ~/.ssh; set an identity file)" +
                        (rc == SSH_AUTH_ERROR ? ": " + ssh_error(s.get()) : std::string()));
  }
  set_keepalive(ssh_get_fd(s.get()), t.keepalive_secs);
  return s;
}

// ---------------------------------------------------------------- forwarding

class SshForward final : public PortForward {
 public:
  SshForward(SessionPtr session, std::string label, std::string remote_host, std::uint16_t remote_port)
      : session_(std::move(session)),
        label_(std::move(label)),
        remote_host_(std::move(remote_host)),
        remote_port_(remote_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const std::string what = label_ + ": forward to " + remote_host_ + ":" + std::to_string(remote_port_);
    if (listen_fd_ < 0) throw RemoteError(what + ": socket: " + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 128) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      int e = errno;
      ::close(listen_fd_);
      throw RemoteError(what + ": cannot listen on 127.0.0.1: " + std::strerror(e));
    }
    port_ = ntohs(a.sin_port);
    if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) {
      int e = errno;
      ::close(listen_fd_);
      throw RemoteError(what + ": pipe: " + std::strerror(e));
    }
    ssh_set_blocking(session_.get(), 0);
    event_ = ssh_event_new();
    if (!event_ || ssh_event_add_session(event_, session_.get()) != SSH_OK) {
      if (event_) ssh_event_free(event_);
      ::close(listen_fd_);
      ::close(wake_[0]);
      ::close(wake_[1]);
      throw RemoteError(what + ": cannot set up the SSH event loop");
    }
    label_ += ": forward 127.0.0.1:" + std::to_string(port_) + " -> " + remote_host_ + ":" + std::to_string(remote_port_);
    thread_ = std::thread([this] { run(); });
  }

  ~SshForward() override {
    stop_ = true;
    char b = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &b, 1);
    if (thread_.joinable()) thread_.join();
    ssh_event_remove_session(event_, session_.get());
    ssh_event_free(event_);
    session_.reset();  // disconnects
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  std::uint16_t local_port() const override { return port_; }

 private:
  struct Conn {
    int fd = -1;
    ssh_channel ch = nullptr;
    int src_port = 0;
    bool open = false;
    std::string to_remote, to_local;
    std::size_t to_remote_off = 0, to_local_off = 0;
    bool local_eof = false, eof_sent = false, write_failed = false;
    bool remote_eof = false, local_shut = false;
    bool done = false;
  };
  static constexpr std::size_t kMaxConns = 256;
  static constexpr std::size_t kChunk = 32 * 1024;

  // Lets libssh read and write the session socket without waiting.
  bool pump() {
    bool any = false;
    for (int i = 0; i < 32; ++i) {
      if (ssh_event_dopoll(event_, 0) != SSH_OK) break;
      any = true;
    }
    return any;
  }

  void fail(Conn& c, const std::string& why) {
    if (!c.done) spdlog::warn("{}: {}", label_, why);
    c.done = true;
  }

  // Moves what can move without waiting; true if anything moved.
  bool step(Conn& c, char* buf) {
    bool progress = false;
    if (!c.open) {
      int rc = ssh_channel_open_forward(c.ch, remote_host_.c_str(), remote_port_, "127.0.0.1", c.src_port);
      if (rc == SSH_AGAIN) return false;
      if (rc != SSH_OK) {
        fail(c, "the SSH server could not connect: " + ssh_error(session_.get()));
        return true;
      }
      c.open = true;
      progress = true;
    }
    // local -> remote
    if (c.to_remote_off == c.to_remote.size() && !c.local_eof && !c.write_failed) {
      ssize_t n = ::recv(c.fd, buf, kChunk, 0);
      if (n > 0) {
        c.to_remote.assign(buf, static_cast<std::size_t>(n));
        c.to_remote_off = 0;
        progress = true;
      } else if (n == 0) {
        c.local_eof = true;
        progress = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c.done = true;  // the local client reset the connection
        return true;
      }
    }
    if (c.to_remote_off < c.to_remote.size() && !c.write_failed) {
      int w = ssh_channel_write(c.ch, c.to_remote.data() + c.to_remote_off,
                                static_cast<uint32_t>(c.to_remote.size() - c.to_remote_off));
      if (w == SSH_ERROR) {
        c.write_failed = true;  // the remote side is gone; still deliver what it sent
        c.to_remote.clear();
        c.to_remote_off = 0;
        progress = true;
      } else if (w > 0) {
        c.to_remote_off += static_cast<std::size_t>(w);
        progress = true;
      }
    }
    if (c.local_eof && c.to_remote_off == c.to_remote.size() && !c.eof_sent && !c.write_failed) {
      ssh_channel_send_eof(c.ch);
      c.eof_sent = true;
      progress = true;
    }
    // remote -> local
    if (c.to_local_off == c.to_local.size() && !c.remote_eof) {
      int n = ssh_channel_read_nonblocking(c.ch, buf, kChunk, 0);
      if (n > 0) {
        c.to_local.assign(buf, static_cast<std::size_t>(n));
        c.to_local_off = 0;
        progress = true;
      } else if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(c.ch))) {
        c.remote_eof = true;
        progress = true;
      } else if (n == SSH_ERROR) {
        c.remote_eof = true;
        c.write_failed = true;
        progress = true;
      }
    }
    if (c.to_local_off < c.to_local.size()) {
      ssize_t n = ::send(c.fd, c.to_local.data() + c.to_local_off, c.to_local.size() - c.to_local_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.to_local_off += static_cast<std::size_t>(n);
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c.done = true;  // the local client went away
        return true;
      }
    }
    if (c.remote_eof && c.to_local_off == c.to_local.size() && !c.local_shut) {
      ::shutdown(c.fd, SHUT_WR);
      c.local_shut = true;
      progress = true;
    }
    bool in_done = c.write_failed || c.eof_sent || ssh_channel_is_closed(c.ch);
    if (c.local_shut && in_done) c.done = true;
    return progress;
  }

  void close_conn(Conn& c) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    if (c.ch) {
      if (c.open && ssh_channel_is_open(c.ch)) ssh_channel_close(c.ch);
      ssh_channel_free(c.ch);  // kept by libssh until the server confirms the close
      c.ch = nullptr;
    }
  }

  void accept_all() {
    while (conns_.size() < kMaxConns) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ssh_channel ch = ssh_is_connected(session_.get()) ? ssh_channel_new(session_.get()) : nullptr;
      if (!ch) {
        if (!dead_logged_) spdlog::error("{}: the SSH session is gone; refusing forwarded connections", label_);
        dead_logged_ = true;
        ::close(fd);
        continue;
      }
      Conn c;
      c.fd = fd;
      c.ch = ch;
      c.src_port = ntohs(peer.sin_port);
      conns_.push_back(std::move(c));
    }
  }

  void run() {
    std::vector<char> buf(kChunk);
    std::vector<pollfd> fds;
    while (!stop_) {
      for (int round = 0; round < 16; ++round) {
        bool progress = pump();
        for (auto& c : conns_) progress |= step(c, buf.data());
        for (auto it = conns_.begin(); it != conns_.end();) {
          if (it->done) {
            close_conn(*it);
            it = conns_.erase(it);
          } else {
            ++it;
          }
        }
        if (!ssh_is_connected(session_.get())) {
          if (!dead_logged_ && !stop_)
            spdlog::error("{}: the SSH session is gone: {}", label_, ssh_error(session_.get()));
          dead_logged_ = true;
          for (auto& c : conns_) close_conn(c);
          conns_.clear();
        }
        if (!progress) break;
      }

      fds.clear();
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listen_fd_, static_cast<short>(conns_.size() < kMaxConns ? POLLIN : 0), 0});
      int sfd = ssh_get_fd(session_.get());
      bool busy = false;
      if (sfd >= 0 && ssh_is_connected(session_.get())) {
        short ev = POLLIN;
        if (ssh_get_poll_flags(session_.get()) & SSH_WRITE_PENDING) ev |= POLLOUT;
        fds.push_back({sfd, ev, 0});
      }
      for (auto& c : conns_) {
        short ev = 0;
        if (!c.open) busy = true;
        if (c.open && c.to_remote_off == c.to_remote.size() && !c.local_eof && !c.write_failed) ev |= POLLIN;
        if (c.to_remote_off < c.to_remote.size()) busy = true;  // waiting for window
        if (c.to_local_off < c.to_local.size()) ev |= POLLOUT;
        fds.push_back({ev ? c.fd : -1, ev, 0});  // not polled: a hang-up would only spin
      }
      // The session fd wakes us for everything libssh waits on; the short
      // timeout when busy only guards against a missed wake-up.
      ::poll(fds.data(), fds.size(), busy ? 20 : 1000);
      if (fds[0].revents & POLLIN) {
        char drain[64];
        while (::read(wake_[0], drain, sizeof drain) > 0) {
        }
      }
      if (stop_) break;
      if (fds[1].revents & POLLIN) accept_all();
    }
    for (auto& c : conns_) close_conn(c);
    conns_.clear();
    pump();  // send the closes
  }

  SessionPtr session_;
  std::string label_, remote_host_;
  std::uint16_t remote_port_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  ssh_event event_ = nullptr;
  std::list<Conn> conns_;
  bool dead_logged_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------- host

class SshHost final : public RemoteHost {
 public:
  SshHost(SshTarget target, SessionPtr session) : target_(std::move(target)), session_(std::move(session)) {}
  ~SshHost() override {
    shell_.reset();
    sftp_.reset();
    session_.reset();
  }

  const std::string& name() const override { return target_.name; }

  ExecResult exec(const std::string& command, std::chrono::milliseconds timeout,
                  std::string_view stdin_data) override {
    const auto deadline = Clock::now() + timeout;
    if (target_.command_shell && !shell_unusable_ && stdin_data.size() <= kShellStdinMax) {
      if (shell_ && (ssh_channel_is_eof(shell_.get()) || ssh_channel_is_closed(shell_.get()))) shell_.reset();
      if (!shell_) open_shell(deadline);
      if (shell_) return shell_exec(command, timeout, deadline, stdin_data);
    }
    return channel_exec(command, timeout, deadline, stdin_data);
  }

  void upload(const std::filesystem::path& local, const std::string& remote_path, unsigned mode) override {
    const std::string what = target_.name + ": upload of " + local.string() + " to " + remote_path;
    std::ifstream in(local, std::ios::binary);
    if (!in) throw RemoteError(what + ": cannot read the local file");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw RemoteError(what + ": reading the local file failed");
    const std::string tmp = remote_path + ".upload-" + random_hex(8);
    try {
      unsigned char digest[crypto_hash_sha256_BYTES];
      crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
      const std::string local_hex = to_hex(std::span<const std::uint8_t>(digest, sizeof digest));
      // Streamed on the exec channel's stdin (window-sized writes, no per-chunk
      // round trip like SFTP's), then hashed on the host in the same command.
      auto sum = exec("umask 077 && { cat > " + shell_quote(tmp) + " || exit 90; } && sha256sum -- " + shell_quote(tmp), 600s, bytes);
      if (sum.exit_code == 90)
        throw RemoteError(what + ": cannot create " + tmp + ": " + trim_end(sum.err));
      if (sum.exit_code != 0)
        throw RemoteError(what + ": sha256sum failed (exit " + std::to_string(sum.exit_code) + "): " + trim_end(sum.err));
      std::string remote_hex = sum.out.substr(0, std::min<std::size_t>(64, sum.out.size()));
      if (remote_hex != local_hex)
        throw RemoteError(what + ": sha256 mismatch (local " + local_hex + ", on the host " +
                          (remote_hex.empty() ? std::string("nothing") : remote_hex) + "); not installed");

      char mode_text[16];
      std::snprintf(mode_text, sizeof mode_text, "%04o", mode & 07777u);
      auto mv = exec(std::string("chmod ") + mode_text + " -- " + shell_quote(tmp) + " && mv -f -T -- " +
                         shell_quote(tmp) + " " + shell_quote(remote_path),
                     60s, {});
      if (mv.exit_code != 0)
        throw RemoteError(what + ": install failed (exit " + std::to_string(mv.exit_code) + "): " + trim_end(mv.err));
    } catch (...) {
      remove_quietly(tmp);
      throw;
    }
  }

  std::string read_file(const std::string& remote_path, std::size_t max_bytes) override {
    const std::string what = target_.name + ": cannot read " + remote_path;
    sftp_session sf = sftp();
    sftp_attributes a = sftp_stat(sf, remote_path.c_str());
    if (!a) throw RemoteError(what + ": " + sftp_error_text(sf));
    const auto size = a->size;
    const auto type = a->type;
    sftp_attributes_free(a);
    if (type == SSH_FILEXFER_TYPE_DIRECTORY) throw RemoteError(what + ": it is a directory");
    if (size > max_bytes)
      throw RemoteError(what + ": it is " + std::to_string(size) + " bytes, more than the limit of " +
                        std::to_string(max_bytes));
    SftpFilePtr f(sftp_open(sf, remote_path.c_str(), O_RDONLY, 0));
    if (!f) throw RemoteError(what + ": " + sftp_error_text(sf));
    std::string data;
    std::vector<char> buf(16 * 1024);
    for (;;) {
      ssize_t n = sftp_read(f.get(), buf.data(), buf.size());
      if (n < 0) throw RemoteError(what + ": " + sftp_error_text(sf));
      if (n == 0) break;
      data.append(buf.data(), static_cast<std::size_t>(n));
      if (data.size() > max_bytes)
        throw RemoteError(what + ": it is more than the limit of " + std::to_string(max_bytes) + " bytes");
    }
    return data;
  }

  std::unique_ptr<PortForward> forward(const std::string& remote_host, std::uint16_t remote_port) override {
    SessionPtr s = open_session(target_);
    return std::make_unique<SshForward>(std::move(s), target_.name, remote_host, remote_port);
  }

 private:
  // The SFTP session, opened on first use and reopened if its channel died.
  sftp_session sftp() {
    if (sftp_ && (!ssh_channel_is_open(sftp_->channel) || ssh_channel_is_eof(sftp_->channel))) sftp_.reset();
    if (!sftp_) {
      SftpPtr sf(sftp_new(session_.get()));
      if (!sf) throw RemoteError(target_.name + ": cannot start SFTP: " + ssh_error(session_.get()));
      if (sftp_init(sf.get()) != SSH_OK)
        throw RemoteError(target_.name + ": cannot start SFTP: " + ssh_error(session_.get()));
      sftp_ = std::move(sf);
    }
    return sftp_.get();
  }

  // One exec channel per command: the login shell starts for each one.
  ExecResult channel_exec(const std::string& command, std::chrono::milliseconds timeout, Clock::time_point deadline,
                          std::string_view stdin_data) {
    ssh_session s = session_.get();
    ChannelPtr ch(ssh_channel_new(s));
    if (!ch) throw RemoteError(target_.name + ": cannot create a channel: " + ssh_error(s));
    if (ssh_channel_open_session(ch.get()) != SSH_OK)
      throw RemoteError(target_.name + ": cannot open a session channel: " + ssh_error(s));
    if (ssh_channel_request_exec(ch.get(), command.c_str()) != SSH_OK)
      throw RemoteError(target_.name + ": cannot run `" + command_head(command) + "`: " + ssh_error(s));

    ExecResult r;
    std::size_t in_off = 0;
    const std::string what = "running `" + command_head(command) + "`";
    if (!pump(ch.get(), stdin_data, in_off, r.out, r.err, deadline, [] { return false; }, what, true) &&
        !ssh_channel_is_eof(ch.get()) && !ssh_channel_is_closed(ch.get())) {
      ssh_channel_request_send_signal(ch.get(), "TERM");  // best effort (OpenSSH >= 7.9)
      throw RemoteError(target_.name + ": `" + command_head(command) + "` timed out after " +
                        std::to_string(timeout.count()) + " ms");
    }
    std::vector<char> buf(32 * 1024);
    for (int stream = 0; stream < 2; ++stream) {  // whatever arrived with the close
      int n;
      while ((n = ssh_channel_read_nonblocking(ch.get(), buf.data(), static_cast<uint32_t>(buf.size()), stream)) > 0)
        (stream ? r.err : r.out).append(buf.data(), static_cast<std::size_t>(n));
    }
    r.exit_code = ssh_channel_get_exit_status(ch.get());
    if (r.exit_code == SSH_ERROR) r.exit_code = -1;
    return r;
  }


  // ---- the command shell (see ssh_remote.h): `exec /bin/sh` on one channel,
  // each command framed by random markers on both streams.
  static constexpr std::size_t kShellStdinMax = 1 << 20;

  // Writes `in` as far as the channel window allows (never blocking on it;
  // then EOF if send_eof), reads both streams into out/err, until done() (true)
  // or the channel ends or the deadline (false). A write refused because the
  // remote side closed its stdin ends the writing, not the call (it did not
  // want the rest). A lost connection is a RemoteError.
  bool pump(ssh_channel ch, std::string_view in, std::size_t& in_off, std::string& out, std::string& err,
            Clock::time_point deadline, const std::function<bool()>& done, const std::string& what,
            bool send_eof = false) {
    ssh_session s = session_.get();
    std::vector<char> buf(32 * 1024);
    bool eof_sent = !send_eof;
    for (;;) {
      while (in_off < in.size()) {
        uint32_t window = ssh_channel_window_size(ch);
        if (window == 0) break;
        std::size_t n = std::min<std::size_t>({window, 256 * 1024, in.size() - in_off});
        int w = ssh_channel_write(ch, in.data() + in_off, static_cast<uint32_t>(n));
        if (w == SSH_ERROR) {
          in_off = in.size();
          eof_sent = true;
          break;
        }
        if (w == 0) break;
        in_off += static_cast<std::size_t>(w);
      }
      if (in_off == in.size() && !eof_sent) {
        ssh_channel_send_eof(ch);
        eof_sent = true;
      }
      for (int stream = 0; stream < 2; ++stream) {
        for (;;) {
          int n = ssh_channel_read_nonblocking(ch, buf.data(), static_cast<uint32_t>(buf.size()), stream);
          if (n > 0) (stream ? err : out).append(buf.data(), static_cast<std::size_t>(n));
          else if (n == SSH_ERROR) throw RemoteError(target_.name + ": connection lost while " + what + ": " + ssh_error(s));
          else break;
        }
      }
      if (done()) return true;
      if (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch)) return false;
      auto now = Clock::now();
      if (now >= deadline) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      // While input is pending, only wait briefly for the window to open again.
      auto slice = std::min<std::chrono::milliseconds>(left, in_off < in.size() ? 1ms : 100ms);
      if (ssh_channel_poll_timeout(ch, static_cast<int>(std::max<long>(1, slice.count())), 0) == SSH_ERROR)
        throw RemoteError(target_.name + ": connection lost while " + what + ": " + ssh_error(s));
    }
  }

  // Starts the shell. One that ends at once (a login shell that cannot run
  // `exec /bin/sh`, a forced command) is marked unusable and every command
  // gets its own channel, as without it; one that does not answer before the
  // command's deadline (a slow login shell) is that command's timeout.
  void open_shell(Clock::time_point deadline) {
    ssh_session s = session_.get();
    ChannelPtr ch(ssh_channel_new(s));
    if (!ch) throw RemoteError(target_.name + ": cannot create a channel: " + ssh_error(s));
    if (ssh_channel_open_session(ch.get()) != SSH_OK)
      throw RemoteError(target_.name + ": cannot open a session channel: " + ssh_error(s));
    if (ssh_channel_request_exec(ch.get(), "exec /bin/sh") != SSH_OK) {
      spdlog::debug("{}: no command shell ({}); one channel per command", target_.name, ssh_error(s));
      shell_unusable_ = true;
      return;
    }
    // Whatever the login shell's rc files print comes before the marker.
    const std::string m = "x0x-" + random_hex(8);
    const std::string hello = "printf '\\n%s %s\\n' " + m + " $$; printf '\\n%s\\n' " + m + " >&2\n";
    std::string out, err;
    std::size_t off = 0;
    const std::string out_mark = "\n" + m + " ", err_mark = "\n" + m + "\n";
    auto ready = [&] {
      auto p = out.find(out_mark);
      return p != std::string::npos && out.find('\n', p + out_mark.size()) != std::string::npos &&
             err.find(err_mark) != std::string::npos;
    };
    if (!pump(ch.get(), hello, off, out, err, deadline, ready, "starting the command shell")) {
      if (!ssh_channel_is_eof(ch.get()) && !ssh_channel_is_closed(ch.get()))
        throw RemoteError(target_.name + ": the command shell did not start before the command's deadline (a slow login shell?)");
      spdlog::debug("{}: the command shell ended at once ({}); one channel per command", target_.name, one_line(err, 200));
      shell_unusable_ = true;
      return;
    }
    auto p = out.find(out_mark) + out_mark.size();
    shell_pid_ = std::atol(out.c_str() + p);
    shell_ = std::move(ch);
  }

  ExecResult shell_exec(const std::string& command, std::chrono::milliseconds timeout, Clock::time_point deadline,
                        std::string_view stdin_data) {
    const std::string m = "x0x-" + random_hex(8);
    std::string text = "printf '%s\\n' " + m + "; printf '%s\\n' " + m + " >&2\n";
    if (stdin_data.empty()) {
      text += "sh -c " + shell_quote(command) + " </dev/null\n";
    } else {
      text += "base64 -d <<'" + m + "-in' | sh -c " + shell_quote(command) + "\n";
      auto b64 = base64_encode(stdin_data);
      for (std::size_t i = 0; i < b64.size(); i += 76) text.append(b64, i, 76).push_back('\n');
      text += m + "-in\n";
    }
    text += "printf '\\n%s %d\\n' " + m + " $?; printf '\\n%s\\n' " + m + " >&2\n";
    const std::string start = m + "\n", out_end = "\n" + m + " ", err_end = "\n" + m + "\n";
    std::string out, err;
    std::size_t off = 0;
    // Output is what lies between the markers: anything a background process
    // of an earlier command printed in between is dropped. Each search
    // resumes where the last one stopped (outputs may be megabytes).
    struct Frame {
      std::size_t begin = std::string::npos, end = std::string::npos, scanned = 0;
      // Finds `mark` in buf, from where the last call stopped.
      static std::size_t find(const std::string& buf, const std::string& mark, std::size_t floor, std::size_t& scanned) {
        auto from = std::max(floor, scanned >= mark.size() ? scanned - mark.size() + 1 : 0);
        auto p = buf.find(mark, from);
        scanned = buf.size();
        return p;
      }
      bool advance(const std::string& buf, const std::string& first, const std::string& last) {
        if (begin == std::string::npos) {
          auto p = find(buf, first, 0, scanned);
          if (p == std::string::npos) return false;
          begin = p + first.size();
          scanned = begin;
        }
        if (end == std::string::npos) end = find(buf, last, begin, scanned);
        return end != std::string::npos;
      }
    } fo, fe;
    auto framed = [&] {
      bool o = fo.advance(out, start, out_end), e = fe.advance(err, start, err_end);
      return o && e && out.find('\n', fo.end + out_end.size()) != std::string::npos;
    };
    const std::string what = "running `" + command_head(command) + "`";
    bool ok;
    try {
      ok = pump(shell_.get(), text, off, out, err, deadline, framed, what);
    } catch (...) {
      shell_.reset();
      throw;
    }
    if (!ok) {
      bool ended = ssh_channel_is_eof(shell_.get()) || ssh_channel_is_closed(shell_.get());
      stop_shell();
      if (ended)
        throw RemoteError(target_.name + ": the remote shell ended while running `" + command_head(command) + "`" +
                          (err.empty() ? std::string() : ": " + one_line(err, 200)));
      throw RemoteError(target_.name + ": `" + command_head(command) + "` timed out after " +
                        std::to_string(timeout.count()) + " ms");
    }
    ExecResult r;
    r.out = out.substr(fo.begin, fo.end - fo.begin);
    r.exit_code = std::atoi(out.c_str() + fo.end + out_end.size());
    r.err = err.substr(fe.begin, fe.end - fe.begin);
    return r;
  }

  // After a timeout: the command and the shell share the shell's process
  // group (sshd made it a session leader), so one kill stops both; daemons
  // a command started with setsid are not in it.
  void stop_shell() noexcept {
    shell_.reset();
    if (shell_pid_ <= 1) return;
    try {
      channel_exec("kill -s TERM -- -" + std::to_string(shell_pid_) + " 2>/dev/null; true", 5s, Clock::now() + 5s, {});
    } catch (const std::exception& e) {
      spdlog::debug("{}: stopping the command shell: {}", target_.name, e.what());
    }
    shell_pid_ = 0;
  }

  void remove_quietly(const std::string& path) noexcept {
    try {
      exec("rm -f -- " + shell_quote(path), 30s, {});
    } catch (const std::exception& e) {
      spdlog::warn("{}: could not remove {}: {}", target_.name, path, e.what());
    }
  }

  SshTarget target_;
  SessionPtr session_;
  SftpPtr sftp_;
  ChannelPtr shell_;
  long shell_pid_ = 0;
  bool shell_unusable_ = false;
};

}  // namespace

std::unique_ptr<RemoteHost> ssh_connect(const SshTarget& target) {
  return std::make_unique<SshHost>(target, open_session(target));
}

}  // namespace x0x::orchestrator
