#include <utility>  // before Boost.Asio: 1.74 misses it under C++20
#include "node/deadline_timer.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace x0x::node {

namespace asio = boost::asio;

struct DeadlineTimer::Impl : std::enable_shared_from_this<DeadlineTimer::Impl> {
  Impl(asio::io_context& io, Fire f) : strand(asio::make_strand(io)), timer(strand), fire(std::move(f)) {}

  // Everything below runs on the strand.
  void arm(Clock::time_point due) {
    if (stopped || due >= armed) return;
    armed = due;
    timer.expires_at(due);  // cancels a later wait
    timer.async_wait(asio::bind_executor(strand, [self = shared_from_this(), due](boost::system::error_code ec) {
      // A wait replaced by an earlier one may still complete successfully if it
      // had expired already: only the current one fires.
      if (ec || self->stopped || self->armed != due) return;
      self->armed = Clock::time_point::max();
      self->arm(self->fire(Clock::now()));
    }));
  }

  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  Fire fire;
  Clock::time_point armed = Clock::time_point::max();  // the pending wait's deadline
  bool stopped = false;
};

DeadlineTimer::DeadlineTimer(asio::io_context& io, Fire fire) : impl_(std::make_shared<Impl>(io, std::move(fire))) {}

DeadlineTimer::~DeadlineTimer() { stop(); }

void DeadlineTimer::run_by(Clock::time_point due) {
  asio::dispatch(impl_->strand, [im = impl_, due] { im->arm(due); });
}

void DeadlineTimer::stop() {
  asio::dispatch(impl_->strand, [im = impl_] {
    im->stopped = true;
    im->timer.cancel();
  });
}

}  // namespace x0x::node
