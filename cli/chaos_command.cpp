// `x0xctl chaos` (placeholder until its issue-5 implementation lands).
#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace x0x::cli {
void register_chaos(CLI::App&, int&) {}
}  // namespace x0x::cli
