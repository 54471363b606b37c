// The repository root and the diagnostics fixtures of tests/data/gates/, for the gate unit tests.
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace x0x::testing {

inline std::filesystem::path repo_root() { return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path(); }

inline nlohmann::json gate_fixture(const std::string& name) {
  std::ifstream in(repo_root() / "tests" / "data" / "gates" / name);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

}  // namespace x0x::testing
