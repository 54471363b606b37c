// report.html in a real browser: headless Chromium renders a fixture's report
// to a PNG (decoded here and required to be neither blank nor monochrome, with
// the NO-GO header colour present) and dumps the DOM (the verdict and a node
// name must be in it). tests/support/browser.h keeps Chromium off any network.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "proofs/renderers.h"
#include "tests/support/browser.h"
#include "tests/support/files.h"
#include "tests/support/source_dir.h"

namespace fs = std::filesystem;
namespace browser = x0x::testing::browser;
using x0x::testing::slurp;
using x0x::testing::TempDir;

TEST_CASE("report.html renders in headless Chromium: verdict, nodes and colours on screen", "[report]") {
  auto chromium = browser::find_chromium();
  if (chromium.empty())
    FAIL("chromium is not installed: run scripts/install-deps.sh (as root) — it installs chromium for this test");
  TempDir t{"x0x-report-browser-"};
  auto verdict = nlohmann::json::parse(slurp(x0x::testing::test_data("verdicts/nogo_stale_peer.json")));
  auto html_path = t.path / "report.html";
  std::ofstream(html_path, std::ios::binary) << x0x::proofs::render_report_html(verdict);

  auto img = browser::screenshot(chromium, html_path, t.path, "shot");
  CHECK(img.width == 1280);
  CHECK(img.height == 1600);
  std::size_t pixels = std::size_t(img.width) * img.height, non_white = 0;
  std::set<std::uint32_t> colours;
  for (std::size_t i = 0; i < pixels; ++i) {
    int R = img.rgb[i * 3], G = img.rgb[i * 3 + 1], B = img.rgb[i * 3 + 2];
    if (R < 245 || G < 245 || B < 245) ++non_white;
    colours.insert((std::uint32_t(R) << 16) | (std::uint32_t(G) << 8) | std::uint32_t(B));
  }
  auto header_red = browser::count_colour(img, 0xb42318, 12);  // NO-GO banner
  auto pass_green = browser::count_colour(img, 0xdafbe1, 8);   // "pass" cells
  INFO("non-white " << non_white << " of " << pixels << ", distinct colours " << colours.size() << ", banner " << header_red
                    << ", pass cells " << pass_green);
  CHECK(non_white * 100 >= pixels * 3);
  CHECK(colours.size() >= 8);
  CHECK(header_red * 100 >= pixels * 1);  // the CSS applied: the banner spans the page width
  CHECK(pass_green > 500);

  auto text = browser::dump_dom(chromium, html_path, t.path, "dom");
  CHECK(text.find("<div class=\"word\">NO-GO</div>") != std::string::npos);
  CHECK(text.find("helsinki") != std::string::npos);
  CHECK(text.find("nyc: dispatcher_timed_out delta 7 &gt; gate 5") != std::string::npos);
  // The parsed DOM kept every SVG (an unbalanced tag would have swallowed the rest).
  CHECK(text.find("aria-label=\"fault timeline\"") != std::string::npos);
}
