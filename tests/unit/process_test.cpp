#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "core/encoding.h"
#include "core/process.h"
#include "tests/support/files.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace x0x;
using Catch::Matchers::Contains;
using x0x::testing::slurp;
using x0x::testing::write_file;
using x0x::testing::TempDir;

namespace {

// A child spawned by a test, killed and reaped whatever happens.
struct Reaper {
  int pid;
  ~Reaper() {
    if (pid > 0 && !try_reap(pid)) {
      send_signal(pid, SIGKILL);
      reap(pid);
    }
  }
};

std::string field_of_stat(int pid, int field) {  // 1-based, as proc(5) numbers them
  auto text = slurp("/proc/" + std::to_string(pid) + "/stat");
  auto rest = text.substr(text.rfind(')') + 2);
  std::istringstream in(rest);
  std::string w;
  for (int i = 3; i <= field && in >> w; ++i) {
  }
  return w;
}

ProcessSpec captured(std::vector<std::string> argv) {
  ProcessSpec s;
  s.argv = std::move(argv);
  s.out = Stdio::pipe();
  s.err = Stdio::pipe();
  return s;
}

}  // namespace

TEST_CASE("run_process runs an argv without a shell and captures stdout, stderr and the exit code", "[process]") {
  auto r = run_process(captured({"echo", "a  b", "$HOME", "'q'"}), 10s);
  CHECK(r.exit_code() == 0);
  CHECK(r.out == "a  b $HOME 'q'\n");  // no word splitting, no expansion
  auto sh = run_process(captured({"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}), 10s);
  CHECK(sh.exit_code() == 7);
  CHECK(sh.out == "out\n");
  CHECK(sh.err == "err\n");
  CHECK_FALSE(sh.timed_out);
}

TEST_CASE("run_process: environment, working directory, files for stdin, stdout and stderr", "[process]") {
  TempDir dir;
  auto s = captured({"/bin/sh", "-c", "echo \"$X0X_A|${X0X_B-unset}|$(pwd)\""});
  s.env = {{"X0X_A", "one two"}};
  s.cwd = dir.path;
  ::setenv("X0X_B", "inherited", 1);
  auto r = run_process(s, 10s);
  CHECK(r.out == "one two|inherited|" + fs::canonical(dir.path).string() + "\n");
  s.clear_env = true;
  r = run_process(s, 10s);
  CHECK(r.out == "one two|unset|" + fs::canonical(dir.path).string() + "\n");
  ::unsetenv("X0X_B");

  write_file(dir.path / "in.txt", "from a file\n");
  ProcessSpec f;
  f.argv = {"/bin/sh", "-c", "cat; echo to-stderr >&2"};
  f.in = Stdio::read_from(dir.path / "in.txt");
  f.out = Stdio::append_to(dir.path / "out.log");
  f.err = Stdio::same_as_stdout();
  CHECK(run_process(f, 10s).exit_code() == 0);
  CHECK(run_process(f, 10s).exit_code() == 0);
  CHECK(slurp(dir.path / "out.log") == "from a file\nto-stderr\nfrom a file\nto-stderr\n");  // appended
  f.out = Stdio::write_to(dir.path / "out.log");
  CHECK(run_process(f, 10s).exit_code() == 0);
  CHECK(slurp(dir.path / "out.log") == "from a file\nto-stderr\n");  // truncated
  // stdin defaults to /dev/null: cat ends at once.
  CHECK(run_process(captured({"cat"}), 10s).out.empty());
}

TEST_CASE("run_process kills a child at its deadline, with its process group when it has one", "[process]") {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_process(captured({"sleep", "30"}), 300ms);
  CHECK(r.timed_out);
  CHECK(WIFSIGNALED(r.status));
  CHECK(WTERMSIG(r.status) == SIGKILL);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);

  // A grandchild that holds the pipe open goes with the group.
  auto s = captured({"/bin/sh", "-c", "sleep 30 & echo $!; wait"});
  s.new_process_group = true;
  r = run_process(s, 500ms);
  CHECK(r.timed_out);
  int grandchild = std::atoi(r.out.c_str());
  REQUIRE(grandchild > 0);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (process_alive(grandchild) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(process_alive(grandchild));
}

TEST_CASE("spawn_process names the program or the folder it could not start", "[process]") {
  try {
    spawn_process(captured({"x0x-no-such-program"}));
    FAIL("spawned a program that does not exist");
  } catch (const ProcessError& e) {
    CHECK_THAT(e.what(), Contains("x0x-no-such-program") && Contains("not found in PATH"));
  }
  try {
    auto s = captured({"/bin/true"});
    s.cwd = "/nonexistent-x0x-dir";
    spawn_process(s);
    FAIL("spawned into a folder that does not exist");
  } catch (const ProcessError& e) {
    CHECK_THAT(e.what(), Contains("/bin/true") && Contains("/nonexistent-x0x-dir"));
  }
  ProcessSpec bad_log;
  bad_log.argv = {"/bin/true"};
  bad_log.out = Stdio::append_to("/nonexistent-x0x-dir/log");
  CHECK_THROWS_WITH(spawn_process(bad_log), Contains("cannot open /nonexistent-x0x-dir/log"));
  CHECK_FALSE(find_program("sh").empty());
  CHECK(find_program("x0x-no-such-program").empty());
}

TEST_CASE("a spawned child has only fds 0-2, an empty signal mask and default signal dispositions", "[process]") {
  // A file only this test opens, not CLOEXEC: posix_spawn alone would pass it on.
  const auto marker = fs::temp_directory_path() / ("x0x-leak-marker-" + std::to_string(::getpid()));
  int leaked = ::open(marker.c_str(), O_RDONLY | O_CREAT, 0600);
  REQUIRE(leaked >= 0);
  sigset_t usr1, old_mask;
  ::sigemptyset(&usr1);
  ::sigaddset(&usr1, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);

  ProcessSpec s;
  s.argv = {"sleep", "30"};
  auto child = spawn_process(s);
  Reaper reaper{child.pid};
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::signal(SIGPIPE, old_pipe);
  ::close(leaked);
  // Wait for the exec (the image is sleep's, not ours).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto self = fs::read_symlink("/proc/self/exe");
  while (fs::read_symlink("/proc/" + std::to_string(child.pid) + "/exe") == self && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  // sleep itself may hold a locale file open for a moment after its exec:
  // what must not be there is anything of ours beyond 0-2.
  std::vector<std::string> fds, ours;
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc/" + std::to_string(child.pid) + "/fd")) {
    fds.push_back(e.path().filename());
    if (fs::read_symlink(e.path(), ec) == marker) ours.push_back(e.path().filename());
  }
  fs::remove(marker, ec);
  std::sort(fds.begin(), fds.end());
  CHECK(std::vector<std::string>(fds.begin(), fds.begin() + std::min<std::size_t>(3, fds.size())) ==
        std::vector<std::string>{"0", "1", "2"});
  CHECK(ours.empty());
  auto status = slurp("/proc/" + std::to_string(child.pid) + "/status");
  auto mask = [&](const std::string& key) {
    auto at = status.find(key + ":\t");
    REQUIRE(at != std::string::npos);
    return std::stoull(status.substr(at + key.size() + 2, 16), nullptr, 16);
  };
  INFO(status);
  CHECK(mask("SigBlk") == 0);
  // The standard signals (1-31); glibc keeps its two internal real-time ones ignored.
  CHECK((mask("SigIgn") & 0x7fffffffULL) == 0);
}

TEST_CASE("spawn_process: a new session, and die_with_parent ends the child with this process, not its spawning thread", "[process]") {
  ProcessSpec s;
  s.argv = {"sleep", "30"};
  s.new_session = true;
  auto child = spawn_process(s);
  Reaper r1{child.pid};
  CHECK(field_of_stat(child.pid, 6) == std::to_string(child.pid));  // session id
  CHECK(field_of_stat(child.pid, 5) == std::to_string(child.pid));  // process group
  CHECK(send_signal(child.pid, SIGKILL));
  auto st = reap_within(child.pid, 10s);
  REQUIRE(st);
  CHECK(WTERMSIG(*st) == SIGKILL);
  r1.pid = -1;

  // Bound to the process, not to the thread that asked: a child spawned from a
  // short-lived thread outlives it (PR_SET_PDEATHSIG alone would follow the thread).
  auto sleep_exe = fs::canonical(find_program("sleep"));
  auto wait_exec = [&](int pid) {  // setpriv has set the death signal once it has exec'd sleep
    auto deadline = std::chrono::steady_clock::now() + 10s;
    std::error_code ec;
    while (fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec) != sleep_exe && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
  };
  int pid = -1;
  std::thread spawner([&] {
    ProcessSpec d;
    d.argv = {"sleep", "30"};
    d.die_with_parent = true;
    pid = spawn_process(d).pid;
    wait_exec(pid);
  });
  spawner.join();
  REQUIRE(pid > 0);
  Reaper r2{pid};
  CHECK_FALSE(reap_within(pid, 300ms));  // still running after its spawning thread ended
  CHECK(send_signal(pid, SIGKILL));
  REQUIRE(reap_within(pid, 10s));
  r2.pid = -1;

  // And it ends with the process: a forked copy of this process spawns it and exits.
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t middle = ::fork();
  REQUIRE(middle >= 0);
  if (middle == 0) {
    ::close(report[0]);
    ProcessSpec d;
    d.argv = {"sleep", "30"};
    d.die_with_parent = true;
    int grandchild = spawn_process(d).pid;
    wait_exec(grandchild);
    (void)!::write(report[1], &grandchild, sizeof grandchild);
    ::_exit(0);
  }
  ::close(report[1]);
  int grandchild = -1;
  CHECK(::read(report[0], &grandchild, sizeof grandchild) == static_cast<ssize_t>(sizeof grandchild));
  ::close(report[0]);
  REQUIRE(reap_within(middle, 10s));
  REQUIRE(grandchild > 0);
  // Not our child: it is gone once /proc no longer lists it (its reaper is init).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (fs::exists("/proc/" + std::to_string(grandchild)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK_FALSE(fs::exists("/proc/" + std::to_string(grandchild)));
}

TEST_CASE("PID helpers never signal a whole group by accident and forget what is not their child", "[process]") {
  CHECK_FALSE(send_signal(0, 0));
  CHECK_FALSE(send_signal(-1, 0));
  CHECK_FALSE(signal_group(1, 0));
  CHECK(try_reap(1) == -1);  // init is not our child
  auto r = run_process(captured({"/bin/sh", "-c", "exit 3"}), 10s);
  CHECK(describe_wait_status(r.status) == "exited with status 3");
  CHECK_THAT(describe_wait_status(9), Contains("killed by signal 9"));
  CHECK(describe_wait_status(-1) == "(status unknown)");
}
