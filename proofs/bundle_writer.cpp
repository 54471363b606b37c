#include "proofs/bundle_writer.h"

#include <ctime>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/encoding.h"
#include "core/sha256.h"
#include "core/utc_time.h"

namespace x0x::proofs {

namespace fs = std::filesystem;

void Redactor::add_secret(std::string s) {
  if (s.size() >= 8) secrets_.push_back(std::move(s));  // short strings would redact noise
}

std::string Redactor::apply(std::string text) const {
  static const std::regex bearer(R"(Bearer\s+[A-Za-z0-9._~+/=-]+)");
  text = std::regex_replace(text, bearer, "Bearer [REDACTED]");
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

std::vector<std::string> verify_bundle(const fs::path& dir) {
  std::vector<std::string> problems;
  std::ifstream in(dir / "manifest.json");
  auto m = nlohmann::json::parse(in, nullptr, false);
  if (m.is_discarded() || !m.contains("files")) return {"manifest.json: missing or not JSON"};
  std::set<std::string> listed;
  for (auto& [rel, info] : m["files"].items()) {
    listed.insert(rel);
    auto p = dir / rel;
    if (!fs::exists(p)) problems.push_back(rel + ": listed in the manifest but missing");
    else if (!fs::is_regular_file(p)) problems.push_back(rel + ": not a regular file");
    else {
      try {
        if (sha256_file(p) != info.value("sha256", "")) problems.push_back(rel + ": sha256 differs from the manifest");
      } catch (const std::exception& e) {
        problems.push_back(rel + ": " + e.what());
      }
    }
  }
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto rel = fs::relative(e.path(), dir).string();
    if (rel != "manifest.json" && !listed.count(rel)) problems.push_back(rel + ": not listed in the manifest");
  }
  if (!m.value("complete", false)) problems.push_back("manifest.json: the run did not complete");
  return problems;
}

}  // namespace x0x::proofs
