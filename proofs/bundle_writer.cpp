#include "proofs/bundle_writer.h"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/contained_files.h"
#include "core/encoding.h"
#include "core/sha256.h"
#include "core/text.h"
#include "core/utc_time.h"

namespace x0x::proofs {

namespace fs = std::filesystem;
using nlohmann::json;

void Redactor::add_secret(std::string s) {
  if (s.size() < 8) return;  // short strings would redact noise
  std::unique_lock lk(mu_);
  secrets_.push_back(std::move(s));
}

std::string Redactor::apply(std::string text) const {
  static const std::regex bearer(R"(Bearer\s+[A-Za-z0-9._~+/=-]+)");
  // The regex needs the literal word; most bundle files never contain it, and
  // std::regex over a large file costs more than writing it.
  if (text.find("Bearer") != std::string::npos) text = std::regex_replace(text, bearer, "Bearer [REDACTED]");
  std::shared_lock lk(mu_);
  for (auto& s : secrets_)
    for (auto p = text.find(s); p != std::string::npos; p = text.find(s, p)) text.replace(p, s.size(), "[REDACTED]");
  return text;
}

BundleWriter::BundleWriter(fs::path dir, std::string kind, nlohmann::json meta) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
  manifest_ = std::move(meta);
  manifest_["kind"] = kind;
  manifest_["tool_version"] = std::string("x0xctl ") + X0X_TOOLKIT_VERSION;
  manifest_["started_at"] = utc_stamp();
  manifest_["complete"] = false;
  manifest_["files"] = nlohmann::json::object();
  std::lock_guard lk(mu_);
  flush_manifest();
}

BundleWriter::BundleWriter(fs::path dir, Reopen) : dir_(std::move(dir)) {
  auto path = dir_ / "manifest.json";
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(contained::read_file(dir_, "manifest.json", kMaxManifestBytes), nullptr, false);
  } catch (const std::exception& e) {
    throw std::runtime_error(path.string() + ": cannot read (" + std::string(e.what()) + ")");
  }
  if (m.is_discarded() || !m.is_object() || !m.contains("files") || !m["files"].is_object())
    throw std::runtime_error(path.string() + ": not a bundle manifest");
  manifest_ = std::move(m);
  manifest_["complete"] = false;
  manifest_["resumed_at"] = utc_stamp();
  std::lock_guard lk(mu_);
  flush_manifest();
}

nlohmann::json BundleWriter::get(const std::string& key) const {
  std::lock_guard lk(mu_);
  return manifest_.contains(key) ? manifest_[key] : nlohmann::json();
}

void BundleWriter::adopt_file(const std::string& rel) {
  auto checked = contained::checked_relative(rel);  // throws on a path leaving dir
  auto digest = contained::sha256_file(dir_, checked.string());
  std::error_code ec;
  auto bytes = fs::file_size(dir_ / checked, ec);
  std::lock_guard lk(mu_);
  manifest_["files"][checked.string()] = {{"sha256", digest}, {"bytes", ec ? 0 : bytes}};
}

void BundleWriter::adopt_bundle(const std::string& rel_dir) {
  auto rel = (contained::checked_relative(rel_dir) / "manifest.json").string();
  auto digest = contained::sha256_file(dir_, rel);
  std::lock_guard lk(mu_);
  manifest_["files"][rel] = {{"sha256", digest}, {"bundle", true}};
}

void BundleWriter::write_text(const std::string& rel, std::string text) {
  if (fs::path(rel).is_absolute() || rel.find("..") != std::string::npos)
    throw std::invalid_argument("bundle: bad file name " + rel);
  text = redactor_.apply(std::move(text));
  auto path = dir_ / rel;
  fs::create_directories(path.parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("bundle: cannot write " + path.string());
  }
  auto digest = sha256_file(path);
  std::lock_guard lk(mu_);
  manifest_["files"][rel] = {{"sha256", digest}, {"bytes", text.size()}};
}

void BundleWriter::checkpoint() {
  std::lock_guard lk(mu_);
  flush_manifest();
}

void BundleWriter::write_json(const std::string& rel, const nlohmann::json& j) { write_text(rel, j.dump(2) + "\n"); }

