// `x0xctl proof verify|rescore|render|diff`: check a bundle's manifest, re-score a
// gate bundle from its raw snapshots, re-render its reports, and compare two
// bundles. None of them changes a bundle, except `render` adding DIR/rendered/
// (which `verify` accepts only while it matches a fresh render of the verified
// verdict.json).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "core/contained_files.h"
#include "core/text.h"
#include "gates/observations_io.h"
#include "gates/profile.h"
#include "gates/scorer.h"
#include "harness/scenario_registry.h"
#include "harness/soak_rescore.h"
#include "proofs/bundle_check.h"
#include "proofs/bundle_diff.h"
#include "proofs/bundle_read.h"
#include "proofs/bundle_writer.h"
#include "proofs/soak_renderers.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {


// A bundle that is not what it claims (a path leaving it, a symlink, a FIFO, a
// file too large): exit 1 with the reason, as a failed check, not a usage error.
struct HostileBundle : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string bundle_file(const fs::path& dir, const std::string& rel) {
  try {
    return contained::read_file(dir, rel, proofs::kMaxManifestBytes);
  } catch (const contained::ContainedError& e) {
    throw HostileBundle(dir.string() + ": " + printable(e.what()));
  } catch (const std::runtime_error&) {  // absent
    throw std::invalid_argument((dir / rel).string() + ": missing (not a gate bundle)");
  }
}

// verdict.json of a bundle, or an error naming the file.
json read_verdict(const fs::path& dir) {
  auto path = dir / "verdict.json";
  auto j = json::parse(bundle_file(dir, "verdict.json"), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::invalid_argument(path.string() + ": not a JSON object");
  if (!j.contains("verdict") || !j.contains("scenarios")) throw std::invalid_argument(path.string() + ": no \"verdict\" or \"scenarios\"");
  return j;
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
// else the built-in profile the bundle names. Never a file a bundle points to:
// a reviewer's rescore must not load what the bundle's author chose.
gates::GateProfile rescore_profile(const fs::path& dir, const json& recorded, const std::string& gate) {
  if (!gate.empty()) return gates::resolve_profile(gate);
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dir / "gate.toml", ec)))
    return gates::parse_profile(bundle_file(dir, "gate.toml"), (dir / "gate.toml").string());
  auto name = recorded.value("gate", std::string());
  if (name.empty()) throw std::invalid_argument((dir / "verdict.json").string() + ": no \"gate\"; pass --gate NAME|PATH");
  auto builtin = gates::builtin_profile_names();
  if (std::find(builtin.begin(), builtin.end(), name) == builtin.end())
    throw std::invalid_argument((dir / "verdict.json").string() + ": names gate \"" + printable(name) +
                                "\", not a built-in profile, and the bundle has no gate.toml; pass --gate NAME|PATH");
  return gates::resolve_profile(name);
}

// A soak bundle: every window re-scored from its raw snapshots, the soak re-evaluated.
int run_soak_rescore(const fs::path& dir, const std::string& gate, const std::string& write_to) {
  std::optional<gates::GateProfile> profile;
  if (!gate.empty()) profile = gates::resolve_profile(gate);
  harness::SoakRescore r;
  try {
    r = harness::rescore_soak(dir, profile);
  } catch (const contained::ContainedError& e) {
    throw HostileBundle(dir.string() + ": " + printable(e.what()));
  }
  fmt::print("Rescored {} window(s) of soak {}{}: {}\n", r.windows_rescored, dir.string(),
             profile ? " with gate " + profile->name : std::string(), r.rescored.value("verdict", std::string()));
  for (auto& rule : r.rescored.value("rules", json::array()))
    fmt::print("  {:<26} {:<5} {}\n", rule.value("rule", ""), rule.value("status", ""), printable(rule.value("detail", "")));
  if (!write_to.empty()) {
    proofs::BundleWriter out(write_to, "soak-rescore", {{"source_bundle", fs::absolute(dir).string()}});
    out.write_json("soak.json", r.rescored);
    for (auto& [name, body] : proofs::render_soak_all(r.rescored)) out.write_text(name, body);
    out.finish(r.rescored.value("verdict", "") == "GO" ? kExitPass : kExitFail);
    fmt::print("Wrote {} (soak.json, timeline.csv, summary.md, report.html, junit.xml)\n", write_to);
  }
  if (r.differences.empty()) {
    fmt::print("rescore reproduces the recorded soak: {}\n", r.rescored.value("verdict", std::string()));
    return kExitPass;
  }
  fmt::print("rescore differs from the recorded soak ({} difference(s)):\n", r.differences.size());
  for (auto& d : r.differences) fmt::print("  {}\n", printable(d));
  return kExitFail;
}

