// PubSub traffic on one fresh topic: nodes subscribe and count what reaches
// them over their /events stream, and one node publishes. fanout_burst is a
// burst of it; high_rtt_peer keeps some flowing during its fault, because
// cooling only shows when there is traffic to time out.
#pragma once
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/node_api.h"

namespace x0x::harness {

struct PublishStats {
  int published = 0, errors = 0;
  std::string first_error;
  double secs = 0;
};

class TopicTraffic {
 public:
  // Subscribes every node of `subscribers` to `topic` and opens its /events
  // stream; throws naming the node when a subscription or stream fails.
  TopicTraffic(std::string topic, const std::vector<NodeApi>& subscribers, std::chrono::milliseconds request_timeout);
  ~TopicTraffic();  // streams stopped, subscriptions removed
  TopicTraffic(const TopicTraffic&) = delete;
  TopicTraffic& operator=(const TopicTraffic&) = delete;

  const std::string& topic() const { return topic_; }
  // `count` publishes of `payload_bytes` from `publisher`, `gap` apart, until
  // done or `stop` is set; none while `paused` is set. Publishes that fail
  // are counted, not thrown.
  PublishStats publish(const NodeApi& publisher, int count, int payload_bytes, std::chrono::milliseconds gap,
                       const std::atomic<bool>* stop = nullptr, const std::atomic<bool>* paused = nullptr);
  // Messages of this topic each subscriber has seen so far.
  std::map<std::string, std::size_t> received() const;
  // Stops counting; the counts stay readable.
  void stop();

 private:
  struct Subscriber;
  std::string topic_;
  std::chrono::milliseconds timeout_;
  std::vector<std::unique_ptr<Subscriber>> subs_;
};

}  // namespace x0x::harness
