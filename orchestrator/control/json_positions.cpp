#include "orchestrator/control/json_positions.h"

#include <vector>

namespace x0x::orchestrator {

namespace {
struct Frame {
  bool object = false;
  std::string path;  // of this container
  int index = 0;     // next array element
  bool want_key = true;
  std::string key;   // the last key read (objects)
};

std::string child_path(const Frame& f) {
  if (f.object) return f.path.empty() ? f.key : f.path + "." + f.key;
  return f.path + "[" + std::to_string(f.index) + "]";
}
}  // namespace

JsonPositions scan_json_positions(std::string_view text, int max_depth) {
  JsonPositions out;
  std::vector<Frame> stack;
  int line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '"') {
      std::string s;
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;  // the escaped character is part of the string
        if (text[i] == '\n') ++line;
        s += text[i];
      }
      if (!stack.empty() && stack.back().object && stack.back().want_key) {
        auto& f = stack.back();
        f.key = std::move(s);
        f.want_key = false;
        out.lines.emplace(child_path(f), line);
      }
    } else if (c == '{' || c == '[') {
      std::string path = stack.empty() ? "" : child_path(stack.back());
      if (static_cast<int>(stack.size()) >= max_depth) {
        out.too_deep_line = line;
        return out;
      }
      if (c == '{' && !path.empty()) out.lines.emplace(path, line);
      Frame f;
      f.object = c == '{';
      f.path = std::move(path);
      stack.push_back(std::move(f));
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
    } else if (c == ',' && !stack.empty()) {
      auto& f = stack.back();
      if (f.object) f.want_key = true;
      else ++f.index;
    }
  }
  return out;
}

}  // namespace x0x::orchestrator
