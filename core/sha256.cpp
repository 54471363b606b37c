#include "core/sha256.h"

#include <array>
#include <fstream>
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

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot read");
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = in.gcount();
    if (n > 0) crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(buf.data()), static_cast<unsigned long long>(n));
  }
  if (in.bad()) throw std::runtime_error(path.string() + ": read error");
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> out{};
  crypto_hash_sha256_final(&st, out.data());
  return to_hex(std::span<const std::uint8_t>(out.data(), out.size()));
}

}  // namespace x0x
