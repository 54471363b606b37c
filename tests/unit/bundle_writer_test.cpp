#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <thread>
#include <fstream>
#include <sstream>

#include "core/encoding.h"
#include "core/sha256.h"
#include "proofs/bundle_writer.h"
#include "tests/support/files.h"

using namespace x0x::proofs;
namespace fs = std::filesystem;

namespace {
using x0x::testing::slurp;
}  // namespace

TEST_CASE("bundle: secrets and bearer headers never reach a file — the manifest verifies") {
  auto dir = fs::temp_directory_path() / ("x0x-bundle-" + x0x::random_hex(4));
  std::string token(64, 'e');
  {
    BundleWriter b(dir, "harvest", {{"argv", "curl -H 'Authorization: Bearer " + token + "'"}});
    b.redactor().add_secret(token);
    b.write_text("harvest/nyc/log.txt", "token=" + token + "\nAuthorization: Bearer abc.def-123\n");
    b.write_json("harvest/nyc/status.json", {{"token", token}});
    CHECK_FALSE(verify_bundle(dir).empty());  // not complete yet
    b.finish(0);
  }
  CHECK(verify_bundle(dir).empty());
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) {
      auto text = slurp(e.path());
      CHECK(text.find(token) == std::string::npos);
      CHECK(text.find("abc.def-123") == std::string::npos);
    }
  CHECK(slurp(dir / "harvest/nyc/log.txt").find("Bearer [REDACTED]") != std::string::npos);

  { std::ofstream(dir / "harvest/nyc/log.txt", std::ios::app) << "tampered\n"; }
  { std::ofstream(dir / "stray.txt") << "x"; }
  auto problems = verify_bundle(dir);
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0] + problems[1], Catch::Contains("sha256 differs") && Catch::Contains("stray.txt: not listed"));
  fs::remove_all(dir);
}

TEST_CASE("bundle: file names cannot escape the bundle") {
  auto dir = fs::temp_directory_path() / ("x0x-bundle-" + x0x::random_hex(4));
  BundleWriter b(dir, "t");
  CHECK_THROWS_AS(b.write_text("../escape.txt", "x"), std::invalid_argument);
  CHECK_THROWS_AS(b.write_text("/etc/passwd", "x"), std::invalid_argument);
  fs::remove_all(dir);
}

TEST_CASE("bundle: a sub-bundle listed by its manifest is verified in turn, and its files count as listed") {
  auto dir = fs::temp_directory_path() / ("x0x-bundle-" + x0x::random_hex(4));
  {
    BundleWriter outer(dir, "soak");
    {
      BundleWriter window(dir / "windows" / "001", "launch-readiness");
      window.write_text("summary.md", "GO\n");
      window.write_text("diagnostics/baseline/nyc-post.json", "{}\n");
      window.finish(0);
    }
    outer.adopt_bundle("windows/001");
    outer.write_text("soak.json", "{}\n");
    outer.finish(0);
  }
  CHECK(verify_bundle(dir).empty());
  {
    auto m = slurp(dir / "manifest.json");
    CHECK(m.find("windows/001/manifest.json") != std::string::npos);
    CHECK(m.find("windows/001/summary.md") == std::string::npos);  // one entry per sub-bundle
  }
  SECTION("a changed file inside the sub-bundle is named with its path") {
    { std::ofstream(dir / "windows/001/summary.md", std::ios::app) << "edited\n"; }
    auto problems = verify_bundle(dir);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] == "windows/001/summary.md: sha256 differs from the manifest");
  }
  SECTION("an extra file inside the sub-bundle is named") {
    { std::ofstream(dir / "windows/001/extra.txt") << "x"; }
    auto problems = verify_bundle(dir);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] == "windows/001/extra.txt: not listed in the manifest");
  }
  SECTION("a rewritten sub-manifest no longer matches the outer manifest") {
    { std::ofstream(dir / "windows/001/manifest.json", std::ios::app) << " "; }
    auto problems = verify_bundle(dir);
    REQUIRE_FALSE(problems.empty());
    CHECK(problems[0] == "windows/001/manifest.json: sha256 differs from the manifest");
  }
  fs::remove_all(dir);
}

TEST_CASE("bundle: a hostile manifest cannot use the sub-bundle mark to escape or recurse without end") {
  auto dir = fs::temp_directory_path() / ("x0x-bundle-" + x0x::random_hex(4));
  fs::create_directories(dir / "a");
  std::ofstream(dir / "a" / "notes.txt") << "x";
  auto sum = [&](const fs::path& p) { return x0x::sha256_hex(slurp(p)); };
  // "bundle": true on a file that is not a manifest.json
  std::ofstream(dir / "manifest.json") << nlohmann::json{{"complete", true},
                                                         {"files", {{"a/notes.txt", {{"sha256", sum(dir / "a" / "notes.txt")}, {"bundle", true}}}}}}
                                              .dump();
  auto problems = verify_bundle(dir);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "a/notes.txt: marked as a bundle but not a sub-folder's manifest.json");
  // A manifest that lists itself as its own sub-bundle through a chain of folders stops at the nesting limit.
  fs::path p = dir;
  for (int i = 0; i < 6; ++i) p /= "n";
  fs::create_directories(p);
  std::ofstream(p / "manifest.json") << R"({"complete": true, "files": {}})";
  for (fs::path q = p; q != dir; q = q.parent_path()) {
    auto inner = q / "n" / "manifest.json";
    nlohmann::json files = nlohmann::json::object();
    if (fs::exists(inner)) files["n/manifest.json"] = {{"sha256", sum(inner)}, {"bundle", true}};
    if (q != p) std::ofstream(q / "manifest.json") << nlohmann::json{{"complete", true}, {"files", files}}.dump();
  }
  nlohmann::json top = {{"complete", true}, {"files", {{"n/manifest.json", {{"sha256", sum(dir / "n" / "manifest.json")}, {"bundle", true}}}}}};
  fs::remove_all(dir / "a");
  std::ofstream(dir / "manifest.json") << top.dump();
  problems = verify_bundle(dir);
  REQUIRE_FALSE(problems.empty());
  CHECK_THAT(problems.front(), Catch::Contains("bundles nested deeper than"));
  fs::remove_all(dir);
}

TEST_CASE("bundle: secrets registered while other threads write are safe and redacted from then on") {
  // A harvest registers each node's token from its worker thread while the
  // others write files; the secrets list used to grow under a reader.
  auto dir = fs::temp_directory_path() / ("x0x-bundle-" + x0x::random_hex(4));
  {
    BundleWriter b(dir, "t");
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 3; ++t)
      writers.emplace_back([&, t] {
        for (int i = 0; !stop.load(); ++i) b.write_text("w" + std::to_string(t) + ".txt", std::string(2000, 'x') + std::to_string(i));
      });
    for (int i = 0; i < 2000; ++i) b.redactor().add_secret("secret-token-" + std::to_string(i) + "-" + std::string(16, 'k'));
    stop = true;
    for (auto& w : writers) w.join();
    b.write_text("after.txt", "secret-token-1999-" + std::string(16, 'k') + "\n");
    b.finish(0);
  }
  CHECK(slurp(dir / "after.txt") == "[REDACTED]\n");
  CHECK(verify_bundle(dir).empty());
  fs::remove_all(dir);
}
