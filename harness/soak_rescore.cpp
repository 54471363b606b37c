#include "harness/soak_rescore.h"

#include <fmt/core.h>

#include "core/contained_files.h"
#include "gates/observations_io.h"
#include "gates/scorer.h"
#include "gates/soak_policy.h"
#include "gates/soak_window.h"
#include "harness/scenario_registry.h"
#include "harness/soak_loop.h"
#include "proofs/bundle_check.h"

namespace x0x::harness {

namespace fs = std::filesystem;
using nlohmann::json;
namespace soak = gates::soak;

namespace {

constexpr std::size_t kMaxFile = 64u * 1024 * 1024;

// The recorded window with its measured fields cleared: fill_window puts them back from the bundle.
soak::SoakWindow schedule_only(const soak::SoakWindow& r) {
  soak::SoakWindow w;
  w.index = r.index;
  w.slot_unix = r.slot_unix;
  w.start_unix = r.start_unix;
  w.end_unix = r.end_unix;
  w.state = r.state;
  w.warmup = r.warmup;
  w.exit_code = r.exit_code;
  w.fleet_epoch = r.fleet_epoch;
  w.scenario = r.scenario;
  w.note = r.note;
  w.node_order = r.node_order;
  return w;
}

std::string word(const json& j, const char* key) { return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "?"; }

}  // namespace

bool is_soak_bundle(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(dir / "soak.json", ec));
}

SoakRescore rescore_soak(const fs::path& dir, const std::optional<gates::GateProfile>& gate) {
  SoakRescore out;
  auto st = load_soak_state(dir);
  out.recorded = json::parse(contained::read_file(dir, "soak.json", 256u * 1024 * 1024), nullptr, false);
  std::vector<soak::SoakWindow> windows;
  for (auto& recorded : st.windows) {
    auto w = schedule_only(recorded);
    auto rel = fmt::format("windows/{:03d}", w.index);
    auto wdir = dir / rel;
    std::error_code ec;
    bool has_dir = fs::is_directory(fs::symlink_status(wdir, ec));
    if (has_dir && (w.state == soak::WindowState::ran || w.state == soak::WindowState::missing ||
                    w.state == soak::WindowState::interrupted)) {
      auto bundle = soak::read_window_bundle(wdir, st.config.nodes);
      if (!bundle.runs.empty() && bundle.verdict.is_object()) {
        auto profile = gate ? *gate : gates::parse_profile(contained::read_file(wdir, "gate.toml", kMaxFile), (wdir / "gate.toml").string());
        auto fresh = gates::score(profile, bundle.runs, scenario_scoring).to_json(bundle.runs);
        for (auto& d : proofs::compare_verdicts(bundle.verdict, fresh)) out.differences.push_back(rel + ": " + d);
        bundle.verdict = std::move(fresh);
        ++out.windows_rescored;
      }
      soak::fill_window(w, bundle);
      if (w.state != soak::WindowState::ran) w.verdict.reset();  // a missing/abandoned window stays so
    }
    windows.push_back(std::move(w));
  }
  auto config = st.config;
  if (gate) {
    config.gate = gate->name;
    config.gate_source = gate->source;
  }
  auto result = soak::evaluate_soak(config, windows);
  out.rescored = soak_document(config, st.run, windows, result, st.gaps, st.warnings, st.state, st.fleet_epoch);

  const auto& a = out.recorded;
  const auto& b = out.rescored;
  if (word(a, "verdict") != word(b, "verdict"))
    out.differences.push_back("soak verdict: recorded " + word(a, "verdict") + ", rescored " + word(b, "verdict"));
  auto aw = a.value("windows", json::array()), bw = b.value("windows", json::array());
  if (aw.size() != bw.size()) out.differences.push_back(fmt::format("windows: recorded {}, rescored {}", aw.size(), bw.size()));
  for (std::size_t i = 0; i < std::min(aw.size(), bw.size()); ++i)
    for (auto* key : {"verdict", "class"})
      if (word(aw[i], key) != word(bw[i], key))
        out.differences.push_back(fmt::format("window {:03d} {}: recorded {}, rescored {}", i + 1, key, word(aw[i], key), word(bw[i], key)));
  auto ar = a.value("rules", json::array()), br = b.value("rules", json::array());
  for (std::size_t i = 0; i < std::min(ar.size(), br.size()); ++i)
    if (word(ar[i], "status") != word(br[i], "status") || word(ar[i], "rule") != word(br[i], "rule"))
      out.differences.push_back(fmt::format("rule {}: recorded {}, rescored {} ({})", word(br[i], "rule"), word(ar[i], "status"),
                                            word(br[i], "status"), word(br[i], "detail")));
  return out;
}

}  // namespace x0x::harness
