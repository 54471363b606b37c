// SHA-256 as lowercase hex (libsodium): artefacts, bundle manifests, inventories.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace x0x {

std::string sha256_hex(std::string_view bytes);
// Throws std::runtime_error naming the path when the file cannot be read.
std::string sha256_file(const std::filesystem::path& path);
// Of what is left to read on an open descriptor; errors name `what`.
std::string sha256_fd(int fd, const std::string& what);

}  // namespace x0x
