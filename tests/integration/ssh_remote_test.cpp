// The SSH layer against a real sshd on loopback (tests/support/sshd_fixture.h).
// The "remote" host is this machine, so results are also checked directly on
// the local file system.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "core/encoding.h"
#include "core/sha256.h"
#include "orchestrator/control/ssh_remote.h"
#include "probes/rest_client.h"
#include "tests/support/cli_runner.h"
#include "tests/support/files.h"
#include "tests/support/sshd_fixture.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using x0x::orchestrator::HostKeyError;
using x0x::orchestrator::RemoteError;
using x0x::orchestrator::ssh_connect;
using x0x::testing::SshdFixture;
using Catch::Matchers::Contains;

using x0x::testing::slurp;
using x0x::testing::write_file;

using x0x::sha256_hex;

namespace {

std::string random_content(std::size_t n) {
  auto b = x0x::random_bytes(n);
  return std::string(b.begin(), b.end());
}

// Names in dir containing ".upload-".
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".upload-") != std::string::npos) out.push_back(e.path().string());
  return out;
}

std::string run_capture(const std::string& cmd) { return x0x::testing::run_shell(cmd).out; }

int connect_local(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits up to `limit` for readable data; the bytes read, 0 on EOF, -1 on
// timeout or error.
ssize_t recv_within(int fd, char* buf, std::size_t len, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return -1;
  return ::recv(fd, buf, len, 0);
}

// A tiny HTTP server on 127.0.0.1: "/stream" is an endless event stream (a
// tick every 20 ms); any other path answers "path=<path>\n" plus 100 KB.
class TinyHttpServer {
 public:
  static constexpr std::size_t kBigSize = 24 * 1024 * 1024;
  TinyHttpServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listen_fd_, 128) == 0);
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    REQUIRE(::pipe(stop_pipe_) == 0);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~TinyHttpServer() {
    stop_ = true;
    [[maybe_unused]] auto n = ::write(stop_pipe_[1], "x", 1);
    acceptor_.join();
    {
      std::lock_guard lk(mu_);
      for (int fd : clients_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : handlers_) t.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }
  std::uint16_t port() const { return port_; }
  int requests() const { return requests_; }

 private:
  void accept_loop() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      ::poll(p, 2, -1);
      if (stop_) return;
      if (!(p[0].revents & POLLIN)) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lk(mu_);
      clients_.push_back(fd);
      handlers_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<std::size_t>(n));
    }
    ++requests_;
    auto sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
    std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
    if (path == "/stream") {
      std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
      if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) < 0) return;
      for (int i = 0; !stop_; ++i) {
        std::string ev = "data: tick " + std::to_string(i) + "\n\n";
        if (::send(fd, ev.data(), ev.size(), MSG_NOSIGNAL) < 0) return;
        std::this_thread::sleep_for(20ms);
      }
      return;
    }
    std::string body;
    if (path == "/big") {
      body = std::string(kBigSize, 'b');
    } else if (path == "/echo") {  // answers the sha256 of the request body
      auto cl = req.find("Content-Length: ");
      std::size_t want = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
      std::string got = req.substr(req.find("\r\n\r\n") + 4);
      while (got.size() < want) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        got.append(buf, static_cast<std::size_t>(n));
      }
      body = sha256_hex(got);
    } else {
      body = "path=" + path + "\n" + std::string(100000, 'x');
    }
    std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
    std::size_t off = 0;
    while (off < resp.size()) {
      ssize_t n = ::send(fd, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    while (::recv(fd, buf, sizeof buf, 0) > 0) {
    }
  }

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<int> clients_;  // closed by the handlers' owner at the end
  std::vector<std::thread> handlers_;
  std::thread acceptor_;
};

// An SSE-like reader on its own socket through the forward.
struct StreamReader {
  explicit StreamReader(std::uint16_t port) {
    fd = connect_local(port);
    REQUIRE(fd >= 0);
    std::string req = "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
    thread = std::thread([this] {
      char buf[4096];
      for (;;) {
        ssize_t n = recv_within(fd, buf, sizeof buf, 10s);
        if (n <= 0) break;
        std::lock_guard lk(mu);
        text.append(buf, static_cast<std::size_t>(n));
      }
      ended = true;
    });
  }
  ~StreamReader() {
    ::shutdown(fd, SHUT_RDWR);
    if (thread.joinable()) thread.join();
    ::close(fd);
  }
  int ticks() {
    std::lock_guard lk(mu);
    int n = 0;
    for (auto p = text.find("data: tick"); p != std::string::npos; p = text.find("data: tick", p + 1)) ++n;
    return n;
  }
  bool wait_ticks(int n, std::chrono::milliseconds limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (ticks() >= n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return ticks() >= n;
  }
  int fd = -1;
  std::mutex mu;
  std::string text;
  std::atomic<bool> ended{false};
  std::thread thread;
};

}  // namespace

