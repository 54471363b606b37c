// The end of `x0xctl gate` on a terminal: a verdict table (scenario × rule ×
// worst node) and GO / NO-GO in one line, from verdict.json.
#pragma once
#include <cstdio>

#include <nlohmann/json_fwd.hpp>

namespace x0x::cli {

void print_verdict_table(std::FILE* out, const nlohmann::json& verdict);

}  // namespace x0x::cli
