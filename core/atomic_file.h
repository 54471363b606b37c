// Replacing a file so that readers see the old or the new content, never a
// half-written one: state files, configs, key files.
#pragma once
#include <filesystem>
#include <string_view>

namespace x0x {

// Writes `content` to "<path>.tmp" (chmod'ed to `mode` first when mode is not
// 0, so a secret is never readable by others), then renames it over `path`.
// Throws std::runtime_error naming the file when it cannot be written.
void write_file_atomically(const std::filesystem::path& path, std::string_view content, unsigned mode = 0);

}  // namespace x0x