TEST_CASE("ssh: exec returns exit code, stdout and stderr, and honours stdin and timeouts") {
  SshdFixture sshd;
  auto target = sshd.target("nyc");
  target.command_shell = GENERATE(true, false);
  INFO("command shell: " << target.command_shell);
  auto host = ssh_connect(target);
  CHECK(host->name() == "nyc");

  auto r = host->exec("echo out; echo err >&2; exit 3", 10s);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");

  CHECK(host->exec("true", 10s).exit_code == 0);
  // exact bytes: no trailing newline, NULs, quotes; small binary stdin
  CHECK(host->exec("printf 'a\\000b'\"'\"", 10s).out == std::string("a\0b'", 4));
  const std::string small = random_content(70000) + "\nno newline at the end";
  r = host->exec("cat; echo done >&2", 10s, small);
  CHECK(r.exit_code == 0);
  CHECK(r.out == small);
  CHECK(r.err == "done\n");

  // stdin, much larger than the channel window, then EOF
  const std::string input = random_content(3 * 1024 * 1024);
  r = host->exec("sha256sum", 30s, input);
  CHECK(r.exit_code == 0);
  CHECK(r.out.substr(0, 64) == sha256_hex(input));
  r = host->exec("cat", 30s, input);
  CHECK(r.exit_code == 0);
  CHECK(r.out == input);

  // a command that never reads its stdin does not hang the call
  auto t0 = std::chrono::steady_clock::now();
  r = host->exec("exit 0", 10s, input);
  CHECK(r.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);

  // large stdout and stderr together
  r = host->exec("head -c 4000000 /dev/zero; head -c 1000000 /dev/zero >&2", 30s);
  CHECK(r.out.size() == 4000000);
  CHECK(r.err.size() == 1000000);

  // timeout: the call returns at the deadline and the host stays usable
  t0 = std::chrono::steady_clock::now();
  try {
    host->exec("sleep 30", 500ms);
    FAIL("no timeout");
  } catch (const RemoteError& e) {
    CHECK_THAT(e.what(), Contains("nyc") && Contains("sleep 30") && Contains("timed out after 500 ms"));
  }
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 450ms);
  CHECK(took < 5s);
  CHECK(host->exec("echo still-here", 10s).out == "still-here\n");
}

TEST_CASE("ssh: the command shell starts the login shell once, survives bad commands, and a timeout stops the command") {
  // A ForceCommand that counts login-shell starts and prints a banner before
  // running what the client asked for, as a chatty ~/.bashrc would, then
  // runs it with /bin/sh, as for an account whose login shell is dash.
  x0x::testing::TempDir tmp;
  const auto starts = tmp.path / "starts";
  SshdFixture sshd({"ForceCommand echo x >> '" + starts.string() +
                    "'; echo banner-out; echo banner-err >&2; exec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\""});
  auto host = ssh_connect(sshd.target("nyc"));

  auto first = host->exec("echo $PPID", 10s);
  CHECK(first.out != "");
  for (int i = 0; i < 5; ++i) {
    auto r = host->exec("echo $PPID; echo e >&2", 10s);
    CHECK(r.out == first.out);  // the same shell ran every command
    CHECK(r.err == "e\n");     // the banner is not part of any output
  }
  CHECK(slurp(starts) == "x\n");  // one login shell for six commands

  // a syntax error, `exit`, and a command that changes directory stay in their own sh -c
  CHECK(host->exec("echo 'unbalanced", 10s).exit_code != 0);
  CHECK(host->exec("cd /; exit 7", 10s).exit_code == 7);
  CHECK(host->exec("pwd", 10s).out != "/\n");
  CHECK(host->exec("echo $PPID", 10s).out == first.out);

  // what a background process prints between two commands (no newline either) belongs to neither
  const auto flag = tmp.path / "printed";
  CHECK(host->exec("(sleep 0.2; printf stray; printf stray >&2; touch '" + flag.string() + "') &", 10s).exit_code == 0);
  auto printed_by = std::chrono::steady_clock::now() + 10s;
  while (!fs::exists(flag) && std::chrono::steady_clock::now() < printed_by) std::this_thread::sleep_for(10ms);
  REQUIRE(fs::exists(flag));
  auto after = host->exec("echo ok; echo e >&2", 10s);
  CHECK(after.out == "ok\n");
  CHECK(after.err == "e\n");

  // a timeout stops the command itself, and the next command gets a new shell
  const auto pidfile = tmp.path / "sleep.pid";
  CHECK_THROWS_WITH(host->exec("echo $$ > '" + pidfile.string() + "'; exec sleep 30", 500ms), Contains("timed out after 500 ms"));
  const int pid = std::stoi(slurp(pidfile));
  auto until = std::chrono::steady_clock::now() + 5s;
  while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  CHECK(::kill(pid, 0) != 0);
  auto second = host->exec("echo $PPID", 10s);
  CHECK(second.exit_code == 0);
  CHECK(second.out != first.out);

  // a command that kills the shell is an error naming it; the next one works
  CHECK_THROWS_WITH(host->exec("kill -9 $PPID", 10s), Contains("nyc") && Contains("remote shell ended"));
  CHECK(host->exec("echo again", 10s).out == "again\n");

  // without the command shell, every command starts a login shell (and gets its banner)
  auto target = sshd.target("nyc");
  target.command_shell = false;
  auto plain = ssh_connect(target);
  auto before = slurp(starts).size();
  plain->exec("true", 10s);
  plain->exec("true", 10s);
  CHECK(slurp(starts).size() == before + 4);
  CHECK(plain->exec("true", 10s).out == "banner-out\n");
}

