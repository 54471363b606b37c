// A string written as a TOML basic string ("...", escaped), so generated
// configs stay valid and odd bytes in error messages stay visible.
#pragma once
#include <string>
#include <string_view>

namespace x0x {
std::string toml_quote(std::string_view s);
}
