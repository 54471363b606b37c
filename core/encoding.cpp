#include "core/encoding.h"

#include <sodium.h>

#include <stdexcept>

namespace x0x {

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.resize(bytes.size() * 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

bool is_hex(std::string_view s, std::size_t expected_len) {
  if (s.size() != expected_len) return false;
  for (char c : s)
    if (hex_value(c) < 0) return false;
  return true;
}

static std::string b64_encode(std::string_view data, int variant) {
  std::string out(sodium_base64_encoded_len(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()),
                    data.size(), variant);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

static std::optional<std::string> b64_decode(std::string_view b64, int variant) {
  std::string out(b64.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), b64.data(),
                        b64.size(), nullptr, &len, &end, variant) != 0)
    return std::nullopt;
  if (end != b64.data() + b64.size()) return std::nullopt;
  out.resize(len);
  return out;
}

std::string base64_encode(std::string_view d) { return b64_encode(d, sodium_base64_VARIANT_ORIGINAL); }
std::optional<std::string> base64_decode(std::string_view b) {
  return b64_decode(b, sodium_base64_VARIANT_ORIGINAL);
}
std::string base64url_encode(std::string_view d) {
  return b64_encode(d, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::optional<std::string> base64url_decode(std::string_view b) {
  return b64_decode(b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

Bytes random_bytes(std::size_t n) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  Bytes out(n);
  randombytes_buf(out.data(), n);
  return out;
}

std::string random_hex(std::size_t n) { return to_hex(random_bytes(n)); }

}  // namespace x0x
