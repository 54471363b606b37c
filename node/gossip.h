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

// How gossip hands a frame to the transport: Mesh::send in the node, a
// recorder in tests. False when the peer is gone or its queue is full.
using GossipSend = std::function<bool(const std::string& peer, wire::FrameType type, std::string body, SendMeta meta)>;

struct GossipTuning {
  std::size_t eager_target = 6;
  std::size_t lazy_target = 8;  // IHAVE per message to at most this many random lazy peers (0: all)
  std::chrono::milliseconds lazy_flush{50};      // an IHAVE waits at most this long for its batch
  std::chrono::milliseconds graft_timeout{250};   // announced but not received: GRAFT+IWANT after this
  std::chrono::milliseconds housekeeping{200};    // cooling, cache eviction: the longest tick gap
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

  // Asks the driver to call tick() no later than `due` (thread-safe; called
  // only when a new deadline is earlier than the one tick() last returned).
  using Wake = std::function<void(Clock::time_point due)>;

  Gossip(GossipSend send, const Identity& id, GossipTuning tuning, Deliver deliver);
  void set_wake(Wake wake) { wake_ = std::move(wake); }  // before any traffic

  // Signs and hands the message to the overlay; `local:` topics stay here.
  void publish(const std::string& topic, std::string payload);
  void handle(const InboundFrame& f);  // a PubSub-stream frame
  void on_peer_up(const std::string& machine_id);
  void on_peer_down(const std::string& machine_id);
  void on_send_result(const std::string& machine_id, const std::string& topic, bool timed_out);
  // Lazy flush, grafts, anti-entropy, cooling, eviction. Returns when it is
  // next due: the driver (a DeadlineTimer in the node) calls it again then,
  // or earlier when Wake asks, so lazy_flush and graft_timeout are honoured
  // to the timer's precision rather than to a fixed tick period.
  Clock::time_point tick(Clock::time_point now);
  // Sends gossip holds outside the mesh's queues, counted in
  // data_tx.data_tx_depth: IHAVE batches waiting for their flush (one frame
  // per peer), and announced messages not yet received (each waits for its
  // GRAFT+IWANT at graft_timeout, or for the answer to one). Without them a
  // mesh whose eager path missed a message would look idle for up to
  // graft_timeout while the repair is still to come.
  std::size_t pending_sends();

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
  // Under mu_: lowers planned_ to `due`; true when the driver must be woken.
  bool plan_locked(Clock::time_point due);
  void wake(Clock::time_point due);
  std::unique_lock<std::mutex> lock_timed(std::mutex& m, StageTimer& t);

  GossipSend send_;
  Wake wake_;
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
  Clock::time_point lazy_due_ = Clock::time_point::max();  // flush time of the oldest waiting entry
  Clock::time_point planned_ = Clock::time_point::min();   // when the driver will call tick() next
  struct Missing {
    std::string topic;
    std::vector<std::string> announcers;
    Clock::time_point deadline;
    std::size_t attempts = 0;
  };
  std::map<wire::MsgId, Missing> missing_;
  std::map<std::string, std::uint64_t> zero_fanout_by_topic_;
  Clock::time_point last_anti_entropy_{};
  std::mt19937_64 rng_{std::random_device{}()};

  std::mutex cooling_mu_;
  Cooling cooling_;
};

}  // namespace x0x::node
