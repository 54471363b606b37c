// Printing a Phase B report: the reference's PASS/FAIL lines and its summary
// block (spec mesh-protocol.md §4.7: "Phase-B fleet dogfood — pass=P fail=F
// (runners=N)", then one "FAIL: <label>" per failure), each failure with its
// stage, then our verdict line.
#pragma once
#include <cstdio>

#include "harness/phase_b.h"

namespace x0x::cli {
void print_phase_b(std::FILE* out, const harness::PhaseBReport& rep);
}  // namespace x0x::cli