TEST_CASE("ssh: upload lands atomically with the right mode and sha256") {
  SshdFixture sshd;
  auto host = ssh_connect(sshd.target("nyc"));
  const fs::path remote_dir = sshd.dir() / "opt";
  fs::create_directories(remote_dir);
  const fs::path local = sshd.dir() / "artifact";
  const std::string content = random_content(5 * 1024 * 1024 + 123);
  write_file(local, content);
  const fs::path dest = remote_dir / "x0xd";

  host->upload(local, dest.string(), 0755);
  CHECK(slurp(dest) == content);
  CHECK((fs::status(dest).permissions() & fs::perms::mask) == fs::perms(0755));
  auto sum = host->exec("sha256sum " + x0x::orchestrator::shell_quote(dest.string()), 10s);
  CHECK(sum.out.substr(0, 64) == sha256_hex(content));
  CHECK(temp_files(remote_dir).empty());

  // Replacing: a new inode moved into place (a reader of the old file keeps
  // the old bytes), mode as asked.
  struct stat before {};
  REQUIRE(::stat(dest.c_str(), &before) == 0);
  std::ifstream old_reader(dest, std::ios::binary);
  const std::string content2 = random_content(2 * 1024 * 1024);
  write_file(local, content2);
  host->upload(local, dest.string(), 0640);
  struct stat after {};
  REQUIRE(::stat(dest.c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);
  CHECK(slurp(dest) == content2);
  CHECK((fs::status(dest).permissions() & fs::perms::mask) == fs::perms(0640));
  std::stringstream old_bytes;
  old_bytes << old_reader.rdbuf();
  CHECK(old_bytes.str() == content);
  CHECK(temp_files(remote_dir).empty());

  // An empty file, and a name that needs quoting.
  write_file(local, "");
  const fs::path odd = remote_dir / "it's a name";
  host->upload(local, odd.string(), 0600);
  CHECK(fs::exists(odd));
  CHECK(fs::file_size(odd) == 0);
  CHECK(temp_files(remote_dir).empty());
}

TEST_CASE("ssh: a failed or corrupt upload leaves no temporary file") {
  const fs::path fake = fs::temp_directory_path() / ("x0x-fakebin-" + x0x::random_hex(6));
  fs::create_directories(fake);
  // A sha256sum on the remote PATH that reports a wrong digest: the stand-in
  // for a transfer that arrived corrupted.
  write_file(fake / "sha256sum",
             "#!/bin/sh\n"
             "echo 0000000000000000000000000000000000000000000000000000000000000000\"  $2\"\n");
  fs::permissions(fake / "sha256sum", fs::perms(0755));
  struct FakeDirGuard {
    fs::path p;
    ~FakeDirGuard() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } guard{fake};

  const std::string content = random_content(1024 * 1024);

  SECTION("the host's sha256 differs") {
    SshdFixture sshd({"SetEnv PATH=" + fake.string() + ":/usr/local/bin:/usr/bin:/bin"});
    auto host = ssh_connect(sshd.target("nyc"));
    REQUIRE_THAT(host->exec("command -v sha256sum", 10s).out, Contains(fake.string()));
    const fs::path remote_dir = sshd.dir() / "opt";
    fs::create_directories(remote_dir);
    write_file(sshd.dir() / "artifact", content);
    const fs::path dest = remote_dir / "x0xd";
    write_file(dest, "the old binary");
    try {
      host->upload(sshd.dir() / "artifact", dest.string(), 0755);
      FAIL("corrupt upload accepted");
    } catch (const RemoteError& e) {
      CHECK_THAT(e.what(), Contains("nyc") && Contains("sha256 mismatch") && Contains(sha256_hex(content)) &&
                               Contains("not installed"));
    }
    CHECK(slurp(dest) == "the old binary");
    CHECK(temp_files(remote_dir).empty());
  }

  SECTION("the install step fails (destination is a directory)") {
    SshdFixture sshd;
    auto host = ssh_connect(sshd.target("nyc"));
    const fs::path remote_dir = sshd.dir() / "opt";
    fs::create_directories(remote_dir / "x0xd" / "inside");
    write_file(sshd.dir() / "artifact", content);
    try {
      host->upload(sshd.dir() / "artifact", (remote_dir / "x0xd").string(), 0755);
      FAIL("upload over a directory succeeded");
    } catch (const RemoteError& e) {
      CHECK_THAT(e.what(), Contains("nyc") && Contains("install failed"));
    }
    CHECK(fs::is_directory(remote_dir / "x0xd" / "inside"));
    CHECK(temp_files(remote_dir).empty());
    CHECK(fs::is_empty(remote_dir / "x0xd" / "inside"));
  }

  SECTION("the remote directory does not exist, the local file does not exist") {
    SshdFixture sshd;
    auto host = ssh_connect(sshd.target("nyc"));
    write_file(sshd.dir() / "artifact", content);
    CHECK_THROWS_WITH(host->upload(sshd.dir() / "artifact", (sshd.dir() / "nope" / "x0xd").string(), 0755),
                      Contains("nyc") && Contains("cannot create"));
    CHECK_THROWS_WITH(host->upload(sshd.dir() / "missing", (sshd.dir() / "x0xd").string(), 0755),
                      Contains("cannot read the local file"));
    CHECK(temp_files(sshd.dir()).empty());
    // the session is still fine afterwards
    CHECK(host->exec("echo ok", 10s).out == "ok\n");
  }
}

TEST_CASE("ssh: read_file reads small files and refuses missing or large ones") {
  SshdFixture sshd;
  auto host = ssh_connect(sshd.target("nyc"));
  const std::string token = x0x::random_hex(32);
  write_file(sshd.dir() / "api-token", token);
  CHECK(host->read_file((sshd.dir() / "api-token").string()) == token);
  write_file(sshd.dir() / "empty", "");
  CHECK(host->read_file((sshd.dir() / "empty").string()).empty());

  const std::string big = random_content(200000);
  write_file(sshd.dir() / "big", big);
  CHECK(host->read_file((sshd.dir() / "big").string(), 200000) == big);
  try {
    host->read_file((sshd.dir() / "big").string(), 1000);
    FAIL("large file read");
  } catch (const RemoteError& e) {
    CHECK_THAT(e.what(), Contains("nyc") && Contains("big") && Contains("limit of 1000"));
  }
  try {
    host->read_file((sshd.dir() / "missing").string());
    FAIL("missing file read");
  } catch (const RemoteError& e) {
    CHECK_THAT(e.what(), Contains("nyc") && Contains("missing") && Contains("no such file"));
  }
  CHECK_THROWS_AS(host->read_file(sshd.dir().string()), RemoteError);
  CHECK(host->read_file((sshd.dir() / "api-token").string()) == token);  // still usable
}

TEST_CASE("ssh: a forward serves concurrent requests and streams, and stops promptly") {
  SshdFixture sshd;
  TinyHttpServer http;
  auto host = ssh_connect(sshd.target("nyc"));
  auto fwd = host->forward("127.0.0.1", http.port());
  REQUIRE(fwd->local_port() != 0);
  REQUIRE(fwd->local_port() != http.port());

  // Two long-lived event streams, then REST load beside them.
  StreamReader s1(fwd->local_port()), s2(fwd->local_port());
  REQUIRE(s1.wait_ticks(3));
  REQUIRE(s2.wait_ticks(3));

  constexpr int kClients = 10, kRequests = 5;
  std::atomic<int> good{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      try {
        x0x::probes::RestClient rc("http://127.0.0.1:" + std::to_string(fwd->local_port()), "", 20s);
        for (int j = 0; j < kRequests; ++j) {
          std::string path = "/c" + std::to_string(i) + "/r" + std::to_string(j);
          auto resp = rc.get(path);
          if (resp.status == 200 && resp.body == "path=" + path + "\n" + std::string(100000, 'x'))
            ++good;
          else
            failures[i] = "status " + std::to_string(resp.status) + ", " + std::to_string(resp.body.size()) + " bytes";
        }
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
    });
  }
  // The RemoteHost stays usable for exec while the forward is busy.
  CHECK(host->exec("echo busy", 10s).out == "busy\n");
  for (auto& t : clients) t.join();
  for (auto& f : failures) CHECK(f.empty());
  CHECK(good == kClients * kRequests);

  // Bulk both ways: flow control over the channel windows.
  {
    auto t0 = std::chrono::steady_clock::now();
    x0x::probes::RestClient rc("http://127.0.0.1:" + std::to_string(fwd->local_port()), "", 30s);
    auto big = rc.get("/big");
    CHECK(big.status == 200);
    CHECK(big.body.size() == TinyHttpServer::kBigSize);
    CHECK(big.body.find_first_not_of('b') == std::string::npos);
    const std::string payload = random_content(8 * 1024 * 1024);
    auto echo = rc.post("/echo", payload, "application/octet-stream");
    CHECK(echo.status == 200);
    CHECK(echo.body == sha256_hex(payload));
    CHECK(std::chrono::steady_clock::now() - t0 < 20s);
  }

  // The streams are still alive after the load.
  int before1 = s1.ticks(), before2 = s2.ticks();
  CHECK(s1.wait_ticks(before1 + 3));
  CHECK(s2.wait_ticks(before2 + 3));

  // A forward to a port nobody listens on: the connection is closed, and the
  // forward keeps working for the next one.
  {
    auto dead = host->forward("127.0.0.1", 1);
    int fd = connect_local(dead->local_port());
    REQUIRE(fd >= 0);
    char buf[16];
    CHECK(recv_within(fd, buf, sizeof buf, 5s) <= 0);
    ::close(fd);
  }
  {
    x0x::probes::RestClient rc("http://127.0.0.1:" + std::to_string(fwd->local_port()), "", 10s);
    CHECK(rc.get("/after").status == 200);
  }

  // Destroying the forward with streams open returns promptly and closes them.
  auto t0 = std::chrono::steady_clock::now();
  fwd.reset();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  auto until = std::chrono::steady_clock::now() + 5s;
  while ((!s1.ended || !s2.ended) && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  CHECK(s1.ended);
  CHECK(s2.ended);
  CHECK(host->exec("echo after", 10s).out == "after\n");
}

TEST_CASE("ssh: an unknown host key is refused, and accept_new records it and then connects") {
  SshdFixture sshd;
  const std::string fingerprint = [&] {
    std::istringstream in(run_capture("ssh-keygen -l -E sha256 -f " + sshd.host_pubkey().string()));
    std::string bits, fp;
    in >> bits >> fp;
    return fp;
  }();
  REQUIRE_THAT(fingerprint, Contains("SHA256:"));

  auto target = sshd.target("nyc");
  const fs::path empty = sshd.dir() / "empty_known_hosts";
  write_file(empty, "");
  target.known_hosts = empty.string();
  try {
    ssh_connect(target);
    FAIL("unknown host key accepted");
  } catch (const HostKeyError& e) {
    const std::string expected = "nyc (127.0.0.1:" + std::to_string(sshd.port()) + "): host key is not in " +
                                 empty.string() + " (fingerprint " + fingerprint +
                                 "); pin it or run with --accept-new-host-keys";
    CHECK(std::string(e.what()) == expected);
  }
  // A known_hosts file that does not exist is no better.
  target.known_hosts = (sshd.dir() / "no-such-file").string();
  CHECK_THROWS_AS(ssh_connect(target), HostKeyError);
  CHECK(!fs::exists(sshd.dir() / "no-such-file"));
  // No known_hosts at all is a configuration error.
  target.known_hosts.clear();
  CHECK_THROWS_WITH(ssh_connect(target), Contains("known_hosts"));

  target.known_hosts = empty.string();
  target.accept_new = true;
  {
    auto host = ssh_connect(target);
    CHECK(host->exec("echo hi", 10s).out == "hi\n");
  }
  std::istringstream pub(slurp(sshd.host_pubkey()));
  std::string type, blob;
  pub >> type >> blob;
  CHECK_THAT(slurp(empty), Contains(sshd.known_hosts_name() + " " + type + " " + blob));

  target.accept_new = false;  // now pinned
  auto host = ssh_connect(target);
  CHECK(host->exec("echo again", 10s).out == "again\n");
}

TEST_CASE("ssh: a CHANGED host key is refused, even with accept_new") {
  SshdFixture sshd;
  const fs::path other = sshd.dir() / "other_host_key";
  x0x::testing::generate_ssh_key(other);
  std::istringstream pub(slurp(other.string() + ".pub"));
  std::string type, blob;
  pub >> type >> blob;
  const fs::path pinned = sshd.dir() / "changed_known_hosts";
  const std::string pinned_text = sshd.known_hosts_name() + " " + type + " " + blob + "\n";
  write_file(pinned, pinned_text);

  auto target = sshd.target("nyc");
  target.known_hosts = pinned.string();
  for (bool accept_new : {false, true}) {
    target.accept_new = accept_new;
    try {
      ssh_connect(target);
      FAIL("changed host key accepted");
    } catch (const HostKeyError& e) {
      CHECK_THAT(e.what(), Contains("nyc (127.0.0.1:" + std::to_string(sshd.port()) + ")") &&
                               Contains("host key CHANGED") && Contains("refusing") && Contains(pinned.string()));
    }
    CHECK(slurp(pinned) == pinned_text);
  }
}

TEST_CASE("ssh: a lost connection is a RemoteError, not a hang") {
  SshdFixture sshd;
  auto host = ssh_connect(sshd.target("nyc"));
  REQUIRE(host->exec("echo up", 10s).out == "up\n");

  SECTION("between commands") {
    sshd.drop_connections();
    auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(host->exec("echo hi", 10s), Contains("nyc"));
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  }
  SECTION("during a command") {
    std::thread killer([&] {
      std::this_thread::sleep_for(300ms);
      sshd.drop_connections();
    });
    auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(host->exec("sleep 20", 15s), Contains("nyc"));
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    killer.join();
  }
  SECTION("under a forward") {
    TinyHttpServer http;
    auto fwd = host->forward("127.0.0.1", http.port());
    StreamReader s(fwd->local_port());
    REQUIRE(s.wait_ticks(2));
    sshd.drop_connections();
    auto until = std::chrono::steady_clock::now() + 5s;
    while (!s.ended && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    CHECK(s.ended);
    // new connections are closed at once, and the forward still goes away cleanly
    int fd = connect_local(fwd->local_port());
    char buf[16];
    CHECK(recv_within(fd, buf, sizeof buf, 5s) <= 0);
    ::close(fd);
    auto t0 = std::chrono::steady_clock::now();
    fwd.reset();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  }
}

TEST_CASE("ssh: authentication and connection failures are RemoteErrors naming the host") {
  SshdFixture sshd;
  auto target = sshd.target("nyc");

  SECTION("a key the server does not know") {
    const fs::path stranger = sshd.dir() / "stranger";
    x0x::testing::generate_ssh_key(stranger);
    target.identity = stranger.string();
    try {
      ssh_connect(target);
      FAIL("authenticated with an unknown key");
    } catch (const HostKeyError&) {
      FAIL("reported as a host key problem");
    } catch (const RemoteError& e) {
      CHECK_THAT(e.what(), Contains("nyc (127.0.0.1:") && Contains("authentication as root") && Contains("failed"));
    }
  }
  SECTION("a missing identity file") {
    target.identity = (sshd.dir() / "nope").string();
    CHECK_THROWS_WITH(ssh_connect(target), Contains("nyc") && Contains("cannot load the private key"));
  }
  SECTION("nothing listening") {
    target.port = 1;
    CHECK_THROWS_WITH(ssh_connect(target), Contains("nyc (127.0.0.1:1): cannot connect"));
  }
  SECTION("a server that never speaks: the connect timeout holds") {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    target.port = ntohs(a.sin_port);
    target.connect_timeout = 700ms;
    auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(ssh_connect(target), RemoteError);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took < 5s);
    ::close(fd);
  }
}
