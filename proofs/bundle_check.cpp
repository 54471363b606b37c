#include "proofs/bundle_check.h"

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/contained_files.h"
#include "proofs/bundle_writer.h"
#include "proofs/render_text.h"
#include "proofs/renderers.h"

namespace x0x::proofs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A file of the bundle, or "" when it is not a readable regular file inside it.
std::string contained_text(const fs::path& dir, const std::string& rel) {
  try {
    return contained::read_file(dir, rel, kMaxManifestBytes);
  } catch (const contained::ContainedError&) {
    return "";
  }
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

std::map<std::string, std::string> render_all(const json& verdict) {
  return {{"summary.md", render_summary_md(verdict)},
          {"summary.csv", render_summary_csv(verdict)},
          {"report.html", render_report_html(verdict)},
          {"junit.xml", render_junit(verdict)}};
}

BundleCheck check_bundle(const fs::path& dir) {
  BundleCheck out;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir / "manifest.json", ec))) return out;
  out.is_bundle = true;
  auto manifest = json::parse(contained_text(dir, "manifest.json"), nullptr, false);
  if (!manifest.is_discarded() && manifest.contains("files") && manifest["files"].is_object()) out.files = manifest["files"].size();
  auto problems = verify_bundle(dir);
  // rendered/<file> is not in the manifest (it was written later); it is fine
  // if it is exactly what verdict.json renders to and verdict.json verified.
  const std::string unlisted = ": not listed in the manifest";
  bool verdict_ok = manifest.is_object() && manifest.contains("files") && manifest["files"].contains("verdict.json");
  for (auto& p : problems)
    if (starts_with(p, "verdict.json:")) verdict_ok = false;
  std::map<std::string, std::string> fresh;
  if (verdict_ok) {
    auto verdict = json::parse(contained_text(dir, "verdict.json"), nullptr, false);
    if (!verdict.is_discarded()) fresh = render_all(verdict);
  }
  const std::string prefix = std::string(kRenderedDir) + "/";
  for (auto& p : problems) {
    bool derived = false;
    if (starts_with(p, prefix) && p.size() > unlisted.size() && p.compare(p.size() - unlisted.size(), unlisted.size(), unlisted) == 0) {
      auto rel = p.substr(0, p.size() - unlisted.size());
      auto it = fresh.find(rel.substr(prefix.size()));
      derived = it != fresh.end() && contained_text(dir, rel) == it->second;
      if (derived) out.notes.push_back(rel + ": not in the manifest, identical to a fresh render of verdict.json");
    }
    if (!derived) out.problems.push_back(p);
  }
  return out;
}

std::vector<std::string> compare_verdicts(const json& recorded, const json& rescored) {
  using text::str;
  std::vector<std::string> diff;
  auto word = [](const json& v) { return str(v, "verdict").empty() ? std::string("(none)") : str(v, "verdict"); };
  if (word(recorded) != word(rescored)) diff.push_back("verdict: recorded " + word(recorded) + ", rescored " + word(rescored));
  using Key = std::tuple<std::string, std::string, std::string>;
  auto keys = [](const json& v) {
    std::map<Key, std::string> out;  // -> a message, for the report
    for (auto& s : text::at(v, "scenarios"))
      for (auto& x : text::at(s, "violations")) out.emplace(Key{str(x, "scenario"), str(x, "rule"), str(x, "node")}, str(x, "message"));
    return out;
  };
  auto a = keys(recorded), b = keys(rescored);
  auto name = [](const Key& k) {
    return std::get<0>(k) + " / " + std::get<1>(k) + " / " + (std::get<2>(k).empty() ? std::string("-") : std::get<2>(k));
  };
  for (auto& [k, m] : a)
    if (!b.count(k)) diff.push_back("only recorded: " + name(k) + ": " + m);
  for (auto& [k, m] : b)
    if (!a.count(k)) diff.push_back("only rescored: " + name(k) + ": " + m);
  return diff;
}

}  // namespace x0x::proofs
