// Keeps one applied fault alive on its host while this process lives. The
// fault is applied under a short lease (heartbeat_lease) and renewed every
// third of it, so the fault of an orchestrator that dies (SIGKILL, OOM, a
// lost machine) ends within one lease of its death, and a live orchestrator
// holds it for as long as its scenario needs, however long that is.
// Stopping the heartbeat (the destructor) waits for a renewal in flight, so
// the owner's revert that follows is never overtaken by one.
#pragma once
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "orchestrator/faults/fault_injector.h"

namespace x0x::orchestrator {

// The lease a heartbeat renews: a few seconds on a lean node (a local POST),
// longer over SSH, where a renewal crawls through the fault's own delay.
std::chrono::seconds heartbeat_lease(const Host& target, const FaultRequest& req);

class FaultHeartbeat {
 public:
  FaultHeartbeat(FaultInjector& faults, AppliedFault fault, std::chrono::seconds lease);
  ~FaultHeartbeat();  // stop()
  FaultHeartbeat(const FaultHeartbeat&) = delete;
  FaultHeartbeat& operator=(const FaultHeartbeat&) = delete;

  // No renewal after this returns (one in flight is waited for). Idempotent.
  void stop();
  // {"lease_secs","renewed","failed","last_error"?}: the owner's record of the
  // renewals (read on the owner's thread: nothing is reported from this one).
  nlohmann::json summary() const;

 private:
  void run();

  FaultInjector& faults_;
  const AppliedFault fault_;
  const std::chrono::seconds lease_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int renewed_ = 0, failed_ = 0;
  std::string last_error_;
  std::thread thread_;  // last: started once everything above is set
};

}  // namespace x0x::orchestrator
