#include "orchestrator/faults/fault_heartbeat.h"

#include <algorithm>

namespace x0x::orchestrator {

std::chrono::seconds heartbeat_lease(const Host& target, const FaultRequest& req) {
  // Three renewals fit in a lease: two may fail or be late before the host lets go.
  if (target.transport == "local") return std::chrono::seconds(8);
  // A renewal over SSH is a few round trips of the delayed link (netem on the
  // target's interface slows our own session too).
  auto round_trip_ms = req.delay_ms + 2 * req.jitter_ms;
  return std::chrono::seconds(30 + 5 * round_trip_ms / 1000);
}

FaultHeartbeat::FaultHeartbeat(FaultInjector& faults, AppliedFault fault, std::chrono::seconds lease)
    : faults_(faults), fault_(std::move(fault)), lease_(lease), thread_([this] { run(); }) {}

FaultHeartbeat::~FaultHeartbeat() { stop(); }

void FaultHeartbeat::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

nlohmann::json FaultHeartbeat::summary() const {
  std::lock_guard lk(mu_);
  nlohmann::json j = {{"lease_secs", lease_.count()}, {"renewed", renewed_}, {"failed", failed_}};
  if (!last_error_.empty()) j["last_error"] = last_error_;
  return j;
}

void FaultHeartbeat::run() {
  const auto every = std::max<std::chrono::milliseconds>(std::chrono::seconds(1), lease_ / 3);
  std::unique_lock lk(mu_);
  while (!cv_.wait_for(lk, every, [this] { return stop_; })) {
    lk.unlock();
    std::string error;
    try {
      faults_.renew(fault_, lease_);
    } catch (const std::exception& e) {
      error = e.what();  // nothing may escape the thread; the host ends the fault at expiry if this persists
    }
    lk.lock();
    if (error.empty()) {
      ++renewed_;
    } else {
      ++failed_;
      last_error_ = std::move(error);
    }
  }
}

}  // namespace x0x::orchestrator
