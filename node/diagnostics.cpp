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
  // Quiescence readers check recv_pump.<stream>.latest_depth == 0 and
  // dispatcher.<stream>.received == completed + timed_out. The queues are read
  // first: a frame still queued then shows as depth, one dequeued before shows
  // in `received` (counted with the dequeue) until its outcome is counted.
  auto recv_pump = pump_.to_json();
  auto dispatcher = dispatcher_->to_json();
  return {{"stats", stats},
          {"pubsub_stages", gossip_->stages_json()},
          {"dispatcher", std::move(dispatcher)},
          {"recv_pump", std::move(recv_pump)},
          {"discovery_cache_entries", {{"agents", agents}, {"machines", agents}, {"users", 0}}}};
}

json LeanNode::connectivity_diagnostics() const {
  // data_tx_depth: frames queued to or being written to peers right now, on
  // every connection, plus the sends gossip holds outside the mesh (IHAVE
  // batches before their lazy flush, announced messages awaiting GRAFT+IWANT
  // or its answer; see Gossip::pending_sends). 0 means no send is pending.
  // Gossip is read first: a batch flushed after that read is in the mesh's
  // queues when they are read.
  auto held_by_gossip = gossip_->pending_sends();
  auto j = mesh_->connectivity_json();
  j["data_tx"]["data_tx_depth"] = j["data_tx"]["data_tx_depth"].get<std::uint64_t>() + held_by_gossip;
  j["uptime_s"] = uptime_secs();
  return j;
}

}  // namespace x0x::node
