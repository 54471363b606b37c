// Running the x0xctl binary from tests, as an operator would: its path in the
// build tree, a temporary working directory, and its exit code and output.
#pragma once
#include <chrono>
#include <filesystem>
#include <string>

#include "core/encoding.h"
#include "core/process.h"
#include "tests/support/files.h"  // TempDir

namespace x0x::testing {

inline std::filesystem::path x0xctl_bin() {
#ifdef X0X_CTL_BIN
  return X0X_CTL_BIN;
#else
  return std::filesystem::path(X0X_LEAN_NODE_BIN).parent_path().parent_path() / "cli" / "x0xctl";
#endif
}

struct CliResult {
  int rc = -1;      // exit code; -1 if it died of a signal
  std::string out;  // stdout (and what the command sends there)
  bool started = false;  // false: the shell could not be started at all
};

// Runs the command line `cmd` with /bin/sh (in cwd when given) and captures
// its stdout; killed, with its process group, after `limit`.
inline CliResult run_shell(const std::string& cmd, const std::filesystem::path& cwd = {},
                           std::chrono::seconds limit = std::chrono::seconds(900)) {
  CliResult r;
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", cmd};
  spec.cwd = cwd;
  spec.out = Stdio::pipe();
  spec.new_process_group = true;
  try {
    auto res = run_process(spec, limit, 64u << 20);
    r.started = true;
    r.out = std::move(res.out);
    r.rc = res.exit_code();
  } catch (const ProcessError&) {
    // started stays false
  }
  return r;
}

// Runs `x0xctl <args>` (a command line: quote paths as a shell wants) in cwd,
// stdout and stderr together.
inline CliResult run_x0xctl(const std::string& args, const std::filesystem::path& cwd) {
  return run_shell("exec " + x0xctl_bin().string() + " " + args + " 2>&1", cwd);
}

}  // namespace x0x::testing