int run_rescore(const fs::path& dir, const std::string& gate, const std::string& write_to) {
  std::error_code ec;
  if (!write_to.empty() && fs::exists(write_to, ec) && fs::equivalent(write_to, dir, ec))
    throw std::invalid_argument("--write-to must not be the bundle itself (rescore never modifies a bundle)");
  if (harness::is_soak_bundle(dir)) return run_soak_rescore(dir, gate, write_to);
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

// Into DIR/rendered/ (replacing earlier renders, never through a symlink), or
// into --out, which must be new or empty: nothing is written anywhere else.
int run_render(const fs::path& dir, const std::string& out_dir) {
  if (harness::is_soak_bundle(dir))
    throw std::invalid_argument(dir.string() + ": a soak bundle; its reports are in it (timeline.csv, summary.md, report.html, "
                                "junit.xml) and `proof rescore DIR --write-to NEW` renders fresh ones");
  auto verdict = read_verdict(dir);
  fs::path root = dir, sub = proofs::kRenderedDir;
  if (!out_dir.empty()) {
    std::error_code ec;
    root = out_dir;
    sub.clear();
    if (fs::is_symlink(fs::symlink_status(root, ec)) || (fs::exists(root, ec) && !fs::is_empty(root, ec)))
      throw std::invalid_argument(out_dir + ": --out must be a new or empty folder");
    fs::create_directories(root, ec);
    if (ec) throw std::runtime_error(out_dir + ": cannot create (" + ec.message() + ")");
  }
  try {
    for (auto& [name, body] : proofs::render_all(verdict)) contained::write_file(root, (sub / name).string(), body);
  } catch (const contained::ContainedError& e) {
    throw HostileBundle(root.string() + ": " + printable(e.what()));
  }
  fmt::print("Rendered {} (summary.md, summary.csv, report.html, junit.xml): {}\n", (root / sub).string(), verdict.value("verdict", ""));
  return kExitPass;
}

// Why `proof diff` cannot write an output file, or "" ("-": stdout, --json only).
std::string diff_output_problem(const std::string& flag, const std::string& path, const std::vector<fs::path>& bundles) {
  if (path.empty() || (path == "-" && flag == "--json")) return "";
  if (path == "-") return flag + " needs a FILE";
  std::error_code ec;
  fs::path p(path);
  if (p.filename().empty() || fs::is_directory(p, ec)) return flag + " " + path + ": is a directory";
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) return flag + " " + path + ": no such directory " + dir.string();
  if (fs::exists(p, ec) ? ::access(p.c_str(), W_OK) != 0 : ::access(dir.c_str(), W_OK) != 0)
    return flag + " " + path + ": not writable";
  auto out_dir = fs::canonical(dir, ec);
  for (auto& b : bundles) {  // the bundle itself or any folder in it
    auto bundle = fs::canonical(b, ec);
    if (ec || bundle.empty()) continue;
    auto [bi, oi] = std::mismatch(bundle.begin(), bundle.end(), out_dir.begin(), out_dir.end());
    if (bi == bundle.end()) return flag + " " + path + ": inside bundle " + b.string() + " (diff never changes a bundle)";
  }
  return "";
}

void write_diff_output(const std::string& flag, const std::string& path, const std::string& body) {
  if (path.empty()) return;
  if (path == "-") {
    fmt::print(stdout, "{}", body);
    std::fflush(stdout);
    return;
  }
  fs::path p(path);
  try {  // a new file renamed into place: never written through a symlink
    contained::write_file(p.has_parent_path() ? p.parent_path() : fs::path("."), p.filename().string(), body);
  } catch (const std::exception& e) {
    throw std::invalid_argument(flag + " " + path + ": cannot write (" + printable(e.what()) + ")");
  }
}

// A bundle's manifest check, said on stderr and kept as a note in the diff:
// a reviewer must know a compared bundle is not what its manifest says.
std::optional<std::string> manifest_note(const char* side, const fs::path& dir) {
  auto check = proofs::check_bundle(dir);
  if (!check.is_bundle) return std::string(side) + ": bundle NOT ok: no manifest.json (nothing vouches for its files)";
  if (check.problems.empty()) return std::nullopt;
  return std::string(side) + ": bundle NOT ok: " + std::to_string(check.problems.size()) + " problem(s), first: " +
         printable(check.problems.front());
}

