// The two ways a fault reaches a host, behind make_fault_injector: the lean
// node's /lean/faults API (transport "local") and tc/iptables/signals over
// SSH. The injector validates requests (kind, hosts, anchor, lease) and picks
// the backend by the target's transport; backends are thread-safe so status
// and clear can run on many hosts at once.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/faults/fault_injector.h"

namespace x0x::orchestrator {

class FaultBackend {
 public:
  virtual ~FaultBackend() = default;
  virtual AppliedFault apply(const FaultRequest& req, const Host& target, const std::vector<const Host*>& peers,
                             const std::string& id) = 0;
  virtual nlohmann::json revert(const AppliedFault& fault, const Host& target) = 0;
  // See FaultInjector::renew.
  virtual double renew(const AppliedFault& fault, const Host& target, std::chrono::seconds lease) = 0;
  // {"host","transport","faults":[{"id","kind","mechanism","expires_unix",…}], …} or {"host","error"}.
  virtual nlohmann::json status(const Host& host) = 0;
  // {"host","clean","removed":[…]} (+ "would_run" when dry_run, "error" on failure).
  virtual nlohmann::json clear(const Host& host) = 0;
};

std::unique_ptr<FaultBackend> make_lean_api_backend(const Fleet& fleet, const FaultInjectorOptions& opts);
std::unique_ptr<FaultBackend> make_ssh_backend(const Fleet& fleet, const FaultInjectorOptions& opts);

double unix_now();

}  // namespace x0x::orchestrator