void BundleWriter::set(const std::string& key, nlohmann::json value) {
  std::lock_guard lk(mu_);
  manifest_[key] = std::move(value);
  flush_manifest();
}

void BundleWriter::finish(int exit_code) {
  std::lock_guard lk(mu_);
  manifest_["finished_at"] = utc_stamp();
  manifest_["exit_code"] = exit_code;
  manifest_["complete"] = true;
  flush_manifest();
}

void BundleWriter::flush_manifest() {
  auto tmp = dir_ / "manifest.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << redactor_.apply(manifest_.dump(2)) << "\n";
  }
  fs::rename(tmp, dir_ / "manifest.json");
}

namespace {

std::vector<std::string> verify_bundle_at(const fs::path& dir, int depth);

}  // namespace

std::vector<std::string> verify_bundle(const fs::path& dir) { return verify_bundle_at(dir, 0); }

namespace {

std::vector<std::string> verify_bundle_at(const fs::path& dir, int depth) {
  // A bundle is someone else's data: every path stays inside dir, nothing behind a
  // symlink is read, only regular files are opened (contained_files.h).
  std::vector<std::string> problems;
  std::vector<std::string> sub_bundles;  // "windows/001/": verified in turn, their files listed there
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(contained::read_file(dir, "manifest.json", kMaxManifestBytes), nullptr, false);
  } catch (const contained::ContainedError& e) {
    return {e.what()};
  }
  if (m.is_discarded() || !m.is_object() || !m.contains("files") || !m["files"].is_object())
    return {"manifest.json: missing or not JSON"};
  std::set<std::string> listed;
  for (auto& [rel, info] : m["files"].items()) {
    listed.insert(rel);
    try {
      auto p = dir / contained::checked_relative(rel);
      std::error_code ec;
      if (!fs::exists(fs::symlink_status(p, ec))) {
        problems.push_back(printable(rel) + ": listed in the manifest but missing");
        continue;
      }
      auto want = info.is_object() ? info.value("sha256", json()) : json();
      if (!want.is_string() || contained::sha256_file(dir, rel) != want.get<std::string>()) {
        problems.push_back(printable(rel) + ": sha256 differs from the manifest");
        continue;
      }
      bool nested = info.is_object() && info.value("bundle", false);
      if (!nested) continue;
      auto sub = fs::path(rel).parent_path();
      if (fs::path(rel).filename() != "manifest.json" || sub.empty()) {
        problems.push_back(printable(rel) + ": marked as a bundle but not a sub-folder's manifest.json");
      } else if (depth + 1 >= kMaxBundleNesting) {
        problems.push_back(printable(rel) + ": bundles nested deeper than " + std::to_string(kMaxBundleNesting));
      } else {
        // sha256_file above reached it inside dir without a symlink on the way.
        for (auto& p : verify_bundle_at(dir / sub, depth + 1)) problems.push_back(sub.string() + "/" + p);
        sub_bundles.push_back(sub.string() + "/");
      }
    } catch (const contained::ContainedError& e) {
      problems.push_back(printable(e.what()));
    }
  }
  // Not followed into symlinked folders; a symlink anywhere is reported, listed or not.
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto st = it->symlink_status(ec);
    auto rel = it->path().lexically_relative(dir).string();  // fs::relative would resolve the symlink
    if (fs::is_directory(st)) continue;
    if (listed.count(rel)) continue;  // checked above
    if (std::any_of(sub_bundles.begin(), sub_bundles.end(), [&](auto& root) { return rel.rfind(root, 0) == 0; }))
      continue;  // the sub-bundle's own verification covered it
    if (fs::is_symlink(st)) problems.push_back(printable(rel) + ": is a symlink (a bundle holds only regular files and folders)");
    else if (!fs::is_regular_file(st)) problems.push_back(printable(rel) + ": not a regular file");
    else if (rel != "manifest.json") problems.push_back(printable(rel) + ": not listed in the manifest");
  }
  if (ec) problems.push_back(dir.string() + ": cannot list every file (" + ec.message() + ")");
  if (!m.value("complete", false)) problems.push_back("manifest.json: the run did not complete");
  return problems;
}

}  // namespace

}  // namespace x0x::proofs
