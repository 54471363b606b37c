// The PubSub engine: publish, and the handling of PUB / IHAVE / IWANT /
// PRUNE / GRAFT / DIGEST frames from the dispatcher. Combines the PlumTree
// sets, the message cache, slow-peer cooling and the stage timers.
#pragma once
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "node/cooling.h"
#include "node/identity.h"
#include "node/mesh.h"
#include "node/message_cache.h"
#include "node/metrics.h"
#include "node/plumtree.h"
#include "node/recv_pump.h"

namespace x0x::node {

struct GossipTuning {
  std::size_t eager_target = 6;
  std::chrono::milliseconds lazy_flush{50};
  std::chrono::milliseconds graft_timeout{250};
  std::chrono::milliseconds anti_entropy_interval{1000};
  std::chrono::milliseconds digest_window{30000};
  std::size_t digest_max_ids = 512;
  Cooling::Policy cooling;
};

class Gossip {
 public:
  // Called for every message this node should hand to its local subscribers
  // (its own publishes included), with the publisher's agent id.
  using Deliver = std::function<void(const wire::Pub& msg, const std::string& sender_agent_id)>;

  Gossip(Mesh& mesh, const Identity& id, GossipTuning tuning, Deliver deliver);

  // Signs and hands the message to the overlay; `local:` topics stay here.
  void publish(const std::string& topic, std::string payload);
  void handle(const InboundFrame& f);  // a PubSub-stream frame
  void on_peer_up(const std::string& machine_id);
  void on_peer_down(const std::string& machine_id);
  void on_send_result(const std::string& machine_id, const std::string& topic, bool timed_out);
  void tick(Clock::time_point now);  // lazy flush, grafts, anti-entropy, cooling, eviction

  PubSubStats& stats() { return stats_; }
  MessageKinds& kinds() { return kinds_; }
  GossipStages& stages() { return stages_; }
  nlohmann::json stages_json();

 private:
  void handle_pub(const InboundFrame& f);
  // Pushes eagerly where the tree and cooling allow, announces lazily elsewhere.
  void fan_out(const wire::MsgId& id, const std::string& topic, const std::string& body,
               const std::string& exclude, bool local_publish);
  void send_control(const std::string& peer, wire::FrameType t, std::string body);
  std::unique_lock<std::mutex> lock_timed(std::mutex& m, StageTimer& t);

  Mesh& mesh_;
  const Identity& id_;
  GossipTuning tuning_;
  Deliver deliver_;
  PubSubStats stats_;
  MessageKinds kinds_;
  GossipStages stages_;

  std::mutex mu_;  // tree, cache, lazy queues, missing ids
  PlumTree tree_;
  MessageCache cache_;
  std::map<std::string, std::vector<wire::IHaveEntry>> lazy_queue_;
  struct Missing {
    std::string topic;
    std::vector<std::string> announcers;
    Clock::time_point deadline;
    std::size_t attempts = 0;
  };
  std::map<wire::MsgId, Missing> missing_;
  std::map<std::string, std::uint64_t> zero_fanout_by_topic_;
  Clock::time_point last_flush_{}, last_anti_entropy_{};
  std::mt19937_64 rng_{std::random_device{}()};

  std::mutex cooling_mu_;
  Cooling cooling_;
};

}  // namespace x0x::node
