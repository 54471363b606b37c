// `x0xctl proof verify|rescore|render`: check a bundle's manifest, re-score a
// gate bundle from its raw snapshots, and re-render its reports. None of them
// changes the bundle, except `render` adding DIR/rendered/ (which `verify`
// accepts only while it matches a fresh render of the verified verdict.json).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "gates/observations_io.h"
#include "gates/profile.h"
#include "gates/scorer.h"
#include "harness/scenario_registry.h"
#include "proofs/bundle_check.h"
#include "proofs/bundle_writer.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// verdict.json of a bundle, or an error naming the file.
json read_verdict(const fs::path& dir) {
  auto path = dir / "verdict.json";
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path.string() + ": missing (not a gate bundle)");
  auto j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::invalid_argument(path.string() + ": not a JSON object");
  if (!j.contains("verdict") || !j.contains("scenarios")) throw std::invalid_argument(path.string() + ": no \"verdict\" or \"scenarios\"");
  return j;
}

void write_file(const fs::path& p, const std::string& body) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << body;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

int run_verify(const fs::path& dir) {
  auto check = proofs::check_bundle(dir);
  if (!check.is_bundle) {
    fmt::print(stderr, "x0xctl proof verify: {} is not a bundle (no manifest.json)\n", dir.string());
    return kExitUsage;
  }
  for (auto& n : check.notes) fmt::print("note: {}\n", n);
  for (auto& p : check.problems) fmt::print("{}\n", p);
  if (!check.problems.empty()) {
    fmt::print("bundle NOT ok: {} problem(s); {} file(s) in the manifest\n", check.problems.size(), check.files);
    return kExitFail;
  }
  fmt::print("bundle ok: {} files verified\n", check.files);
  return kExitPass;
}

// The profile a bundle was scored with: --gate, else the copy in the bundle,
// else the file it came from, else the gate's name.
gates::GateProfile rescore_profile(const fs::path& dir, const json& recorded, const std::string& gate) {
  if (!gate.empty()) return gates::resolve_profile(gate);
  std::error_code ec;
  if (fs::is_regular_file(dir / "gate.toml", ec)) return gates::load_profile_file(dir / "gate.toml");
  auto source = recorded.value("gate_source", std::string());
  if (!source.empty() && source.rfind("built-in:", 0) != 0 && fs::is_regular_file(source, ec))
    return gates::load_profile_file(source);
  auto name = recorded.value("gate", std::string());
  if (name.empty()) throw std::invalid_argument((dir / "verdict.json").string() + ": no \"gate\"; pass --gate NAME|PATH");
  return gates::resolve_profile(name);
}

int run_rescore(const fs::path& dir, const std::string& gate, const std::string& write_to) {
  std::error_code ec;
  if (!write_to.empty() && fs::exists(write_to, ec) && fs::equivalent(write_to, dir, ec))
    throw std::invalid_argument("--write-to must not be the bundle itself (rescore never modifies a bundle)");
  auto recorded = read_verdict(dir);
  auto runs = gates::read_scenario_runs(dir);
  auto profile = rescore_profile(dir, recorded, gate);
  // Scored with this tool's scenario registry, as the run was.
  auto rescored = gates::score(profile, runs, harness::scenario_scoring).to_json(runs);
  fmt::print("Rescored {} scenario(s) of {} with gate {} ({}): {}\n", runs.size(), dir.string(), profile.name, profile.source,
             rescored.value("verdict", std::string()));
  for (auto& b : rescored["blocking"]) fmt::print("  - {}\n", b.value("message", std::string()));
  if (!write_to.empty()) {
    proofs::BundleWriter out(write_to, "rescore", {{"source_bundle", fs::absolute(dir).string()}, {"gate", profile.name},
                                                    {"gate_source", profile.source}});
    out.write_json("verdict.json", rescored);
    for (auto& [name, body] : proofs::render_all(rescored)) out.write_text(name, body);
    out.write_text("gate.toml", profile.text);
    out.finish(rescored.value("verdict", "") == "GO" ? kExitPass : kExitFail);
    fmt::print("Wrote {} (verdict.json, summary.md, summary.csv, report.html, junit.xml, gate.toml)\n", write_to);
  }
  auto diff = proofs::compare_verdicts(recorded, rescored);
  if (diff.empty()) {
    fmt::print("rescore reproduces the recorded verdict: {}\n", rescored.value("verdict", std::string()));
    return kExitPass;
  }
  fmt::print("rescore differs from the recorded verdict ({} difference(s)):\n", diff.size());
  for (auto& d : diff) fmt::print("  {}\n", d);
  return kExitFail;
}

