// Hex and base64 codecs plus secure random bytes: the textual forms of ids,
// tokens and payloads used on the x0x REST API.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace x0x {

using Bytes = std::vector<std::uint8_t>;

std::string to_hex(std::span<const std::uint8_t> bytes);
inline std::string to_hex(std::string_view s) {
  return to_hex({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<Bytes> from_hex(std::string_view hex);
bool is_hex(std::string_view s, std::size_t expected_len);

// Standard alphabet with padding (the REST payload format).
std::string base64_encode(std::string_view data);
// Strict decode: nullopt on any character outside the alphabet or bad padding.
// Whitespace is not accepted (x0xd rejects it too).
std::optional<std::string> base64_decode(std::string_view b64);
// URL-safe alphabet without padding (x0x:// links).
std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view b64);

Bytes random_bytes(std::size_t n);
std::string random_hex(std::size_t n_bytes);

inline std::string_view as_view(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace x0x
