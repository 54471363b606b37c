// The document `proof diff` compares, read from a bundle directory someone
// else made: soak.json when the bundle has one, else verdict.json; read only
// through the contained reader (no symlink followed, regular files only, at
// most kMaxManifestBytes).
#pragma once
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "proofs/bundle_diff.h"

namespace x0x::proofs {

struct BundleDocument {
  BundleKind kind = BundleKind::gate;
  std::string file;  // "soak.json" or "verdict.json"
  nlohmann::json doc;
};

// Throws DiffUsageError naming the directory when it is not a readable gate
// or soak bundle: neither file, a hostile one (symlink, FIFO, too large, a
// path out), or JSON that is not a bundle document.
BundleDocument read_bundle_document(const std::filesystem::path& dir);

}  // namespace x0x::proofs
