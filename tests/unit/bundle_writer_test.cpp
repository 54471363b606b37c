#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/encoding.h"
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
