#include "core/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <stdexcept>
#include <vector>

#include <sodium.h>

#include "core/encoding.h"

namespace x0x {

std::string sha256_hex(std::string_view bytes) {
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> out{};
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return to_hex(std::span<const std::uint8_t>(out.data(), out.size()));
}

std::string sha256_fd(int fd, const std::string& what) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::vector<unsigned char> buf(1 << 16);
  while (true) {
    auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(what + ": read error (" + std::strerror(errno) + ")");
    if (n == 0) break;
    crypto_hash_sha256_update(&st, buf.data(), static_cast<unsigned long long>(n));
  }
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> out{};
  crypto_hash_sha256_final(&st, out.data());
  return to_hex(std::span<const std::uint8_t>(out.data(), out.size()));
}

std::string sha256_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path.string() + ": cannot read");
  try {
    auto hex = sha256_fd(fd, path.string());
    ::close(fd);
    return hex;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

}  // namespace x0x