// Exit 0: compared, B no worse than A; 1: B regressed; 2: usage (checked
// before anything is compared or written).
int run_diff(const fs::path& a, const fs::path& b, const std::string& json_path, const std::string& html_path) {
  for (auto& why : {diff_output_problem("--json", json_path, {a, b}), diff_output_problem("--html", html_path, {a, b})})
    if (!why.empty()) throw std::invalid_argument(why);
  std::error_code ec;
  if (!json_path.empty() && json_path != "-" && !html_path.empty() &&
      fs::absolute(json_path, ec).lexically_normal() == fs::absolute(html_path, ec).lexically_normal())
    throw std::invalid_argument("--json and --html name the same file");
  auto doc_a = proofs::read_bundle_document(a);
  auto doc_b = proofs::read_bundle_document(b);
  if (doc_a.kind != doc_b.kind)
    throw std::invalid_argument(a.string() + " is a " + std::string(proofs::to_string(doc_a.kind)) + " bundle and " + b.string() +
                                " a " + std::string(proofs::to_string(doc_b.kind)) + " bundle: only bundles of one kind can be compared");
  std::vector<std::string> notes;
  for (auto [side, dir] : {std::pair{"A", a}, std::pair{"B", b}})
    if (auto note = manifest_note(side, dir)) {
      fmt::print(stderr, "{}\n", *note);
      notes.push_back(*note);
    }
  auto diff = proofs::diff_bundles(doc_a.doc, doc_b.doc);
  diff.label_a = (a / doc_a.file).string();
  diff.label_b = (b / doc_b.file).string();
  diff.notes = notes;
  std::FILE* human = json_path == "-" ? stderr : stdout;
  fmt::print(human, "{}", proofs::render_diff_text(diff));
  std::fflush(human);
  write_diff_output("--json", json_path, diff.to_json().dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  write_diff_output("--html", html_path, proofs::render_diff_html(diff));
  return diff.regressed() ? kExitFail : kExitPass;
}

// Usage and input errors are exit 2; anything else that throws is a failure.
template <class F>
void guarded(const char* verb, int& exit_code, F f) {
  try {
    exit_code = f();
  } catch (const HostileBundle& e) {
    fmt::print(stderr, "x0xctl proof {}: hostile bundle: {}\n", verb, e.what());
    exit_code = kExitFail;
  } catch (const gates::ProfileError& e) {
    fmt::print(stderr, "x0xctl proof {}: {}\n", verb, e.what());
    exit_code = kExitUsage;
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "x0xctl proof {}: {}\n", verb, e.what());
    exit_code = kExitUsage;
  } catch (const contained::ContainedError& e) {  // from the scenario readers
    fmt::print(stderr, "x0xctl proof {}: hostile bundle: {}\n", verb, printable(e.what()));
    exit_code = kExitFail;
  } catch (const fs::filesystem_error& e) {  // our words, not the library's
    fmt::print(stderr, "x0xctl proof {}: {}: {}\n", verb, e.path1().string(), e.code().message());
    exit_code = kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "x0xctl proof {}: {}\n", verb, printable(e.what()));
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
  auto* rescore = proof->add_subcommand("rescore", "Re-score a gate or soak bundle from its raw snapshots and compare with "
                                                   "its verdict.json / soak.json (exit 1 if they differ); never modifies the bundle");
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

  auto diff_a = std::make_shared<std::string>(), diff_b = std::make_shared<std::string>();
  auto diff_json = std::make_shared<std::string>(), diff_html = std::make_shared<std::string>();
  auto* diff = proof->add_subcommand(
      "diff",
      "Compare two gate bundles (verdict.json) or two soak bundles (soak.json): verdict, rules, blocking violations, "
      "Phase A pairs and latency, counter deltas (gate); rules, policy, window classes, per-node accounting, Phase A "
      "(soak). Exit 0: compared, B no worse than A; 1: B regressed (verdict GO to anything else, a rule from pass or "
      "n/a to fail or not run, or a Phase A pair that newly fails); 2: usage (not a bundle, a hostile bundle, a gate "
      "bundle against a soak bundle, an output that cannot be written), checked before anything is written. A bundle "
      "that fails its manifest check is still compared, with a note.");
  diff->add_option("A", *diff_a, "the earlier bundle directory (last night's)")->required();
  diff->add_option("B", *diff_b, "the later bundle directory (tonight's)")->required();
  diff->add_option("--json", *diff_json, "write the diff as JSON here (- = stdout, and the text goes to stderr)");
  diff->add_option("--html", *diff_html, "write the diff as a self-contained HTML page here");
  diff->callback([=, &exit_code] {
    guarded("diff", exit_code, [&] { return run_diff(*diff_a, *diff_b, *diff_json, *diff_html); });
  });
}

}  // namespace x0x::cli
