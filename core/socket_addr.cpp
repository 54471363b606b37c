#include "core/socket_addr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace x0x {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Strict: inet_pton only takes four decimal octets (no "1.2.3", no hex).
std::optional<in_addr> parse_ipv4(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::string z(s);
  in_addr a{};
  if (inet_pton(AF_INET, z.c_str(), &a) != 1) return std::nullopt;
  return a;
}

std::optional<in6_addr> parse_ipv6(std::string_view s) {
  if (s.empty() || s.size() > 45) return std::nullopt;
  std::string z(s);
  in6_addr a{};
  if (inet_pton(AF_INET6, z.c_str(), &a) != 1) return std::nullopt;
  return a;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

std::string SocketAddr::to_string() const {
  std::string p = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + p;
  return host + ":" + p;
}

std::optional<SocketAddr> parse_socket_addr(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    auto v6 = parse_ipv6(host);
    if (!v6) return std::nullopt;
    auto p = parse_port(port);
    if (!p) return std::nullopt;
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(AF_INET6, &*v6, buf, sizeof buf)) return std::nullopt;
    return SocketAddr{buf, *p};
  }

  // Unbracketed: exactly one ':' (a bare IPv6 literal is ambiguous, as in Rust).
  auto colon = s.find(':');
  if (colon == std::string_view::npos || s.find(':', colon + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  host = s.substr(0, colon);
  port = s.substr(colon + 1);
  auto p = parse_port(port);
  if (!p) return std::nullopt;
  if (iequals(host, "localhost")) return SocketAddr{"localhost", *p};
  if (!parse_ipv4(host)) return std::nullopt;
  return SocketAddr{std::string(host), *p};
}

bool is_loopback_host(std::string_view host) {
  if (iequals(host, "localhost")) return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (auto v4 = parse_ipv4(host)) {
    return (ntohl(v4->s_addr) >> 24) == 127;
  }
  if (auto v6 = parse_ipv6(host)) {
    return IN6_IS_ADDR_LOOPBACK(&*v6);
  }
  return false;
}

}  // namespace x0x
