// A runner's Phase B action whose daemon is restarting: a request that never
// reached it (connection refused) is sent again under the given policy, and
// the daemon, once it listens, sees the request exactly once.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "probes/rest_client.h"
#include "runners/phase_b_actions.h"

using namespace x0x::runners;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A free loopback port: bound, read and released (nothing listens on it after).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Starts listening on `port` after `delay`, answers every request with
// {"ok":true}, and counts the requests it saw, until stopped.
struct LateDaemon {
  std::atomic<int> requests{0};
  std::atomic<bool> stop{false};
  std::thread thread;

  LateDaemon(int port, std::chrono::milliseconds delay) {
    thread = std::thread([this, port, delay] {
      std::this_thread::sleep_for(delay);
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0) return;
      timeval tv{0, 100'000};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);  // accept wakes up to see `stop`
      while (!stop) {
        int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) continue;
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
          auto n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          req.append(buf, static_cast<std::size_t>(n));
        }
        ++requests;
        std::string body = R"({"ok":true})";
        std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n" + body;
        (void)!::write(c, resp.data(), resp.size());
        ::close(c);
      }
      ::close(fd);
    });
  }
  ~LateDaemon() {
    stop = true;
    thread.join();
  }
};

}  // namespace

TEST_CASE("phase B actions: a daemon that refuses connections while it restarts gets the action once it listens") {
  const int port = free_port();
  x0x::probes::RestClient rest("http://127.0.0.1:" + std::to_string(port), "t", 2s);
  LateDaemon daemon(port, 300ms);
  RetryPolicy patient;
  patient.max_attempts = 0;
  patient.first_backoff = 50ms;
  patient.max_backoff = 100ms;
  patient.give_up_after = 5s;
  auto out = run_phase_b_action(rest, "contact_list", json::object(), patient);
  INFO(out.outcome.dump());
  CHECK(out.ok());
  CHECK(daemon.requests == 1);
}

TEST_CASE("phase B actions: without a policy a refused connection is one attempt and an error") {
  const int port = free_port();
  x0x::probes::RestClient rest("http://127.0.0.1:" + std::to_string(port), "t", 2s);
  auto t0 = std::chrono::steady_clock::now();
  auto out = run_phase_b_action(rest, "contact_list", json::object());
  CHECK_FALSE(out.ok());
  CHECK(out.outcome["error"].get<std::string>().find("Couldn't connect") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}
