// Writes an evidence bundle (harvest, deploy, gate): every file passes the
// redactor, manifest.json lists each file with its sha256 and is rewritten
// after every step ("complete": false until finish()), so a crash leaves a
// valid partial bundle. verify_bundle() re-checks a bundle.
#pragma once
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace x0x::proofs {

// Replaces "Bearer <token>" and every registered secret with [REDACTED].
// Thread-safe: a harvest's workers register their node's token while others
// write (and so redact) files; an unguarded vector grown under a reader was
// a use-after-free (intermittent SIGSEGVs in long soaks).
class Redactor {
 public:
  void add_secret(std::string secret);
  std::string apply(std::string text) const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::string> secrets_;
};

class BundleWriter {
 public:
  // Creates dir (and parents); manifest.json starts as {"kind", "tool_version", "started_at", "complete": false}.
  BundleWriter(std::filesystem::path dir, std::string kind, nlohmann::json meta = nlohmann::json::object());
  // Continues a bundle an earlier process started (`soak --resume`): its
  // manifest.json is read back ("complete" false again until finish()).
  // Throws std::runtime_error naming the file when there is no usable manifest.
  struct Reopen {};
  BundleWriter(std::filesystem::path dir, Reopen);
  const std::filesystem::path& dir() const { return dir_; }
  Redactor& redactor() { return redactor_; }
  // Thread-safe. rel is relative to dir; text is redacted before it is written.
  // The manifest on disk is refreshed at checkpoint(), set() and finish().
  void write_text(const std::string& rel, std::string text);
  void write_json(const std::string& rel, const nlohmann::json& j);
  void set(const std::string& key, nlohmann::json value);  // a manifest field
  nlohmann::json get(const std::string& key) const;        // a manifest field (null when absent)
  // Lists a file that another writer put inside dir (a soak window's own gate
  // bundle), hashed as it is on disk now. Symlinks and non-regular files are refused.
  void adopt_file(const std::string& rel);
  // Lists a complete bundle that another writer finished inside dir (a soak
  // window's gate bundle) by its manifest.json alone: verify_bundle checks that
  // manifest's hash here and then the sub-bundle's own files against it, so the
  // soak's manifest grows by one entry per window, not by every file.
  void adopt_bundle(const std::string& rel_dir);
  void checkpoint();  // after each step (a node, a scenario): a crash keeps what was done
  void finish(int exit_code);

 private:
  void flush_manifest();  // with mu_ held
  std::filesystem::path dir_;
  Redactor redactor_;
  mutable std::mutex mu_;
  nlohmann::json manifest_;
};

// The largest manifest.json, verdict.json or scenario file a reader loads (bytes).
inline constexpr std::size_t kMaxManifestBytes = 64u * 1024 * 1024;

// Problems found (empty = the manifest matches every file and lists them all).
// The bundle is treated as hostile: a path that leaves it, a symlink or a
// non-regular file is a problem, never followed or opened. An entry marked
// "bundle": true is a sub-bundle's manifest.json: after its hash, the
// sub-bundle is verified in turn (at most kMaxBundleNesting deep) and its
// files count as listed.
std::vector<std::string> verify_bundle(const std::filesystem::path& dir);
inline constexpr int kMaxBundleNesting = 4;

}  // namespace x0x::proofs
