#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "probes/log_patterns.h"

using namespace x0x::probes;

TEST_CASE("log patterns: counts per pattern and the top per-peer timeout sources, within the window") {
  std::string log =
      "2026-11-21T10:00:00.000Z WARN x0x::gossip: republish to peer_id=aaaaaaaaaaaaaaaa timed out\n"
      "2026-11-21T12:00:00.000Z WARN x0x::gossip: republish to peer_id=bbbbbbbbbbbbbbbb timed out\n"
      "2026-11-21T12:00:01.000Z WARN x0x::gossip: republish to peer_id=bbbbbbbbbbbbbbbb timed out\n"
      "2026-11-21T12:00:02.000Z WARN x0x::gossip: republish to peer_id=cccccccccccccccc timed out\n"
      "2026-11-21T12:00:03.000Z  INFO x0x_lean: peer connected: sfo (1234) at 127.0.0.1:1\n"
      "2026-11-21T12:00:04.000Z WARN x0x::net: receive forward channel >80% full used_pct=91\n"
      "runner[nyc] DM result to abcd failed, falling back to pubsub\n";
  auto c = count_log_patterns(log, default_log_patterns(), "2026-11-21T11:00:00");
  CHECK(c.lines == 7);
  CHECK(c.lines_in_window == 5);  // the 10:00 line is before the window; the unstamped one has no known age
  CHECK(c.counts["per_peer_timeout"] == 3);
  CHECK(c.counts["peer_connected"] == 1);
  CHECK(c.counts["recv_channel_80pct_warn"] == 1);
  CHECK(c.counts["dm_pubsub_fallback"] == 0);
  auto j = c.to_json(1);
  REQUIRE(j["top_per_peer_timeout_sources"].size() == 1);
  CHECK(j["top_per_peer_timeout_sources"][0]["peer_id"] == "bbbbbbbbbbbbbbbb");
  CHECK(j["top_per_peer_timeout_sources"][0]["timeouts"] == 2);
  auto all = count_log_patterns(log, default_log_patterns());
  CHECK(all.counts["dm_pubsub_fallback"] == 1);
  CHECK(all.lines_in_window == 7);
}
