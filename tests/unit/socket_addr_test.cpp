#include <catch2/catch.hpp>

#include "core/socket_addr.h"

using x0x::parse_socket_addr;
using x0x::SocketAddr;

TEST_CASE("socket_addr: parses IPv4, IPv6 and localhost") {
  CHECK(parse_socket_addr("1.2.3.4:5") == SocketAddr{"1.2.3.4", 5});
  CHECK(parse_socket_addr("127.0.0.1:12700") == SocketAddr{"127.0.0.1", 12700});
  CHECK(parse_socket_addr("[::1]:5") == SocketAddr{"::1", 5});
  CHECK(parse_socket_addr("[::]:0") == SocketAddr{"::", 0});
  CHECK(parse_socket_addr("localhost:5") == SocketAddr{"localhost", 5});
  CHECK(parse_socket_addr("0.0.0.0:65535") == SocketAddr{"0.0.0.0", 65535});
}

TEST_CASE("socket_addr: IPv6 hosts are canonicalised") {
  CHECK(parse_socket_addr("[0:0:0:0:0:0:0:1]:80") == SocketAddr{"::1", 80});
  CHECK(parse_socket_addr("[2001:DB8::1]:80") == SocketAddr{"2001:db8::1", 80});
}

TEST_CASE("socket_addr: rejects malformed input") {
  for (const char* bad : {"", ":", "1.2.3.4", "1.2.3.4:", ":80", "[]:80", "[::1]", "[::1]80",
                          "::1:80", "[::1:80", "1.2.3.4:65536", "1.2.3.4:99999999",
                          "1.2.3.4:-1", "1.2.3.4:+1", "1.2.3.4: 80", " 1.2.3.4:80",
                          "1.2.3:80", "1.2.3.256:80", "nonsense", "nonsense:80",
                          "example.com:80", "[1.2.3.4]:80", "1.2.3.4:80:90", "[::1]:x"}) {
    INFO("input: \"" << bad << "\"");
    CHECK_FALSE(parse_socket_addr(bad).has_value());
  }
}

TEST_CASE("socket_addr: to_string round-trips") {
  CHECK(SocketAddr{"127.0.0.1", 80}.to_string() == "127.0.0.1:80");
  CHECK(SocketAddr{"::1", 80}.to_string() == "[::1]:80");
  CHECK(SocketAddr{"::", 5483}.to_string() == "[::]:5483");
  for (const char* s : {"1.2.3.4:5", "[::1]:5", "[::]:0", "localhost:5", "[fe80::1]:443"}) {
    auto a = parse_socket_addr(s);
    REQUIRE(a);
    CHECK(a->to_string() == s);
  }
}

TEST_CASE("socket_addr: loopback hosts") {
  CHECK(x0x::is_loopback_host("127.0.0.1"));
  CHECK(x0x::is_loopback_host("127.255.3.4"));
  CHECK(x0x::is_loopback_host("::1"));
  CHECK(x0x::is_loopback_host("[::1]"));
  CHECK(x0x::is_loopback_host("localhost"));
  CHECK(x0x::is_loopback_host("LocalHost"));
  CHECK_FALSE(x0x::is_loopback_host("128.0.0.1"));
  CHECK_FALSE(x0x::is_loopback_host("0.0.0.0"));
  CHECK_FALSE(x0x::is_loopback_host("::"));
  CHECK_FALSE(x0x::is_loopback_host("10.0.0.1"));
  CHECK_FALSE(x0x::is_loopback_host(""));
  CHECK_FALSE(x0x::is_loopback_host("localhost.evil"));
}
