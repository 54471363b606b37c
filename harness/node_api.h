// How the harness reaches every node's REST API during a run: base URL and
// token per node, opened once (SSH tunnels stay up for the run).
#pragma once
#include <string>
#include <vector>

#include "orchestrator/control/api_access.h"
#include "orchestrator/control/inventory.h"

namespace x0x::harness {

struct NodeApi {
  std::string name, base_url, token;  // token never logged
};

// One entry per host, in fleet order; throws orchestrator::ApiAccessError naming the host.
std::vector<NodeApi> open_node_apis(const orchestrator::Fleet& fleet, orchestrator::ApiAccess& access);
const NodeApi& api_of(const std::vector<NodeApi>& apis, const std::string& name);

}  // namespace x0x::harness
