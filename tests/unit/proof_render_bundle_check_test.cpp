#include <catch2/catch.hpp>

#include <fstream>

#include "core/encoding.h"
#include "proofs/bundle_check.h"
#include "proofs/bundle_writer.h"
#include "proofs/renderers.h"
#include "proof_render_fixtures.h"

using namespace x0x::proofs;
using x0x::test::load_verdict_fixture;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("x0x-proof-check-" + x0x::random_hex(6));
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A finished gate-like bundle: verdict.json, the reports and two raw files.
void write_bundle(const fs::path& dir, const nlohmann::json& verdict) {
  BundleWriter b(dir, "gate");
  b.write_json("verdict.json", verdict);
  for (auto& [name, body] : render_all(verdict)) b.write_text(name, body);
  b.write_json("diagnostics/baseline/nyc-pre.json", {{"ok", true}});
  b.write_json("diagnostics/baseline/nyc-post.json", {{"ok", true}});
  b.finish(1);
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
  for (auto& l : lines)
    if (l.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("proof check: a clean bundle verifies, each changed, extra or missing file is named", "[proofs][bundle_check]") {
  TempDir t;
  write_bundle(t.path, load_verdict_fixture("nogo_stale_peer.json"));
  auto clean = check_bundle(t.path);
  CHECK(clean.is_bundle);
  CHECK(clean.problems.empty());
  CHECK(clean.files == 7);

  SECTION("one flipped byte") {
    auto p = t.path / "diagnostics/baseline/nyc-post.json";
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2);
    f.put('X');
    f.close();
    auto c = check_bundle(t.path);
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0] == "diagnostics/baseline/nyc-post.json: sha256 differs from the manifest");
  }
  SECTION("an extra file") {
    std::ofstream(t.path / "diagnostics/baseline/planted.json") << "{}";
    auto c = check_bundle(t.path);
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0] == "diagnostics/baseline/planted.json: not listed in the manifest");
  }
  SECTION("a deleted file") {
    fs::remove(t.path / "summary.csv");
    auto c = check_bundle(t.path);
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0] == "summary.csv: listed in the manifest but missing");
  }
}

TEST_CASE("proof check: rendered/ is accepted only while it equals a fresh render of verdict.json", "[proofs][bundle_check]") {
  TempDir t;
  auto verdict = load_verdict_fixture("notrun_unknowns.json");
  write_bundle(t.path, verdict);
  fs::create_directories(t.path / kRenderedDir);
  for (auto& [name, body] : render_all(verdict)) std::ofstream(t.path / kRenderedDir / name, std::ios::binary) << body;
  auto c = check_bundle(t.path);
  CHECK(c.problems.empty());
  CHECK(c.notes.size() == 4);

  SECTION("an edited rendered report is a problem") {
    std::ofstream(t.path / kRenderedDir / "report.html", std::ios::app) << "<!-- edited -->";
    auto e = check_bundle(t.path);
    REQUIRE(e.problems.size() == 1);
    CHECK(e.problems[0] == "rendered/report.html: not listed in the manifest");
  }
  SECTION("another file under rendered/ is a problem") {
    std::ofstream(t.path / kRenderedDir / "notes.txt") << "hi";
    CHECK(mentions(check_bundle(t.path).problems, "rendered/notes.txt: not listed"));
  }
  SECTION("a changed verdict.json makes the rendered copies suspect too") {
    std::ofstream(t.path / "verdict.json", std::ios::app) << " ";
    auto e = check_bundle(t.path);
    CHECK(mentions(e.problems, "verdict.json: sha256 differs"));
    CHECK(mentions(e.problems, "rendered/summary.md: not listed"));
    CHECK(e.notes.empty());
  }
}

TEST_CASE("proof check: a directory without manifest.json is not a bundle", "[proofs][bundle_check]") {
  TempDir t;
  fs::create_directories(t.path);
  std::ofstream(t.path / "summary.md") << "# x";
  auto c = check_bundle(t.path);
  CHECK_FALSE(c.is_bundle);
  CHECK_FALSE(check_bundle(t.path / "no-such-dir").is_bundle);
}

TEST_CASE("proof rescore comparison: verdict word and (scenario, rule, node) set", "[proofs][bundle_check]") {
  auto recorded = load_verdict_fixture("nogo_stale_peer.json");
  CHECK(compare_verdicts(recorded, recorded).empty());
  auto changed = recorded;
  changed["verdict"] = "GO";
  auto& vs = changed["scenarios"][1]["violations"];
  vs.erase(vs.begin());  // the dispatcher violation on nyc
  vs.push_back({{"scenario", "stale_peer"}, {"rule", "max_recv_pump_dropped_full_delta"}, {"node", "sydney"},
                {"message", "sydney: recv_pump.dropped_full delta 1 > gate 0"}});
  auto diff = compare_verdicts(recorded, changed);
  REQUIRE(diff.size() == 3);
  CHECK(diff[0] == "verdict: recorded NO-GO, rescored GO");
  CHECK(diff[1] == "only recorded: stale_peer / max_dispatcher_timed_out_delta / nyc: nyc: dispatcher_timed_out delta 7 > gate 5");
  CHECK(diff[2] == "only rescored: stale_peer / max_recv_pump_dropped_full_delta / sydney: sydney: recv_pump.dropped_full delta 1 > gate 0");
  // A message worded differently for the same (scenario, rule, node) is not a difference.
  auto reworded = recorded;
  reworded["scenarios"][1]["violations"][0]["message"] = "reworded";
  CHECK(compare_verdicts(recorded, reworded).empty());
}
