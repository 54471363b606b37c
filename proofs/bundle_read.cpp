#include "proofs/bundle_read.h"

#include "core/contained_files.h"
#include "core/text.h"
#include "proofs/bundle_writer.h"

namespace x0x::proofs {

namespace fs = std::filesystem;

BundleDocument read_bundle_document(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DiffUsageError(printable(dir.string()) + ": not a directory");
  for (const char* file : {"soak.json", "verdict.json"}) {
    std::string body;
    try {
      body = contained::read_file(dir, file, kMaxManifestBytes);
    } catch (const contained::ContainedError& e) {
      throw DiffUsageError(printable(dir.string()) + ": hostile bundle: " + printable(e.what()));
    } catch (const std::runtime_error&) {  // absent: try the other kind
      continue;
    }
    auto doc = nlohmann::json::parse(body, nullptr, false);
    auto kind = bundle_kind(doc);
    auto want = std::string_view(file) == "soak.json" ? BundleKind::soak : BundleKind::gate;
    if (doc.is_discarded() || kind != want)
      throw DiffUsageError(printable((dir / file).string()) + ": not a " + std::string(to_string(want)) + " bundle's " + file);
    return {want, file, std::move(doc)};
  }
  throw DiffUsageError(printable(dir.string()) + ": not a gate or soak bundle (no verdict.json or soak.json)");
}

}  // namespace x0x::proofs
