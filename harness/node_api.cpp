#include "harness/node_api.h"

#include <stdexcept>

namespace x0x::harness {

std::vector<NodeApi> open_node_apis(const orchestrator::Fleet& fleet, orchestrator::ApiAccess& access) {
  std::vector<NodeApi> out;
  for (auto& h : fleet.hosts) {
    auto ep = access.open(h);
    out.push_back({h.name, ep.base_url, ep.token});
  }
  return out;
}

const NodeApi& api_of(const std::vector<NodeApi>& apis, const std::string& name) {
  for (auto& a : apis)
    if (a.name == name) return a;
  throw std::out_of_range("no API for node " + name);
}

}  // namespace x0x::harness
