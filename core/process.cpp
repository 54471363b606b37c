#include "core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

extern char** environ;

namespace x0x {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Moves a new fd above 0-2 (when this process runs with a standard stream
// closed), so the child's dup2 onto 0-2 can never overwrite another of them.
int above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

std::pair<UniqueFd, UniqueFd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw ProcessError("pipe: " + errno_text(errno));
  UniqueFd r(above_stdio(fds[0])), w(above_stdio(fds[1]));
  if (!r || !w) throw ProcessError("pipe: " + errno_text(errno));
  return {std::move(r), std::move(w)};
}

// The fd the child gets for one stream, opened here (O_CLOEXEC: no other
// child inherits it); the parent's copy is closed once the child exists.
UniqueFd open_for_child(const Stdio& s, bool for_input) {
  int fd = -1;
  switch (s.kind) {
    case Stdio::Kind::null:
      fd = ::open("/dev/null", (for_input ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0) throw ProcessError("/dev/null: " + errno_text(errno));
      break;
    case Stdio::Kind::read:
    case Stdio::Kind::append:
    case Stdio::Kind::truncate: {
      if (for_input != (s.kind == Stdio::Kind::read))
        throw ProcessError(std::string("spawn: ") + (for_input ? "stdin can only be read from a file" : "stdout/stderr cannot read a file"));
      if (for_input) {
        fd = ::open(s.file.c_str(), O_RDONLY | O_CLOEXEC);
      } else {
        int mode = s.kind == Stdio::Kind::append ? O_APPEND : O_TRUNC;
        fd = ::open(s.file.c_str(), O_WRONLY | O_CREAT | mode | O_CLOEXEC, 0644);
      }
      if (fd < 0) throw ProcessError("cannot open " + s.file.string() + ": " + errno_text(errno));
      break;
    }
    default:
      return {};
  }
  fd = above_stdio(fd);
  if (fd < 0) throw ProcessError("dup: " + errno_text(errno));
  return UniqueFd(fd);
}

std::string resolve_program(const std::string& program) {
  if (program.empty()) throw ProcessError("spawn: empty program name");
  if (program.find('/') == std::string::npos) {
    auto found = find_program(program);
    if (found.empty()) throw ProcessError("cannot start " + program + ": not found in PATH");
    return found.string();
  }
  std::error_code ec;
  auto abs = fs::absolute(program, ec);
  return ec ? program : abs.string();
}

}  // namespace

fs::path find_program(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) return {};
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path dir = end > start ? fs::path(dirs.substr(start, end - start)) : fs::path(".");
    auto candidate = dir / name;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      std::error_code ec;
      auto abs = fs::absolute(candidate, ec);
      return ec ? candidate : abs;
    }
    start = end + 1;
  }
  return {};
}

namespace {

// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not
// the process: a node restarted from a worker thread would be stopped as soon
// as that thread finished. Children bound to their parent are therefore forked
// from one thread that lives as long as the process, whichever thread asks.
class LifetimeSpawner {
 public:
  // One per process; never destroyed, its thread runs until the process exits.
  // A forked child has no copy of the thread, so it starts its own.
  static LifetimeSpawner& instance() {
    static std::mutex mu;
    static LifetimeSpawner* spawner = nullptr;
    static pid_t owner = -1;
    std::lock_guard lk(mu);
    if (!spawner || owner != ::getpid()) {
      spawner = new LifetimeSpawner;
      owner = ::getpid();
    }
    return *spawner;
  }

