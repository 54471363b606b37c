// Where things are in a JSON text, which nlohmann::json does not keep: the line
// of each object key and of each object's opening brace, by path ("defaults",
// "defaults.anchor", "host[2]", "host[2].api_addr"), so an inventory error in a
// .json file names its line as one in a .toml file does. Also bounds the
// nesting depth before anything recursive touches the document.
#pragma once
#include <map>
#include <string>
#include <string_view>

namespace x0x::orchestrator {

struct JsonPositions {
  std::map<std::string, int> lines;  // path -> 1-based line
  int too_deep_line = 0;             // > 0: nested deeper than the limit, first at this line
  int line_of(const std::string& path) const {
    auto it = lines.find(path);
    return it == lines.end() ? 0 : it->second;
  }
};

// One pass over text (valid or not: it stops at the first nesting beyond max_depth).
JsonPositions scan_json_positions(std::string_view text, int max_depth);

}  // namespace x0x::orchestrator
