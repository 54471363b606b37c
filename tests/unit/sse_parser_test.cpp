#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "probes/sse.h"

using x0x::probes::SseEvent;
using x0x::probes::SseParser;

namespace {

std::vector<SseEvent> parse_chunks(const std::vector<std::string_view>& chunks) {
  SseParser p;
  std::vector<SseEvent> out;
  for (auto c : chunks) p.feed(c, [&](SseEvent&& e) { out.push_back(std::move(e)); });
  return out;
}

std::vector<SseEvent> parse(std::string_view s) { return parse_chunks({s}); }

// Byte by byte: every possible split point at once.
std::vector<SseEvent> parse_bytewise(std::string_view s) {
  SseParser p;
  std::vector<SseEvent> out;
  for (std::size_t i = 0; i < s.size(); ++i)
    p.feed(s.substr(i, 1), [&](SseEvent&& e) { out.push_back(std::move(e)); });
  return out;
}

void require_same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].event == b[i].event);
    CHECK(a[i].data == b[i].data);
    CHECK(a[i].id == b[i].id);
  }
}

// x0xd style: no space after the colon, comment pings, several events.
constexpr std::string_view kServerStream =
    ":ping\n"
    "event:direct_message\n"
    "data:{\"sender\":\"ab\",\"payload\":\"aGk=\"}\n"
    "\n"
    ":ping\n"
    "\n"
    "event:message\n"
    "id:7\n"
    "data:line one\n"
    "data:line two\n"
    "\n"
    "data: spaced\n"
    "\n";

}  // namespace

TEST_CASE("sse: no-space form, as x0xd writes it") {
  auto ev = parse("event:direct_message\ndata:{\"a\":1}\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].event == "direct_message");
  CHECK(ev[0].data == "{\"a\":1}");
}

TEST_CASE("sse: space form drops exactly one space") {
  auto ev = parse("event: message\ndata: hello\ndata:  two spaces\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].event == "message");
  CHECK(ev[0].data == "hello\n two spaces");
}

TEST_CASE("sse: default event name is message") {
  auto ev = parse("data:x\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].event == "message");
  CHECK(ev[0].data == "x");
  // The name does not leak into the next event.
  ev = parse("event:direct_message\ndata:a\n\ndata:b\n\n");
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].event == "direct_message");
  CHECK(ev[1].event == "message");
}

TEST_CASE("sse: comments are ignored") {
  auto ev = parse(":ping\n\n: another comment\ndata:x\n:mid-event comment\n\n:ping\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "x");
}

TEST_CASE("sse: comment-only blocks and blank lines dispatch nothing") {
  CHECK(parse(":ping\n\n:ping\n\n\n\n").empty());
  CHECK(parse("event:foo\n\n").empty());  // no data line: nothing dispatched
  auto ev = parse("event:foo\n\ndata:x\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].event == "message");  // the dropped event's name was forgotten
}

TEST_CASE("sse: multi-line data is joined with newlines") {
  auto ev = parse("data:first\ndata:\ndata: third\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "first\n\nthird");
  ev = parse("data\n\n");  // field without colon: empty value
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "");
}

TEST_CASE("sse: colons inside the value are kept") {
  auto ev = parse("data:{\"k\":\"v:w\"}\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "{\"k\":\"v:w\"}");
}

TEST_CASE("sse: CRLF, LF and CR line endings") {
  auto lf = parse("event:e\ndata:a\ndata:b\n\n");
  auto crlf = parse("event:e\r\ndata:a\r\ndata:b\r\n\r\n");
  auto cr = parse("event:e\rdata:a\rdata:b\r\r");
  REQUIRE(lf.size() == 1);
  CHECK(lf[0].event == "e");
  CHECK(lf[0].data == "a\nb");
  require_same(lf, crlf);
  require_same(lf, cr);
}

TEST_CASE("sse: CRLF split between CR and LF is one line ending") {
  auto ev = parse_chunks({"data:a\r", "\ndata:b\r", "\n\r", "\n"});
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "a\nb");
}

TEST_CASE("sse: event without trailing blank line is held until the blank line") {
  SseParser p;
  std::vector<SseEvent> out;
  auto sink = [&](SseEvent&& e) { out.push_back(std::move(e)); };
  p.feed("event:message\ndata:pending\n", sink);
  CHECK(out.empty());
  p.feed("data:more", sink);
  CHECK(out.empty());
  p.feed("\n", sink);
  CHECK(out.empty());
  p.feed("\n", sink);
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "pending\nmore");
}

TEST_CASE("sse: chunks split at every byte position") {
  const auto whole = parse(kServerStream);
  REQUIRE(whole.size() == 3);
  CHECK(whole[0].event == "direct_message");
  CHECK(whole[0].data == "{\"sender\":\"ab\",\"payload\":\"aGk=\"}");
  CHECK(whole[1].event == "message");
  CHECK(whole[1].data == "line one\nline two");
  CHECK(whole[1].id == "7");
  CHECK(whole[2].data == "spaced");

  std::string crlf;
  for (char c : kServerStream) {
    if (c == '\n') crlf += "\r\n";
    else crlf += c;
  }
  for (std::string_view stream : {kServerStream, std::string_view(crlf)}) {
    for (std::size_t i = 0; i <= stream.size(); ++i) {
      for (std::size_t j = i; j <= stream.size(); j += 7) {
        INFO("split at " << i << " and " << j);
        require_same(whole, parse_chunks({stream.substr(0, i), stream.substr(i, j - i), stream.substr(j)}));
      }
    }
    require_same(whole, parse_bytewise(stream));
  }
}

TEST_CASE("sse: id persists across events, reset() forgets it") {
  SseParser p;
  std::vector<SseEvent> out;
  auto sink = [&](SseEvent&& e) { out.push_back(std::move(e)); };
  p.feed("id:1\ndata:a\n\ndata:b\n\nid\ndata:c\n\n", sink);
  REQUIRE(out.size() == 3);
  CHECK(out[0].id == "1");
  CHECK(out[1].id == "1");
  CHECK(out[2].id == "");
  p.feed("id:9\ndata:partial", sink);
  p.reset();
  p.feed("\n\ndata:d\n\n", sink);
  REQUIRE(out.size() == 4);
  CHECK(out[3].data == "d");
  CHECK(out[3].id == "");
}

TEST_CASE("sse: unknown fields and retry are ignored, leading BOM skipped") {
  auto ev = parse("\xEF\xBB\xBF" "data:x\nretry:1000\nfoo:bar\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "x");
  CHECK(ev[0].event == "message");
}
