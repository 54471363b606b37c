// A plain blocking TCP client for tests that speak to a node below its REST
// API (garbage, strangers, hostile peers), so a test can hold hundreds of
// connections without a thread each. Every wait has a deadline.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/socket_addr.h"

namespace x0x::testing {

class RawConn {
 public:
  explicit RawConn(const std::string& host_port) {
    auto a = parse_socket_addr(host_port);
    if (!a) throw std::runtime_error("RawConn: not host:port: " + host_port);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(a->port);
    ::inet_pton(AF_INET, a->host == "localhost" ? "127.0.0.1" : a->host.c_str(), &sa.sin_addr);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      if (fd_ >= 0) ::close(fd_);
      throw std::runtime_error("RawConn: cannot connect to " + host_port);
    }
  }
  ~RawConn() { ::close(fd_); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  // False when the peer is gone.
  bool send(std::string_view data) {
    std::size_t off = 0;
    while (off < data.size()) {
      auto n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Exactly n bytes, or nullopt at EOF, on an error or at the deadline.
  std::optional<std::string> read_exact(std::size_t n, std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (received_.size() < n) {
      if (!fill(until)) return std::nullopt;
    }
    auto out = received_.substr(0, n);
    received_.erase(0, n);
    return out;
  }

  // Reads until `needle` shows up in what was received, the peer closes, or the deadline.
  bool read_until(const std::string& needle, std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (received_.find(needle) == std::string::npos)
      if (!fill(until)) return false;
    return true;
  }

  // True once the peer closed the connection (whatever it sent first).
  bool closed_by_peer(std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    std::vector<char> buf(1 << 16);  // what is still in flight before the close: read it fast
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      auto n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0 && errno != EAGAIN) return errno == ECONNRESET;
    }
  }
  const std::string& received() const { return received_; }
  // Every byte received from now on is also kept here, as a sniffer saw it.
  void keep_transcript() { keep_ = true; }
  const std::string& transcript() const { return transcript_; }

 private:
  bool fill(std::chrono::steady_clock::time_point until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    received_.append(buf, static_cast<std::size_t>(n));
    if (keep_) transcript_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string received_, transcript_;
  bool keep_ = false;
};

}  // namespace x0x::testing
