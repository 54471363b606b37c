// Printing a Phase A report: the N×N matrix, the failed pairs with their
// stage, the reference-compatible Sent/Received lines and the verdict.
#pragma once
#include <cstdio>

#include "harness/phase_a.h"

namespace x0x::cli {
void print_phase_a(std::FILE* out, const harness::PhaseAReport& rep);
// A progress line that rewrites itself on a terminal and is silent otherwise.
void progress_line(const std::string& text);
void end_progress();
}  // namespace x0x::cli