  SpawnedProcess run(std::function<SpawnedProcess()> job) {
    std::packaged_task<SpawnedProcess()> task(std::move(job));
    auto result = task.get_future();
    {
      std::lock_guard lk(mu_);
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return result.get();  // rethrows the spawn's ProcessError
  }

 private:
  LifetimeSpawner() { std::thread([this] { loop(); }).detach(); }

  [[noreturn]] void loop() {
    for (;;) {
      std::packaged_task<SpawnedProcess()> task;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<SpawnedProcess()>> queue_;
};

SpawnedProcess spawn_now(const ProcessSpec& spec);

}  // namespace

SpawnedProcess spawn_process(const ProcessSpec& spec) {
  if (spec.die_with_parent) return LifetimeSpawner::instance().run([&] { return spawn_now(spec); });
  return spawn_now(spec);
}

namespace {

SpawnedProcess spawn_now(const ProcessSpec& spec) {
  if (spec.argv.empty()) throw ProcessError("spawn: empty argv");
  if (spec.in.kind == Stdio::Kind::pipe || spec.in.kind == Stdio::Kind::same_as_stdout)
    throw ProcessError("spawn: stdin can be inherited, /dev/null or a file");
  if (spec.out.kind == Stdio::Kind::same_as_stdout) throw ProcessError("spawn: same_as_stdout is for stderr");

  // Everything the child needs, built now.
  std::vector<std::string> args = spec.argv;
  args[0] = resolve_program(args[0]);
  if (spec.die_with_parent) {
    auto setpriv = find_program("setpriv");
    if (setpriv.empty()) throw ProcessError("cannot start " + args[0] + " bound to its parent: setpriv (util-linux) not found in PATH");
    args.insert(args.begin(), {setpriv.string(), "--pdeathsig", "TERM", "--"});
  }
  std::vector<std::string> env_strings;
  if (!spec.clear_env)
    for (char** e = environ; e && *e; ++e) {
      std::string_view kv(*e);
      auto key = kv.substr(0, kv.find('='));
      bool replaced = false;
      for (auto& [k, v] : spec.env) replaced = replaced || k == key;
      if (!replaced) env_strings.emplace_back(kv);
    }
  for (auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  SpawnSetup s;
  SpawnedProcess child;
  UniqueFd in_fd = open_for_child(spec.in, true), out_fd = open_for_child(spec.out, false),
           err_fd = open_for_child(spec.err, false);
  UniqueFd out_write, err_write;
  if (spec.out.kind == Stdio::Kind::pipe) std::tie(child.out, out_write) = make_pipe();
  if (spec.err.kind == Stdio::Kind::pipe) std::tie(child.err, err_write) = make_pipe();
  auto dup_to = [&](int fd, int target) {
    if (fd >= 0) ::posix_spawn_file_actions_adddup2(&s.actions, fd, target);  // dup2 clears CLOEXEC on the copy
  };
  dup_to(in_fd.get(), 0);
  dup_to(out_fd ? out_fd.get() : out_write.get(), 1);
  if (spec.err.kind == Stdio::Kind::same_as_stdout) dup_to(1, 2);
  else dup_to(err_fd ? err_fd.get() : err_write.get(), 2);
  // Nothing else of ours leaks into the child (sockets, other children's pipes).
  ::posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  if (!spec.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&s.actions, spec.cwd.c_str());

  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t none, all;
  ::sigemptyset(&none);
  ::sigfillset(&all);
  ::posix_spawnattr_setsigmask(&s.attr, &none);    // the spawning thread's mask is inherited otherwise
  ::posix_spawnattr_setsigdefault(&s.attr, &all);  // an ignored SIGPIPE/SIGTERM would survive exec
  if (spec.new_session) {
    flags |= POSIX_SPAWN_SETSID;
  } else if (spec.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    ::posix_spawnattr_setpgroup(&s.attr, 0);
  }
  ::posix_spawnattr_setflags(&s.attr, flags);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &s.actions, &s.attr, argv.data(), envp.data());
  if (rc != 0) {
    std::string where = spec.cwd.empty() ? "" : " in " + spec.cwd.string();
    throw ProcessError("cannot start " + spec.argv[0] + where + ": " + errno_text(rc));
  }
  child.pid = pid;
  return child;
}

}  // namespace

bool ProcessResult::exited() const { return status != -1 && WIFEXITED(status); }
int ProcessResult::exit_code() const { return exited() ? WEXITSTATUS(status) : -1; }

ProcessResult run_process(const ProcessSpec& spec, std::optional<std::chrono::milliseconds> deadline, std::size_t max_output) {
  ProcessResult res;
  auto child = spawn_process(spec);
  const auto until = deadline ? Clock::now() + *deadline : Clock::time_point::max();
  struct Stream {
    UniqueFd* fd;
    std::string* text;
  };
  std::vector<Stream> open;
  if (child.out) open.push_back({&child.out, &res.out});
  if (child.err) open.push_back({&child.err, &res.err});
  auto kill_child = [&] {
    if (spec.new_session || spec.new_process_group) signal_group(child.pid, SIGKILL);
    send_signal(child.pid, SIGKILL);
    res.timed_out = true;
  };
  while (!open.empty()) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) {
        kill_child();
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left, 1000 * 60 * 60));
    }
    std::vector<pollfd> pfds;
    for (auto& s : open) pfds.push_back({s.fd->get(), POLLIN, 0});
    int r = ::poll(pfds.data(), pfds.size(), wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    for (std::size_t i = pfds.size(); i-- > 0;) {
      if (!pfds[i].revents) continue;
      char buf[8192];
      auto n = ::read(pfds[i].fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        open[i].fd->reset();
        open.erase(open.begin() + static_cast<long>(i));
        continue;
      }
      auto& text = *open[i].text;
      if (text.size() < max_output) text.append(buf, std::min(static_cast<std::size_t>(n), max_output - text.size()));
    }
  }
  // Pipes closed (or none): the child may still run; wait for it within the deadline.
  if (!res.timed_out && deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (auto st = reap_within(child.pid, std::max(left, std::chrono::milliseconds(0)))) {
      res.status = *st;
      return res;
    }
    kill_child();
  }
  res.status = reap(child.pid);
  return res;
}

std::optional<int> try_reap(int pid) {
  if (pid <= 0) return -1;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &st, WNOHANG);
  } while (r == -1 && errno == EINTR);
  if (r == 0) return std::nullopt;
  return r == pid ? st : -1;
}

int reap(int pid) {
  if (pid <= 0) return -1;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &st, 0);
  } while (r == -1 && errno == EINTR);
  return r == pid ? st : -1;
}

std::optional<int> reap_within(int pid, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  auto step = std::chrono::milliseconds(1);
  while (true) {
    if (auto st = try_reap(pid)) return st;
    auto now = Clock::now();
    if (now >= until) return std::nullopt;
    std::this_thread::sleep_for(std::min<Clock::duration>(step, until - now));
    step = std::min(step * 2, std::chrono::milliseconds(20));
  }
}

bool send_signal(int pid, int sig) { return pid > 0 && ::kill(pid, sig) == 0; }

bool signal_group(int pgid, int sig) { return pgid > 1 && ::kill(-pgid, sig) == 0; }

bool process_alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(") ");
  return close == std::string::npos || close + 2 >= text.size() || text[close + 2] != 'Z';
}

std::string describe_wait_status(int st) {
  if (st == -1) return "(status unknown)";
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    const char* name = ::strsignal(WTERMSIG(st));
    return "killed by signal " + std::to_string(WTERMSIG(st)) + (name ? std::string(" (") + name + ")" : "");
  }
  return "(wait status " + std::to_string(st) + ")";
}

}  // namespace x0x
