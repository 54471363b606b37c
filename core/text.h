// Whitespace trimming for text read from files, processes and the environment,
// and escaping of text from the network or a bundle before it is logged or printed.
#pragma once
#include <string>
#include <string_view>

namespace x0x {

// Without leading and trailing whitespace (space, \t, \r, \n, \v, \f).
std::string trim(std::string_view s);
// Without trailing whitespace only: command output whose indentation matters.
std::string trim_end(std::string_view s);
// Control characters (newlines, ANSI escapes, NUL, DEL) as \n, \r, \t or \xNN, so a
// hostile peer name or path cannot forge a log line or drive a terminal.
std::string printable(std::string_view s);

}  // namespace x0x