int run_render(const fs::path& dir, const std::string& out_dir) {
  auto verdict = read_verdict(dir);
  fs::path out = out_dir.empty() ? dir / proofs::kRenderedDir : fs::path(out_dir);
  for (auto& [name, body] : proofs::render_all(verdict)) write_file(out / name, body);
  fmt::print("Rendered {} (summary.md, summary.csv, report.html, junit.xml): {}\n", out.string(), verdict.value("verdict", ""));
  return kExitPass;
}

// Usage and input errors are exit 2; anything else that throws is a failure.
template <class F>
void guarded(const char* verb, int& exit_code, F f) {
  try {
    exit_code = f();
  } catch (const gates::ProfileError& e) {
    fmt::print(stderr, "x0xctl proof {}: {}\n", verb, e.what());
    exit_code = kExitUsage;
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "x0xctl proof {}: {}\n", verb, e.what());
    exit_code = kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "x0xctl proof {}: {}\n", verb, e.what());
    exit_code = kExitUsage;  // read_scenario_runs names the bad file: the bundle is not usable input
  }
}

}  // namespace

void register_proof(CLI::App& app, int& exit_code) {
  auto* proof = app.add_subcommand("proof", "Verify, re-score and re-render evidence bundles");
  proof->require_subcommand(1);

  auto verify_dir = std::make_shared<std::string>();
  auto* verify = proof->add_subcommand("verify", "Check every file of a bundle against its manifest (sha256); exit 1 on any "
                                                 "changed, missing or unlisted file, 2 if DIR is not a bundle");
  verify->add_option("DIR", *verify_dir, "bundle directory")->required();
  verify->callback([=, &exit_code] { guarded("verify", exit_code, [&] { return run_verify(*verify_dir); }); });

  auto rescore_dir = std::make_shared<std::string>();
  auto gate = std::make_shared<std::string>();
  auto write_to = std::make_shared<std::string>();
  auto* rescore = proof->add_subcommand("rescore", "Re-score a gate bundle from its raw snapshots and compare with its "
                                                   "verdict.json (exit 1 if they differ); never modifies the bundle");
  rescore->add_option("DIR", *rescore_dir, "gate bundle directory")->required();
  rescore->add_option("--gate", *gate, "profile NAME or PATH (default: the bundle's gate.toml, else the recorded gate)");
  rescore->add_option("--write-to", *write_to, "write the new verdict.json and reports into this new bundle");
  rescore->callback([=, &exit_code] { guarded("rescore", exit_code, [&] { return run_rescore(*rescore_dir, *gate, *write_to); }); });

  auto render_dir = std::make_shared<std::string>();
  auto render_out = std::make_shared<std::string>();
  auto* render = proof->add_subcommand("render", "Re-render summary.md, summary.csv, report.html and junit.xml from a "
                                                 "bundle's verdict.json into DIR/rendered/");
  render->add_option("DIR", *render_dir, "gate bundle directory")->required();
  render->add_option("--out", *render_out, "output directory (default DIR/rendered)");
  render->callback([=, &exit_code] { guarded("render", exit_code, [&] { return run_render(*render_dir, *render_out); }); });
}

}  // namespace x0x::cli
