// What the verbs share: the SIGINT/SIGTERM flag that lets a run finish its
// step and write its bundle, the --json/--junit outputs checked before any
// work, durations as operators type them, and the `latest` symlink beside the
// newest bundle in the proofs directory.
#pragma once
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace x0x::cli {

// SIGINT/SIGTERM set the flag for as long as the scope lives (then the old handlers return).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  static const std::atomic<bool>& flag();

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// Why a --json/--junit/--html path cannot be written, or "" ("-" is stdout).
std::string unwritable(const std::string& flag, const std::string& path);
// Every problem with a verb's --json/--junit pair, before any work: unwritable
// paths, and both asking for stdout.
std::vector<std::string> output_problems(const std::string& json_path, const std::string& junit_path);
// Where a run's progress lines go: stderr when stdout carries a document (`-`).
std::FILE* human_stream(const std::string& json_path, const std::string& junit_path);
// Prints one progress line to `out` and flushes it.
std::function<void(const std::string&)> line_printer(std::FILE* out);

// Writes text to path ("-" = stdout); false (with a line on `human`) when it could not.
bool write_output(std::FILE* human, const std::string& verb, const std::string& flag, const std::string& path, const std::string& text);

std::vector<std::string> split_list(const std::string& s);

// "90", "90s", "5m", "1h" → seconds; nullopt on anything else (zero, negative, other units).
std::optional<long> parse_duration(const std::string& text);

// proofs/latest -> <bundle> (relative, replaced atomically) when the bundle sits
// in the default proofs directory; never replaces a `latest` that is not a symlink.
void update_latest_link(const std::filesystem::path& bundle_dir);

}  // namespace x0x::cli
