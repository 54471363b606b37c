// What `x0xctl proof verify|render|rescore` do beyond the bundle writer's
// verify_bundle(): decide whether a directory is a bundle at all, accept the
// rendered/ copies that `proof render` adds (only when they are byte-identical
// to a fresh render of the verified verdict.json), and compare two verdicts.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace x0x::proofs {

struct BundleCheck {
  bool is_bundle = false;              // the directory has a manifest.json
  std::size_t files = 0;               // files the manifest lists
  std::vector<std::string> problems;   // changed, missing, unlisted files; an incomplete run
  std::vector<std::string> notes;      // rendered/ files accepted as derived from verdict.json
};
BundleCheck check_bundle(const std::filesystem::path& dir);

// The four rendered files by name: summary.md, summary.csv, report.html, junit.xml.
std::map<std::string, std::string> render_all(const nlohmann::json& verdict);
inline constexpr const char* kRenderedDir = "rendered";

// Empty when both have the same verdict word and the same set of
// (scenario, rule, node) violations; else one line per difference.
std::vector<std::string> compare_verdicts(const nlohmann::json& recorded, const nlohmann::json& rescored);

}  // namespace x0x::proofs
