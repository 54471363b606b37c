// File helpers shared by the tests. Header-only: the unit test binary links
// none of tests/support/*.cpp.
#pragma once
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "core/encoding.h"

namespace x0x::testing {

// The whole file; "" when it cannot be read.
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces the file's content; perms, when given, are set afterwards.
inline void write_file(const std::filesystem::path& p, std::string_view data,
                       std::optional<std::filesystem::perms> perms = std::nullopt) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  if (perms) std::filesystem::permissions(p, *perms);
}

// A temporary directory removed with everything in it when the test ends.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "x0x-test-")
      : path(std::filesystem::temp_directory_path() / (prefix + random_hex(4))) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace x0x::testing
