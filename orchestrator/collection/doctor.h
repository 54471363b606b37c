// `x0xctl doctor`: read-only preflight of every host before a deploy or a
// chaos run. Blockers make the run fail; warnings only inform.
#pragma once
#include <string>
#include <vector>

#include "orchestrator/control/inventory.h"

namespace x0x::orchestrator {

struct DoctorCheck {
  std::string name;    // ssh, host key, clock, ports, tools, disk, service manager
  std::string status;  // ok | warn | blocker
  std::string detail;
};

struct DoctorHost {
  std::string host;
  std::vector<DoctorCheck> checks;
  bool blocked() const;
};

struct DoctorOptions {
  std::size_t parallel = 8;
  long max_clock_skew_secs = 2;
  long min_free_mb = 512;
  bool accept_new_host_keys = false;
};

std::vector<DoctorHost> run_doctor(const Fleet& fleet, const DoctorOptions& opts);

}  // namespace x0x::orchestrator
