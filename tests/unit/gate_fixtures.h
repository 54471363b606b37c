// The repository root, the diagnostics fixtures of tests/data/gates/ and a
// successful fetch of a body, for the gate unit tests.
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "gates/counters.h"
#include "gates/scorer.h"
#include "harness/scenario_registry.h"
#include "tests/support/source_dir.h"

namespace x0x::testing {

inline std::filesystem::path repo_root() { return source_dir(); }

inline nlohmann::json gate_fixture(const std::string& name) {
  std::ifstream in(repo_root() / "tests" / "data" / "gates" / name);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

// A successful fetch (HTTP 200) of `body`, stamped at one fixed instant.
inline gates::RawFetch ok(nlohmann::json body) {
  gates::RawFetch f;
  f.fetched = true;
  f.http_status = 200;
  f.body = std::move(body);
  f.unix_time = 1779123400;
  return f;
}

// Scored as the tool scores: with the scenario registry's own rules and exemptions.
inline gates::RunVerdict score(const gates::GateProfile& p, const std::vector<gates::ScenarioRun>& runs) {
  return gates::score(p, runs, harness::scenario_scoring);
}

}  // namespace x0x::testing
