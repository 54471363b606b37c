#include "core/text.h"

namespace x0x {

namespace {
constexpr std::string_view kWhitespace = " \t\r\n\v\f";
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(kWhitespace) - b + 1));
}

std::string trim_end(std::string_view s) {
  auto e = s.find_last_not_of(kWhitespace);
  return e == std::string_view::npos ? std::string() : std::string(s.substr(0, e + 1));
}

std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace x0x
