// core/log_escape.h: a log line's message from the network cannot forge a
// second line or carry terminal codes (the node and the runner log with it).
#include <catch2/catch.hpp>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "core/log_escape.h"

TEST_CASE("log escape: a hostile peer name stays on one line, control characters shown as escapes") {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<x0x::EscapedMessageFlag>('&').set_pattern("%l %&");
  sink->set_formatter(std::move(f));
  spdlog::logger log("t", sink);
  log.info("peer connected: {}", "evil\n2026-12-02T00:00:00Z  info x0x_lean: peer connected: forged\x1b[31m\r\t\x7f");
  auto text = out.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);  // the line's own end only
  CHECK(text == "info peer connected: evil\\n2026-12-02T00:00:00Z  info x0x_lean: peer connected: forged\\x1b[31m\\r\\t\\x7f\n");
  CHECK(x0x::printable("plain ascii, and UTF-8 é") == "plain ascii, and UTF-8 é");
}
