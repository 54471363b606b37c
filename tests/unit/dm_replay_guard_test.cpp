#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "node/dm_replay_guard.h"
#include "tests/support/files.h"

using namespace x0x::node;
using Verdict = DmReplayGuard::Verdict;

namespace {
wire::MsgId id_of(std::uint8_t b) {
  wire::MsgId id;
  id.fill(b);
  return id;
}
constexpr std::uint64_t kNow = 1'800'000'000'000;
}  // namespace

TEST_CASE("dm replay guard: fresh once, then a duplicate, and outside the window stale either way") {
  x0x::testing::TempDir dir("x0x-replay-");
  DmReplayGuard g(dir.path / "dm-replay.bin", {.window = std::chrono::minutes(10)});
  CHECK(g.check(id_of(1), kNow, kNow) == Verdict::fresh);
  CHECK(g.check(id_of(1), kNow, kNow + 1000) == Verdict::duplicate);
  CHECK(g.check(id_of(2), kNow - 11 * 60'000, kNow) == Verdict::stale);
  CHECK(g.check(id_of(3), kNow + 11 * 60'000, kNow) == Verdict::stale);  // from the future
  CHECK(g.check(id_of(4), UINT64_MAX, kNow) == Verdict::stale);
  CHECK(g.check(id_of(5), kNow + 9 * 60'000, kNow) == Verdict::fresh);
}

TEST_CASE("dm replay guard: what it accepted survives a restart, a torn last record included") {
  x0x::testing::TempDir dir("x0x-replay-");
  auto file = dir.path / "dm-replay.bin";
  {
    DmReplayGuard g(file, {});
    CHECK(g.check(id_of(1), kNow, kNow) == Verdict::fresh);
    CHECK(g.check(id_of(2), kNow, kNow) == Verdict::fresh);
  }
  {
    std::ofstream torn(file, std::ios::app | std::ios::binary);
    torn << "half a record";
  }
  DmReplayGuard again(file, {});
  CHECK(again.remembered() == 2);
  CHECK(again.check(id_of(1), kNow, kNow + 5000) == Verdict::duplicate);
  CHECK(again.check(id_of(2), kNow, kNow + 5000) == Verdict::duplicate);
  CHECK(again.check(id_of(3), kNow, kNow + 5000) == Verdict::fresh);
}

TEST_CASE("dm replay guard: past its memory it forgets the oldest and raises the floor, so a forgotten id cannot come back") {
  x0x::testing::TempDir dir("x0x-replay-");
  auto file = dir.path / "dm-replay.bin";
  DmReplayGuard g(file, {.window = std::chrono::minutes(10), .max_remembered = 100});
  for (std::uint8_t i = 0; i < 150; ++i) CHECK(g.check(id_of(i), kNow + i, kNow + 200) == Verdict::fresh);
  CHECK(g.remembered() == 100);
  CHECK(g.floor_ms() == kNow + 49);
  CHECK(g.check(id_of(0), kNow, kNow + 200) == Verdict::stale);        // forgotten, but below the floor
  CHECK(g.check(id_of(200), kNow + 10, kNow + 200) == Verdict::stale);  // new, but older than what was forgotten
  DmReplayGuard reloaded(file, {.window = std::chrono::minutes(10), .max_remembered = 100});
  CHECK(reloaded.floor_ms() == kNow + 49);
  CHECK(reloaded.check(id_of(120), kNow + 120, kNow + 300) == Verdict::duplicate);
  CHECK(std::filesystem::file_size(file) == 24 * 101);  // rewritten at start: the floor and what is remembered
}
