// The repository's root, as CMake saw it. Not derived from __FILE__: a
// compiler cache with base_dir set (ccache) makes __FILE__ relative to the
// build directory, and tests that change directory then miss their data.
#pragma once
#include <filesystem>

namespace x0x::testing {
inline std::filesystem::path source_dir() { return X0X_SOURCE_DIR; }
inline std::filesystem::path test_data(const std::filesystem::path& rel) { return source_dir() / "tests" / "data" / rel; }
}  // namespace x0x::testing
