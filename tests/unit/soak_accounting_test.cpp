// Continuous post-to-post accounting (spec gates-and-proofs.md §5.2): deltas
// chain across windows and the idle time between them, a missing snapshot is
// bridged by the next one, and every gap nothing bridged is named.
#include <catch2/catch.hpp>

#include "gates/soak_accounting.h"
#include "tests/unit/soak_fixtures.h"

using namespace x0x::testing::soak;

namespace {

// One node ("alpha") only, with the given snapshots.
SoakWindow solo(int index, std::optional<AccountingSample> pre, std::optional<AccountingSample> post, int epoch = 0) {
  SoakWindow w = go_window(index);
  w.nodes.clear();
  w.node_order = {"alpha"};
  w.nodes["alpha"].pre = pre;
  w.nodes["alpha"].post = post;
  w.fleet_epoch = epoch;
  return w;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("the first window counts pre to post, later ones previous post to post, idle time included", "[soak][accounting]") {
  std::vector<SoakWindow> ws = {solo(1, sample(1000, 1, 0, 2, 100), sample(1500, 3, 0, 5, 280)),
                                // the pre shows 2 timeouts and 200 completions in the idle time: they count here
                                solo(2, sample(1700, 5, 0, 5, 1900), sample(2700, 6, 1, 9, 2080))};
  auto a = account_windows(ws);
  REQUIRE(a.size() == 2);
  CHECK(a[0].has_data);
  CHECK(a[0].sum_disp == 2);
  CHECK(a[0].sum_completed == 500);
  CHECK(a[0].sum_pp == 3);
  CHECK(a[0].gaps.empty());
  CHECK(a[0].nodes.at("alpha").from_unix == 100);
  CHECK(a[0].nodes.at("alpha").to_unix == 280);

  CHECK(a[1].sum_disp == 3);  // 6 − 3, not 6 − 5
  CHECK(a[1].max_disp == 3);
  CHECK(a[1].sum_completed == 1200);
  CHECK(a[1].sum_drop == 1);
  CHECK(a[1].max_pp == 4);
  CHECK(a[1].nodes.at("alpha").from_unix == 280);  // the previous post
  CHECK(a[1].nodes.at("alpha").to_unix == 2080);
  CHECK(a[1].gaps.empty());
}

TEST_CASE("max and sum run across the nodes", "[soak][accounting]") {
  std::vector<SoakWindow> ws = {go_window(1)};
  ws[0].nodes["alpha"].pre = sample(0, 0);
  ws[0].nodes["alpha"].post = sample(10, 4);
  ws[0].nodes["beta"].pre = sample(0, 0);
  ws[0].nodes["beta"].post = sample(20, 1);
  auto a = account_windows(ws);
  CHECK(a[0].max_disp == 4);
  CHECK(a[0].sum_disp == 5);
  CHECK(a[0].sum_completed == 30);
  CHECK(a[0].nodes.size() == 2);  // gamma has no snapshot and no previous post: not a node of this window
}

TEST_CASE("a missing pre is bridged from the previous post: an accounted gap", "[soak][accounting]") {
  std::vector<SoakWindow> ws = {solo(1, sample(1000, 0), sample(1500, 2)), solo(2, std::nullopt, sample(2000, 3))};
  auto a = account_windows(ws);
  CHECK(a[1].gaps == Strings{"alpha:pre"});
  CHECK(a[1].unaccounted.empty());
  CHECK(a[1].sum_disp == 1);
  CHECK(a[1].sum_completed == 500);
}

TEST_CASE("a missing post is unaccounted and the next window's delta covers both spans", "[soak][accounting]") {
  std::vector<SoakWindow> ws = {solo(1, sample(1000, 0, 0, 0, 10), sample(1500, 2, 0, 0, 20)),
                                solo(2, sample(1600, 2, 0, 0, 30), std::nullopt),
                                solo(3, sample(2600, 9, 0, 0, 50), sample(3000, 10, 0, 0, 60))};
  auto a = account_windows(ws);
  CHECK(a[1].gaps == Strings{"alpha:post"});
  CHECK(a[1].unaccounted == Strings{"alpha:post"});
  CHECK(a[1].nodes.empty());
  CHECK(a[1].sum_disp == 0);
  CHECK(a[2].gaps.empty());
  CHECK(a[2].sum_disp == 8);  // 10 − 2: window 1's post, not window 3's pre
  CHECK(a[2].sum_completed == 1500);
  CHECK(a[2].nodes.at("alpha").from_unix == 20);
  CHECK(a[2].nodes.at("alpha").to_unix == 60);
}

TEST_CASE("a node with no pre and no previous post has no baseline: unaccounted, its post starts one", "[soak][accounting]") {
  std::vector<SoakWindow> ws = {solo(1, std::nullopt, sample(5000, 40)), solo(2, sample(5100, 40), sample(5600, 41))};
  auto a = account_windows(ws);
  CHECK(a[0].gaps == Strings{"alpha:baseline"});
  CHECK(a[0].unaccounted == Strings{"alpha:baseline"});
  CHECK(a[0].sum_disp == 0);  // never the lifetime total (the X0X-0024 false alarm)
  CHECK(a[0].nodes.empty());
  CHECK(a[1].sum_disp == 1);
  CHECK(a[1].sum_completed == 600);
  CHECK(a[1].gaps.empty());
}

TEST_CASE("a counter below its baseline is a counter reset: unaccounted, that delta clamps to 0", "[soak][accounting]") {
  SECTION("counters only") {
    std::vector<SoakWindow> ws = {solo(1, sample(1000, 5), sample(2000, 7)), solo(2, sample(2000, 7), sample(2500, 1))};
    auto a = account_windows(ws);
    CHECK(a[1].gaps == Strings{"alpha:counter_reset"});
    CHECK(a[1].unaccounted == Strings{"alpha:counter_reset"});
    CHECK(a[1].sum_disp == 0);
    CHECK(a[1].sum_completed == 500);  // the counters that did not go down still count
  }
  SECTION("the node restarted on its own: uptime went down too, still unaccounted") {
    std::vector<SoakWindow> ws = {solo(1, sample(1000, 5, 0, 0, 0, 3600), sample(2000, 7, 0, 0, 0, 3780)),
                                  solo(2, sample(10, 0, 0, 0, 0, 60), sample(50, 0, 0, 0, 0, 240))};
    auto a = account_windows(ws);
    CHECK(a[1].gaps == Strings{"alpha:counter_reset"});
    CHECK(a[1].unaccounted == Strings{"alpha:counter_reset"});
  }
}

TEST_CASE("a fresh fleet started by the soak takes its baseline from its own pre: accounted", "[soak][accounting]") {
  SECTION("pre present") {
    std::vector<SoakWindow> ws = {solo(1, sample(1000, 5), sample(9000, 8)), solo(2, sample(0, 0), sample(700, 2), 1),
                                  solo(3, sample(700, 2), sample(1000, 3), 1)};
    auto a = account_windows(ws);
    CHECK(a[1].gaps == Strings{"alpha:fleet_restarted"});
    CHECK(a[1].unaccounted.empty());  // not a counter reset: nothing ran in between
    CHECK(a[1].sum_disp == 2);
    CHECK(a[1].sum_completed == 700);
    CHECK(a[2].gaps.empty());  // same epoch again: the previous post bridges
    CHECK(a[2].sum_disp == 1);
  }
  SECTION("pre missing too: the baseline case") {
    std::vector<SoakWindow> ws = {solo(1, sample(1000, 5), sample(9000, 8)), solo(2, std::nullopt, sample(700, 2), 1)};
    auto a = account_windows(ws);
    CHECK(a[1].gaps == Strings{"alpha:baseline"});
    CHECK(a[1].unaccounted == Strings{"alpha:baseline"});
    CHECK(a[1].sum_disp == 0);
  }
  SECTION("post missing in the new fleet's first window: the next one still starts from its own pre") {
    std::vector<SoakWindow> ws = {solo(1, sample(1000, 5), sample(9000, 8)), solo(2, sample(0, 0), std::nullopt, 1),
                                  solo(3, sample(300, 1), sample(500, 2), 1)};
    auto a = account_windows(ws);
    CHECK(a[1].unaccounted == Strings{"alpha:post"});
    CHECK(a[2].gaps == Strings{"alpha:fleet_restarted"});
    CHECK(a[2].unaccounted.empty());
    CHECK(a[2].sum_disp == 1);
  }
}

TEST_CASE("a skipped slot has no accounting: the next window bridges its span", "[soak][accounting]") {
  std::vector<SoakWindow> ws = {solo(1, sample(1000, 0, 0, 0, 10), sample(1500, 1, 0, 0, 20)), skipped_window(2),
                                solo(3, sample(4000, 6, 0, 0, 3700), sample(4500, 7, 0, 0, 3900))};
  ws[1].state = WindowState::interrupted;
  SECTION("interrupted") {}
  SECTION("skipped") { ws[1].state = WindowState::skipped; }
  auto a = account_windows(ws);
  CHECK_FALSE(a[1].has_data);
  CHECK(a[1].gaps.empty());  // not a post gap: no window ran there
  CHECK(a[1].nodes.empty());
  CHECK(a[2].gaps.empty());
  CHECK(a[2].sum_disp == 6);
  CHECK(a[2].sum_completed == 3000);
  CHECK(a[2].nodes.at("alpha").from_unix == 20);
}

TEST_CASE("a window with no snapshot on disk has no data, and its nodes' posts are gaps", "[soak][accounting]") {
  std::vector<SoakWindow> ws = {solo(1, sample(1000, 0), sample(1500, 1)), missing_window(2)};
  auto a = account_windows(ws);
  CHECK(a[0].has_data);
  CHECK_FALSE(a[1].has_data);  // consumers fall back to the scenario fields
  CHECK(a[1].unaccounted == Strings{"alpha:post"});
}
