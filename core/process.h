// The one way to start a child process: an argv (no shell unless the caller
// passes {"/bin/sh", "-c", cmd} itself), an environment, a working directory,
// where each standard stream goes, optionally its own session or process
// group. Built on posix_spawn: every string, fd and array is prepared before
// the child exists, so nothing allocates between fork and exec (safe in a
// threaded process). The child starts with an empty signal mask and default
// signal dispositions, and only fds 0-2 open.
//
// PIDs: wait_exited / reap / send_signal work on a PID. A PID is only safe to
// signal while it is an un-reaped child of ours (or after checking who it is,
// see local_fleet.cpp): these helpers never signal PID <= 0.
#pragma once
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace x0x {

// The process could not be started (the message names the program and why),
// or a pipe / file for it could not be opened.
class ProcessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An owned file descriptor, closed when it goes away.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset();

 private:
  int fd_ = -1;
};

// Where one standard stream of the child goes.
struct Stdio {
  enum class Kind { inherit, null, read, append, truncate, pipe, same_as_stdout };
  Kind kind = Kind::inherit;
  std::filesystem::path file;  // read: stdin from it; append / truncate: created (0644) when missing

  static Stdio inherit() { return {Kind::inherit, {}}; }
  static Stdio null() { return {Kind::null, {}}; }             // /dev/null
  static Stdio read_from(std::filesystem::path p) { return {Kind::read, std::move(p)}; }  // stdin only
  static Stdio append_to(std::filesystem::path p) { return {Kind::append, std::move(p)}; }
  static Stdio write_to(std::filesystem::path p) { return {Kind::truncate, std::move(p)}; }
  static Stdio pipe() { return {Kind::pipe, {}}; }             // stdout/stderr: the caller reads it
  static Stdio same_as_stdout() { return {Kind::same_as_stdout, {}}; }  // stderr only: 2>&1
};

struct ProcessSpec {
  // argv[0] is the program: a path (a relative one is taken from this
  // process's working directory, not the child's), or a bare name looked up
  // in PATH.
  std::vector<std::string> argv;
  // Added to (or replacing in) the environment the child starts from: this
  // process's, or an empty one with clear_env.
  std::vector<std::pair<std::string, std::string>> env;
  bool clear_env = false;
  std::filesystem::path cwd;  // empty: this process's
  Stdio in = Stdio::null(), out = Stdio::inherit(), err = Stdio::inherit();
  bool new_session = false;        // setsid(): no controlling terminal, its own session and group
  bool new_process_group = false;  // its own process group (pgid = its pid)
  // SIGTERM to the child when this process ends (Linux PR_SET_PDEATHSIG).
  // The signal follows the thread that forked, so such children are forked
  // from one thread that lives as long as the process, whichever thread asks.
  // posix_spawn cannot set it, so the program is started through setpriv(1)
  // --pdeathsig (util-linux), which then execs it: the PID is the program's.
  bool die_with_parent = false;
};

struct SpawnedProcess {
  int pid = -1;
  UniqueFd out, err;  // read ends, for Stdio::pipe()
};

// Starts the process. ProcessError when it cannot be started (no such
// program, not executable, bad cwd, a file that cannot be opened).
SpawnedProcess spawn_process(const ProcessSpec& spec);

struct ProcessResult {
  int status = -1;  // waitpid status; -1: unknown
  std::string out, err;
  bool timed_out = false;  // killed (SIGKILL) at the deadline
  bool exited() const;     // ended by exit(), not a signal
  int exit_code() const;   // exit code; -1 if killed by a signal or unknown
};

// Runs to completion, reading whatever of stdout/stderr is a pipe (at most
// max_output bytes each are kept; the rest is read and dropped, so the child
// never blocks on a full pipe). At the deadline the child (its process group
// when it has its own) gets SIGKILL and timed_out is set. Then reaped.
// Without a deadline it waits as long as the child runs.
ProcessResult run_process(const ProcessSpec& spec, std::optional<std::chrono::milliseconds> deadline = std::nullopt,
                          std::size_t max_output = 1u << 20);

// The wait status of a child once it has ended: reaps it. std::nullopt while
// it runs. -1 when `pid` is not (or no longer) a child of this process, e.g.
// already reaped: the PID must then be forgotten, it may be recycled.
std::optional<int> try_reap(int pid);
// Blocks until the child ends; its wait status (-1 as above).
int reap(int pid);
// Waits up to `timeout` for the child to end; its status, or nullopt.
std::optional<int> reap_within(int pid, std::chrono::milliseconds timeout);

// kill(pid, sig), refusing pid <= 0 (kill(0)/kill(-1) would hit a whole group
// or everything). True when the signal was sent.
bool send_signal(int pid, int sig);
// The signal to the process group `pgid` (> 1 only).
bool signal_group(int pgid, int sig);
// True while a process with this PID exists and is not a zombie.
bool process_alive(int pid);

// "exited with status 3", "killed by signal 9 (Killed)", "(status unknown)".
std::string describe_wait_status(int status);

// The program as PATH would find it; empty when it is not there.
std::filesystem::path find_program(const std::string& name);

}  // namespace x0x
