// Whitespace trimming for text read from files, processes and the environment.
#pragma once
#include <string>
#include <string_view>

namespace x0x {

// Without leading and trailing whitespace (space, \t, \r, \n, \v, \f).
std::string trim(std::string_view s);
// Without trailing whitespace only: command output whose indentation matters.
std::string trim_end(std::string_view s);

}  // namespace x0x
