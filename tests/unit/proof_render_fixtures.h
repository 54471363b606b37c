// Loads the verdict.json fixtures of tests/data/verdicts/ for the renderer tests.
#pragma once
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/source_dir.h"

namespace x0x::test {

inline std::filesystem::path verdict_fixture_path(const std::string& name) {
  return x0x::testing::test_data("verdicts") / name;
}

// go_baseline_fanout.json, nogo_stale_peer.json, notrun_unknowns.json
inline nlohmann::json load_verdict_fixture(const std::string& name) {
  std::ifstream in(verdict_fixture_path(name));
  if (!in) throw std::runtime_error("missing fixture " + verdict_fixture_path(name).string());
  return nlohmann::json::parse(in);
}

inline std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

}  // namespace x0x::test
