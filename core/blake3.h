// Portable BLAKE3 (default hash mode, 32-byte output). x0x derives topic ids
// from BLAKE3, so diagnostics need the same hash without a native dependency.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace x0x {

std::array<std::uint8_t, 32> blake3(std::string_view data);

// First 8 bytes of BLAKE3(topic name) as 16 lowercase hex: the topic id form
// used by x0xd diagnostics.
std::string topic_id16(std::string_view topic);

}  // namespace x0x
