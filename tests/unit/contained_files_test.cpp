// core/contained_files.h: paths stay inside their root, no symlink is followed,
// only regular files of bounded size are read, writes replace rather than follow.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "core/contained_files.h"
#include "tests/support/files.h"

using namespace x0x;
using x0x::testing::slurp;
using x0x::testing::TempDir;
using x0x::testing::write_file;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

TEST_CASE("contained: a relative path with no way out is the only kind accepted") {
  CHECK(contained::checked_relative("a/b.json") == fs::path("a/b.json"));
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/"})
    CHECK_THROWS_AS(contained::checked_relative(bad), contained::ContainedError);
  CHECK_THROWS_AS(contained::checked_relative(std::string("a\0b", 3)), contained::ContainedError);
}

TEST_CASE("contained: reads regular files only, refuses symlinks on the way, FIFOs and oversize files") {
  TempDir root, outside;
  fs::create_directories(root.path / "d");
  write_file(root.path / "d/f.txt", "hello");
  write_file(outside.path / "secret", "secret");
  CHECK(contained::read_file(root.path, "d/f.txt", 100) == "hello");
  CHECK(contained::sha256_file(root.path, "d/f.txt") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  CHECK_THROWS_WITH(contained::read_file(root.path, "d/f.txt", 4), Contains("larger than 4 bytes"));

  fs::create_symlink(outside.path / "secret", root.path / "d/link");
  CHECK_THROWS_WITH(contained::read_file(root.path, "d/link", 100), Contains("d/link: is a symlink"));
  fs::create_directory_symlink(outside.path, root.path / "dirlink");
  CHECK_THROWS_WITH(contained::read_file(root.path, "dirlink/secret", 100), Contains("dirlink is a symlink or not a folder"));
  REQUIRE(::mkfifo((root.path / "d/pipe").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(contained::read_file(root.path, "d/pipe", 100), Contains("not a regular file"));  // returns at once
  CHECK_THROWS_WITH(contained::sha256_file(root.path, "d/pipe"), Contains("not a regular file"));
  CHECK_THROWS_WITH(contained::read_file(root.path, "d", 100), Contains("not a regular file"));
  // Missing is not hostile: a plain runtime_error.
  try {
    contained::read_file(root.path, "d/none", 100);
    FAIL("no throw");
  } catch (const contained::ContainedError&) {
    FAIL("missing reported as hostile");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "d/none: missing");
  }
}

TEST_CASE("contained: a write replaces a symlink in place and never writes through one") {
  TempDir root, outside;
  write_file(outside.path / "target", "keep");
  fs::create_directories(root.path / "out");
  fs::create_symlink(outside.path / "target", root.path / "out/file");
  contained::write_file(root.path, "out/file", "new");
  CHECK(slurp(outside.path / "target") == "keep");
  CHECK_FALSE(fs::is_symlink(root.path / "out/file"));
  CHECK(slurp(root.path / "out/file") == "new");

  contained::write_file(root.path, "fresh/a/b.txt", "made");  // parents created
  CHECK(slurp(root.path / "fresh/a/b.txt") == "made");

  fs::create_directory_symlink(outside.path, root.path / "via");
  CHECK_THROWS_WITH(contained::write_file(root.path, "via/x", "no"), Contains("via is a symlink or not a folder"));
  CHECK_FALSE(fs::exists(outside.path / "x"));
  CHECK_THROWS_AS(contained::write_file(root.path, "../escape", "no"), contained::ContainedError);
  CHECK_FALSE(fs::exists(root.path.parent_path() / "escape"));
}
