// Files inside a directory someone else made (a proof bundle handed to a
// reviewer): every path is resolved inside the root and never leaves it. A
// relative path with no "..", ".", or empty part, walked one component at a
// time with openat(O_NOFOLLOW), so no symlink on the way is followed; only a
// regular file is read (its type checked on the open descriptor, so a FIFO or
// a device never blocks), and only up to a stated size. Writes create new
// files and replace entries by rename, never writing through a link.
#pragma once
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace x0x::contained {

// What makes a directory hostile or unusable: the message names the path and says
// why in the toolkit's own words ("leaves the bundle", "is a symlink", ...).
class ContainedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// rel checked as a path inside a root: relative, no "..", "." or empty component,
// no NUL. Throws ContainedError naming it.
std::filesystem::path checked_relative(std::string_view rel);

// The bytes of root/rel: a regular file reached without following a symlink, at
// most max_bytes (larger is an error naming the limit). A missing file throws a
// plain std::runtime_error ("<rel>: missing"); anything hostile a ContainedError.
std::string read_file(const std::filesystem::path& root, std::string_view rel, std::size_t max_bytes);

// sha256 (hex) of root/rel under the same rules, streamed (no size limit).
std::string sha256_file(const std::filesystem::path& root, std::string_view rel);

// Writes root/rel: the parent folders are created (none may be a symlink), the
// content goes to a new temporary file in the same folder, renamed over rel (an
// existing symlink there is replaced, never followed). Mode 0644.
void write_file(const std::filesystem::path& root, std::string_view rel, std::string_view content);

}  // namespace x0x::contained
