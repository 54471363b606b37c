// report.html in a real browser: headless Chromium renders a fixture's report
// to a PNG (decoded here and required to be neither blank nor monochrome, with
// the NO-GO header colour present) and dumps the DOM (the verdict and a node
// name must be in it). Chromium runs as a child in its own process group with
// a deadline, HOME and profile in a temp dir, and every host name resolving
// to nothing, so it cannot reach any network.
#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/process.h"
#include "proofs/renderers.h"
#include "tests/support/files.h"
#include "tests/support/source_dir.h"

extern char** environ;

namespace fs = std::filesystem;

namespace {

using x0x::testing::TempDir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path find_chromium() {
  for (auto name : {"chromium", "chromium-browser"})
    if (auto p = x0x::find_program(name); !p.empty()) return p;
  return {};
}

struct RunResult {
  bool timed_out = false;
  int exit_status = -1;
};

// Runs argv with stdout/stderr to files, in its own process group (Chromium's
// helpers are killed with it at the deadline) and only `env` for environment.
RunResult run_with_deadline(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                            const fs::path& out, const fs::path& err, std::chrono::seconds limit) {
  x0x::ProcessSpec spec;
  spec.argv = argv;
  spec.env = env;
  spec.clear_env = true;
  spec.out = x0x::Stdio::write_to(out);
  spec.err = x0x::Stdio::write_to(err);
  spec.new_process_group = true;
  auto r = x0x::run_process(spec, std::chrono::duration_cast<std::chrono::milliseconds>(limit));
  return {r.timed_out, r.exited() ? r.exit_code() : 128};
}

// zlib is loaded at run time: the test binary's link line is not ours to change.
using UncompressFn = decltype(&::uncompress);
UncompressFn load_uncompress() {
  static void* lib = ::dlopen("libz.so.1", RTLD_NOW);
  if (!lib) return nullptr;
  return reinterpret_cast<UncompressFn>(::dlsym(lib, "uncompress"));
}

struct Image {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // width*height*3
};

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

// An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes).
Image decode_png(const std::string& png) {
  REQUIRE(png.size() > 8);
  REQUIRE(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  Image img;
  int colour_type = -1, channels = 0;
  std::string idat;
  for (std::size_t p = 8; p + 8 <= png.size();) {
    auto len = be32(png, p);
    auto type = png.substr(p + 4, 4);
    REQUIRE(p + 12 + len <= png.size());
    if (type == "IHDR") {
      img.width = be32(png, p + 8);
      img.height = be32(png, p + 12);
      REQUIRE(std::uint8_t(png[p + 16]) == 8);  // bit depth
      colour_type = std::uint8_t(png[p + 17]);
      REQUIRE(std::uint8_t(png[p + 20]) == 0);  // not interlaced
    } else if (type == "IDAT") {
      idat += png.substr(p + 8, len);
    } else if (type == "IEND") {
      break;
    }
    p += 12 + len;
  }
  REQUIRE((colour_type == 2 || colour_type == 6));
  channels = colour_type == 6 ? 4 : 3;
  std::size_t stride = std::size_t(img.width) * channels;
  std::vector<std::uint8_t> raw((stride + 1) * img.height);
  auto uncompress_fn = load_uncompress();
  REQUIRE(uncompress_fn != nullptr);
  uLongf raw_len = raw.size();
  REQUIRE(uncompress_fn(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) == Z_OK);
  REQUIRE(raw_len == raw.size());
  std::vector<std::uint8_t> prev(stride, 0), cur(stride);
  img.rgb.reserve(std::size_t(img.width) * img.height * 3);
  for (std::uint32_t y = 0; y < img.height; ++y) {
    const std::uint8_t* line = raw.data() + y * (stride + 1);
    int filter = line[0];
    for (std::size_t i = 0; i < stride; ++i) {
      int a = i >= std::size_t(channels) ? cur[i - channels] : 0, b = prev[i], c = i >= std::size_t(channels) ? prev[i - channels] : 0;
      int x = line[1 + i], v = 0;
      switch (filter) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + (a + b) / 2; break;
        case 4: {
          int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default: FAIL("bad PNG filter " << filter);
      }
      cur[i] = std::uint8_t(v);
    }
    for (std::uint32_t px = 0; px < img.width; ++px)
      for (int ch = 0; ch < 3; ++ch) img.rgb.push_back(cur[px * channels + ch]);
    std::swap(prev, cur);
  }
  return img;
}

std::vector<std::string> chromium_argv(const fs::path& chromium, const fs::path& profile) {
  return {chromium.string(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--user-data-dir=" + profile.string(), "--no-first-run", "--no-default-browser-check",
          "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
          "--disable-breakpad", "--disable-domain-reliability", "--host-resolver-rules=MAP * ~NOTFOUND",
          "--proxy-server=127.0.0.1:9", "--window-size=1280,1600", "--hide-scrollbars"};
}

}  // namespace

TEST_CASE("report.html renders in headless Chromium: verdict, nodes and colours on screen", "[report]") {
  auto chromium = find_chromium();
  if (chromium.empty())
    FAIL("chromium is not installed: run scripts/install-deps.sh (as root) — it installs chromium for this test");
  TempDir t{"x0x-report-browser-"};
  auto verdict = nlohmann::json::parse(slurp(x0x::testing::test_data("verdicts/nogo_stale_peer.json")));
  auto html_path = t.path / "report.html";
  std::ofstream(html_path, std::ios::binary) << x0x::proofs::render_report_html(verdict);
  std::vector<std::pair<std::string, std::string>> env = {{"HOME", t.path.string()},
                                                          {"XDG_CONFIG_HOME", (t.path / "config").string()},
                                                          {"XDG_CACHE_HOME", (t.path / "cache").string()},
                                                          {"PATH", "/usr/bin:/bin"},
                                                          {"LANG", "C.UTF-8"}};
  auto url = "file://" + html_path.string();

  auto png_path = t.path / "shot.png";
  auto shot = chromium_argv(chromium, t.path / "profile-shot");
  shot.push_back("--screenshot=" + png_path.string());
  shot.push_back(url);
  auto r = run_with_deadline(shot, env, t.path / "shot.out", t.path / "shot.err", std::chrono::seconds(90));
  INFO("chromium stderr: " << slurp(t.path / "shot.err").substr(0, 2000));
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.exit_status == 0);
  REQUIRE(fs::exists(png_path));
  auto img = decode_png(slurp(png_path));
  CHECK(img.width == 1280);
  CHECK(img.height == 1600);
  std::size_t pixels = std::size_t(img.width) * img.height, non_white = 0, header_red = 0, pass_green = 0;
  std::set<std::uint32_t> colours;
  for (std::size_t i = 0; i < pixels; ++i) {
    int R = img.rgb[i * 3], G = img.rgb[i * 3 + 1], B = img.rgb[i * 3 + 2];
    if (R < 245 || G < 245 || B < 245) ++non_white;
    if (std::abs(R - 0xb4) < 12 && std::abs(G - 0x23) < 12 && std::abs(B - 0x18) < 12) ++header_red;  // NO-GO banner
    if (std::abs(R - 0xda) < 8 && std::abs(G - 0xfb) < 8 && std::abs(B - 0xe1) < 8) ++pass_green;      // "pass" cells
    colours.insert((std::uint32_t(R) << 16) | (std::uint32_t(G) << 8) | std::uint32_t(B));
  }
  INFO("non-white " << non_white << " of " << pixels << ", distinct colours " << colours.size() << ", banner " << header_red
                    << ", pass cells " << pass_green);
  CHECK(non_white * 100 >= pixels * 3);
  CHECK(colours.size() >= 8);
  CHECK(header_red * 100 >= pixels * 1);  // the CSS applied: the banner spans the page width
  CHECK(pass_green > 500);

  auto dom = chromium_argv(chromium, t.path / "profile-dom");
  dom.push_back("--dump-dom");
  dom.push_back(url);
  auto d = run_with_deadline(dom, env, t.path / "dom.out", t.path / "dom.err", std::chrono::seconds(90));
  INFO("chromium stderr: " << slurp(t.path / "dom.err").substr(0, 2000));
  REQUIRE_FALSE(d.timed_out);
  REQUIRE(d.exit_status == 0);
  auto text = slurp(t.path / "dom.out");
  CHECK(text.find("<div class=\"word\">NO-GO</div>") != std::string::npos);
  CHECK(text.find("helsinki") != std::string::npos);
  CHECK(text.find("nyc: dispatcher_timed_out delta 7 &gt; gate 5") != std::string::npos);
  // The parsed DOM kept every SVG (an unbalanced tag would have swallowed the rest).
  CHECK(text.find("aria-label=\"fault timeline\"") != std::string::npos);
}
