#include "node/message_cache.h"

#include <nlohmann/json.hpp>

#include "core/blake3.h"

namespace x0x::node {

bool MessageCache::mark_seen(const wire::MsgId& id, Clock::time_point now) {
  if (!seen_.emplace(id, now).second) return false;
  seen_order_.emplace_back(id, now);
  while (seen_order_.size() > limits_.max_seen) {
    seen_.erase(seen_order_.front().first);
    seen_order_.pop_front();
  }
  return true;
}

void MessageCache::store(const wire::MsgId& id, const std::string& topic, std::string body,
                         Clock::time_point now) {
  if (bodies_.count(id)) return;
  auto& ts = topic_stats_[topic];
  ts.msg_count++;
  ts.total_bytes += body.size();
  bytes_ += body.size();
  bodies_.emplace(id, Entry{topic, std::move(body), now});
  body_order_.push_back(id);
  while (bodies_.size() > limits_.max_bodies) drop_oldest_body(Why::count);
  while (bytes_ > limits_.max_bytes && !body_order_.empty()) drop_oldest_body(Why::bytes);
}

void MessageCache::drop_oldest_body(Why why) {
  auto id = body_order_.front();
  body_order_.pop_front();
  auto it = bodies_.find(id);
  if (it == bodies_.end()) return;
  auto& ts = topic_stats_[it->second.topic];
  ts.msg_count--;
  ts.total_bytes -= it->second.body.size();
  (why == Why::age ? ts.evicted_by_age : why == Why::bytes ? ts.evicted_by_bytes : ts.evicted_by_count)++;
  bytes_ -= it->second.body.size();
  bodies_.erase(it);
}

const std::string* MessageCache::body(const wire::MsgId& id) const {
  auto it = bodies_.find(id);
  return it == bodies_.end() ? nullptr : &it->second.body;
}

const std::string* MessageCache::topic_of(const wire::MsgId& id) const {
  auto it = bodies_.find(id);
  return it == bodies_.end() ? nullptr : &it->second.topic;
}

std::vector<wire::MsgId> MessageCache::recent_ids(std::chrono::milliseconds window,
                                                  std::size_t max, Clock::time_point now) const {
  std::vector<wire::MsgId> out;
  for (auto it = body_order_.rbegin(); it != body_order_.rend() && out.size() < max; ++it) {
    auto b = bodies_.find(*it);
    if (b == bodies_.end()) continue;
    if (now - b->second.stored_at > window) break;
    out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void MessageCache::evict(Clock::time_point now) {
  while (!seen_order_.empty() && now - seen_order_.front().second > limits_.seen_ttl) {
    seen_.erase(seen_order_.front().first);
    seen_order_.pop_front();
  }
  while (!body_order_.empty()) {
    auto it = bodies_.find(body_order_.front());
    if (it != bodies_.end() && now - it->second.stored_at <= limits_.body_ttl) break;
    drop_oldest_body(Why::age);
  }
}

nlohmann::json MessageCache::topic_caches_json(Clock::time_point now) const {
  std::map<std::string, Clock::time_point> oldest;
  for (auto& id : body_order_) {
    auto it = bodies_.find(id);
    if (it != bodies_.end()) oldest.emplace(it->second.topic, it->second.stored_at);
  }
  auto out = nlohmann::json::array();
  for (auto& [topic, ts] : topic_stats_) {
    auto o = oldest.find(topic);
    std::uint64_t age = o == oldest.end() ? 0
        : static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now - o->second).count());
    out.push_back({{"topic", topic_id16(topic)},
                   {"cache",
                    {{"msg_count", ts.msg_count},
                     {"total_bytes", ts.total_bytes},
                     {"oldest_age_secs", age},
                     {"evicted_by_age", ts.evicted_by_age},
                     {"evicted_by_bytes", ts.evicted_by_bytes},
                     {"evicted_by_count", ts.evicted_by_count}}}});
  }
  return out;
}

}  // namespace x0x::node
