// What the gossip engine remembers about messages: the ids it has seen
// (dedupe, kept for seen_ttl) and the signed bodies of recent ones (to answer
// IWANT and anti-entropy), bounded by age, count and bytes. Not thread-safe.
#pragma once
#include <chrono>
#include <cstring>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "node/metrics.h"
#include "node/wire.h"

namespace x0x::node {

struct MsgIdHash {
  std::size_t operator()(const wire::MsgId& id) const noexcept {
    std::size_t h;
    std::memcpy(&h, id.data(), sizeof h);
    return h;
  }
};

class MessageCache {
 public:
  struct Limits {
    std::chrono::seconds seen_ttl{300};
    std::size_t max_seen = 500'000;
    std::chrono::seconds body_ttl{120};
    std::size_t max_bodies = 20'000;
    std::size_t max_bytes = 64u * 1024 * 1024;
  };
  MessageCache() : MessageCache(Limits{}) {}
  explicit MessageCache(Limits limits) : limits_(limits) {}

  bool seen(const wire::MsgId& id) const { return seen_.count(id) != 0; }
  // Records the id; false when it was already seen.
  bool mark_seen(const wire::MsgId& id, Clock::time_point now = Clock::now());
  void store(const wire::MsgId& id, const std::string& topic, std::string body,
             Clock::time_point now = Clock::now());
  const std::string* body(const wire::MsgId& id) const;
  const std::string* topic_of(const wire::MsgId& id) const;
  // Ids of bodies stored within `window`, newest last, at most `max`.
  std::vector<wire::MsgId> recent_ids(std::chrono::milliseconds window, std::size_t max,
                                      Clock::time_point now = Clock::now()) const;
  void evict(Clock::time_point now = Clock::now());

  std::size_t seen_count() const { return seen_.size(); }
  std::size_t body_count() const { return bodies_.size(); }
  nlohmann::json topic_caches_json(Clock::time_point now = Clock::now()) const;

 private:
  struct Entry {
    std::string topic;
    std::string body;
    Clock::time_point stored_at;
  };
  struct TopicStats {
    std::uint64_t msg_count = 0, total_bytes = 0, evicted_by_age = 0, evicted_by_bytes = 0,
                  evicted_by_count = 0;
  };
  enum class Why { age, bytes, count };
  void drop_oldest_body(Why why);

  Limits limits_;
  std::unordered_map<wire::MsgId, Clock::time_point, MsgIdHash> seen_;
  std::deque<std::pair<wire::MsgId, Clock::time_point>> seen_order_;
  std::unordered_map<wire::MsgId, Entry, MsgIdHash> bodies_;
  std::deque<wire::MsgId> body_order_;
  std::size_t bytes_ = 0;
  std::map<std::string, TopicStats> topic_stats_;
};

}  // namespace x0x::node
