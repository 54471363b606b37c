// host:port pairs in the textual form x0xd uses in its config and REST API.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace x0x {

struct SocketAddr {
  std::string host;  // IPv4 literal, IPv6 literal without brackets, or "localhost"
  std::uint16_t port = 0;

  // "127.0.0.1:80" or "[::1]:80".
  std::string to_string() const;
  bool operator==(const SocketAddr&) const = default;
};

// Parses "1.2.3.4:5", "[::1]:5", "[::]:0", "localhost:5". Like x0xd (Rust's
// SocketAddr) only IP literals are accepted, plus "localhost" for convenience.
// IPv6 hosts are stored in canonical form so equal addresses compare equal.
// nullopt on anything else (missing port, port > 65535, empty host, garbage).
std::optional<SocketAddr> parse_socket_addr(std::string_view s);

// 127.0.0.0/8, ::1 (brackets optional) and localhost.
bool is_loopback_host(std::string_view host);

}  // namespace x0x
