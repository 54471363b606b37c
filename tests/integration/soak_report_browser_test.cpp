// The soak's report.html in a real browser (tests/support/browser.h): the
// fixture soak renders with its NO-GO banner, shaded windows and node lines
// on screen, and Chromium's DOM keeps every plot (an unbalanced tag would
// swallow the rest); an interrupted soak's banner is amber.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "proofs/soak_renderers.h"
#include "tests/support/browser.h"
#include "tests/support/files.h"
#include "tests/support/source_dir.h"

namespace browser = x0x::testing::browser;
using x0x::testing::slurp;
using x0x::testing::TempDir;

TEST_CASE("soak report.html renders in headless Chromium: banner, shaded plots and every series in the DOM",
          "[soak-render][report]") {
  auto chromium = browser::find_chromium();
  if (chromium.empty())
    FAIL("chromium is not installed: run scripts/install-deps.sh (as root) — it installs chromium for this test");
  TempDir t{"x0x-soak-report-browser-"};
  auto soak = nlohmann::json::parse(slurp(x0x::testing::test_data("soak/soak-fixture.json")));
  auto html_path = t.path / "report.html";
  std::ofstream(html_path, std::ios::binary) << x0x::proofs::render_soak_report_html(soak);

  // Tall enough to hold the policy tables and the first plots.
  auto img = browser::screenshot(chromium, html_path, t.path, "shot", 1280, 2000);
  REQUIRE(img.width == 1280);
  REQUIRE(img.height == 2000);
  std::size_t pixels = std::size_t(img.width) * img.height, non_white = 0;
  std::set<std::uint32_t> colours;
  for (std::size_t i = 0; i < pixels; ++i) {
    int R = img.rgb[i * 3], G = img.rgb[i * 3 + 1], B = img.rgb[i * 3 + 2];
    if (R < 245 || G < 245 || B < 245) ++non_white;
    colours.insert((std::uint32_t(R) << 16) | (std::uint32_t(G) << 8) | std::uint32_t(B));
  }
  auto banner = browser::count_colour(img, 0xb42318, 12);     // NO-GO red
  auto tolerated = browser::count_colour(img, 0xf2e5c0, 7);  // #d4a72c at 30 % over white
  auto failed = browser::count_colour(img, 0xf4ced1, 7);     // #cf222e at 22 % over white
  INFO("non-white " << non_white << " of " << pixels << ", colours " << colours.size() << ", banner " << banner << ", tolerated "
                    << tolerated << ", failed " << failed);
  CHECK(non_white * 100 >= pixels * 5);
  CHECK(colours.size() >= 12);
  CHECK(banner * 100 >= pixels * 1);
  CHECK(tolerated > 2000);  // a window band on the first plot at least
  CHECK(failed > 2000);

  auto dom = browser::dump_dom(chromium, html_path, t.path, "dom");
  CHECK(dom.find("<div class=\"word\">NO-GO</div>") != std::string::npos);
  for (auto metric : {"disp_to", "drop_full", "pp_to", "suppressed", "phase_a_delivered", "phase_a_p50_ms", "phase_a_p99_ms",
                      "rss_kb", "cpu_seconds"}) {
    INFO(metric);
    CHECK(dom.find(std::string("data-metric=\"") + metric + "\"") != std::string::npos);
  }
  CHECK(dom.find("class=\"shade tolerated\" data-window=\"4\"") != std::string::npos);
  CHECK(dom.find("data-node=\"singapore\"") != std::string::npos);
  // The last thing in the page survived parsing: the window table's last row.
  CHECK(dom.find("data-window=\"8\"><td class=\"num\">8</td>") != std::string::npos);

  soak["verdict"] = "INTERRUPTED";
  soak["partial_verdict"] = "NO-GO";
  auto interrupted_path = t.path / "interrupted.html";
  std::ofstream(interrupted_path, std::ios::binary) << x0x::proofs::render_soak_report_html(soak);
  auto amber = browser::count_colour(browser::screenshot(chromium, interrupted_path, t.path, "interrupted"), 0xbf8700, 12);
  INFO("amber banner pixels " << amber);
  CHECK(amber * 100 >= std::size_t(1280) * 1600 * 1);
}
