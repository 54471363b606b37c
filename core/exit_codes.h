// The exit codes of every x0xctl verb (the reference's, kept): 0 GO / pass,
// 1 NO-GO / fail, 2 usage or configuration error (before any work), 3 crash
// (what was observed is still written).
#pragma once

namespace x0x {
constexpr int kExitPass = 0, kExitFail = 1, kExitUsage = 2, kExitCrash = 3;
}
