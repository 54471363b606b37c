// Running the x0xctl binary from tests, as an operator would: its path in the
// build tree, a temporary working directory, and its exit code and output.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "core/encoding.h"

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

// Runs `cmd` with /bin/sh and captures its stdout.
inline CliResult run_shell(const std::string& cmd) {
  CliResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  r.started = true;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Runs `x0xctl <args>` in cwd, stdout and stderr together; `timeout 900`
// bounds a hung run.
inline CliResult run_x0xctl(const std::string& args, const std::filesystem::path& cwd) {
  return run_shell("cd '" + cwd.string() + "' && timeout -s KILL 900 " + x0xctl_bin().string() + " " + args + " 2>&1");
}

// A temporary directory removed with everything in it when the test ends.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "x0x-test-")
      : path(std::filesystem::temp_directory_path() / (prefix + random_hex(4))) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace x0x::testing
