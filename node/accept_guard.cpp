#include "node/accept_guard.h"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace x0x::node {

using namespace std::chrono_literals;

AcceptGuard::AcceptGuard(std::string what) : what_(std::move(what)) { take_spare(); }

AcceptGuard::~AcceptGuard() {
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

bool AcceptGuard::is_fd_exhaustion(int e) { return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM; }

void AcceptGuard::take_spare() {
  if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

AcceptGuard::Exhausted AcceptGuard::on_exhausted() {
  exhausted_total_++;
  episode_refusals_++;
  if (!in_episode_) {
    in_episode_ = true;
    pause_ = 50ms;
    spdlog::warn("{}: out of file descriptors: accepting with the spare one and pausing (logged once until it recovers)",
                 what_);
  } else {
    pause_ = std::min<std::chrono::milliseconds>(pause_ * 2, 1s);
  }
  bool released = spare_fd_ >= 0;
  if (released) {
    ::close(spare_fd_);
    spare_fd_ = -1;
  }
  return {released, pause_};
}

void AcceptGuard::on_accepted() {
  take_spare();
  if (in_episode_ && spare_fd_ >= 0) {
    in_episode_ = false;
    spdlog::info("{}: file descriptors available again after {} refused accepts", what_, episode_refusals_);
    episode_refusals_ = 0;
  }
}

}  // namespace x0x::node
