// What an accept loop does at the process's fd limit. Not thread-safe apart
// from the counters: used on its acceptor's strand. accept() then fails at
// once with EMFILE for as long as the limit holds, so a loop that simply
// retries spins a core and never logs why. AcceptGuard keeps one spare
// descriptor: on exhaustion the acceptor gives it up to take the waiting
// connection (the API serves it, the mesh closes it), pauses with a growing
// back-off, and logs once per episode.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace x0x::node {

class AcceptGuard {
 public:
  explicit AcceptGuard(std::string what);  // "mesh", "api": for the log
  ~AcceptGuard();
  AcceptGuard(const AcceptGuard&) = delete;
  AcceptGuard& operator=(const AcceptGuard&) = delete;

  static bool is_fd_exhaustion(int errno_value);  // EMFILE, ENFILE, ENOBUFS, ENOMEM

  // An accept failed for lack of descriptors: gives up the spare descriptor
  // (true when there was one, so one accept can now succeed), logs at the
  // start of an episode, and returns how long to pause before the next try.
  struct Exhausted {
    bool spare_released;
    std::chrono::milliseconds pause;
  };
  Exhausted on_exhausted();
  // An accept succeeded: takes the spare back if it can, ends an episode.
  void on_accepted();
  // The connection taken with the spare was closed at once: the spare back,
  // the episode goes on.
  void restore_spare() { take_spare(); }

  std::uint64_t exhausted_total() const { return exhausted_total_.load(); }
  std::uint64_t shed_total() const { return shed_total_.load(); }
  void count_shed() { shed_total_++; }

 private:
  void take_spare();
  std::string what_;
  int spare_fd_ = -1;
  bool in_episode_ = false;
  std::chrono::milliseconds pause_{0};
  std::uint64_t episode_refusals_ = 0;
  std::atomic<std::uint64_t> exhausted_total_{0}, shed_total_{0};  // read by diagnostics on other threads
};

}  // namespace x0x::node
