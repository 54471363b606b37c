// Headless Chromium for the report tests: render a local HTML file to a PNG
// (decoded here) and dump its DOM. Chromium runs as a child in its own
// process group with a deadline, HOME and profile in a temp dir, and every
// host name resolving to nothing, so it cannot reach any network.
// Header-only: the test binaries link none of tests/support/*.cpp for it.
#pragma once
#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/process.h"
#include "tests/support/files.h"

namespace x0x::testing::browser {

namespace fs = std::filesystem;

inline fs::path find_chromium() {
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
inline RunResult run_with_deadline(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
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
inline UncompressFn load_uncompress() {
  static void* lib = ::dlopen("libz.so.1", RTLD_NOW);
  if (!lib) return nullptr;
  return reinterpret_cast<UncompressFn>(::dlsym(lib, "uncompress"));
}

struct Image {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // width*height*3
};

inline std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

// An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes).
inline Image decode_png(const std::string& png) {
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

// Pixels within `tolerance` of an RGB colour on every channel.
inline std::size_t count_colour(const Image& img, std::uint32_t rgb, int tolerance) {
  int r = int(rgb >> 16), g = int((rgb >> 8) & 0xff), b = int(rgb & 0xff);
  std::size_t n = 0;
  for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    n += std::abs(img.rgb[i] - r) < tolerance && std::abs(img.rgb[i + 1] - g) < tolerance && std::abs(img.rgb[i + 2] - b) < tolerance;
  return n;
}

inline std::vector<std::string> chromium_argv(const fs::path& chromium, const fs::path& profile, int width = 1280, int height = 1600) {
  return {chromium.string(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--user-data-dir=" + profile.string(), "--no-first-run", "--no-default-browser-check",
          "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
          "--disable-breakpad", "--disable-domain-reliability", "--host-resolver-rules=MAP * ~NOTFOUND",
          "--proxy-server=127.0.0.1:9", "--window-size=" + std::to_string(width) + "," + std::to_string(height),
          "--hide-scrollbars"};
}

// The environment Chromium gets: everything it writes stays under `dir`.
inline std::vector<std::pair<std::string, std::string>> chromium_env(const fs::path& dir) {
  return {{"HOME", dir.string()},
          {"XDG_CONFIG_HOME", (dir / "config").string()},
          {"XDG_CACHE_HOME", (dir / "cache").string()},
          {"PATH", "/usr/bin:/bin"},
          {"LANG", "C.UTF-8"}};
}

// `html` rendered to a PNG of width × height (decoded), each run with its own profile under `dir`.
inline Image screenshot(const fs::path& chromium, const fs::path& html, const fs::path& dir, const std::string& tag, int width = 1280,
                        int height = 1600) {
  auto png = dir / (tag + ".png");
  auto argv = chromium_argv(chromium, dir / ("profile-" + tag), width, height);
  argv.push_back("--screenshot=" + png.string());
  argv.push_back("file://" + html.string());
  auto r = run_with_deadline(argv, chromium_env(dir), dir / (tag + ".out"), dir / (tag + ".err"), std::chrono::seconds(90));
  INFO("chromium stderr: " << slurp(dir / (tag + ".err")).substr(0, 2000));
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.exit_status == 0);
  REQUIRE(fs::exists(png));
  return decode_png(slurp(png));
}

// The DOM Chromium parsed from `html`, serialised.
inline std::string dump_dom(const fs::path& chromium, const fs::path& html, const fs::path& dir, const std::string& tag) {
  auto argv = chromium_argv(chromium, dir / ("profile-" + tag));
  argv.push_back("--dump-dom");
  argv.push_back("file://" + html.string());
  auto r = run_with_deadline(argv, chromium_env(dir), dir / (tag + ".out"), dir / (tag + ".err"), std::chrono::seconds(90));
  INFO("chromium stderr: " << slurp(dir / (tag + ".err")).substr(0, 2000));
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.exit_status == 0);
  return slurp(dir / (tag + ".out"));
}

}  // namespace x0x::testing::browser
