// /diagnostics/gossip and /diagnostics/connectivity: the full x0xd key set,
// every number read from a live counter of this process.
#include <nlohmann/json.hpp>

#include "node/lean_node.h"

namespace x0x::node {

using nlohmann::json;

json LeanNode::gossip_diagnostics() {
  auto& s = gossip_->stats();
  auto total = s.incoming_total.load(), decoded = s.incoming_decoded.load(), failed = s.incoming_decode_failed.load(),
       delivered = s.delivered_to_subscriber.load(), closed = s.subscriber_channel_closed.load();
  json stats = {{"publish_total", s.publish_total.load()},
                {"publish_failed", s.publish_failed.load()},
                {"incoming_total", total},
                {"incoming_decoded", decoded},
                {"incoming_decode_failed", failed},
                {"delivered_to_subscriber", delivered},
                {"slow_subscriber_dropped", s.slow_subscriber_dropped.load()},
                {"subscriber_channel_closed", closed},
                {"in_flight_decode", static_cast<std::int64_t>(total - decoded - failed)},
                {"decode_to_delivery_drops", static_cast<std::int64_t>(decoded) - static_cast<std::int64_t>(delivered) -
                                                 static_cast<std::int64_t>(closed)}};
  std::size_t agents = mesh_->known_agents().size();
  return {{"stats", stats},
          {"pubsub_stages", gossip_->stages_json()},
          {"dispatcher", dispatcher_->to_json()},
          {"recv_pump", pump_.to_json()},
          {"discovery_cache_entries", {{"agents", agents}, {"machines", agents}, {"users", 0}}}};
}

json LeanNode::connectivity_diagnostics() const {
  auto j = mesh_->connectivity_json();
  j["uptime_s"] = uptime_secs();
  return j;
}

}  // namespace x0x::node
