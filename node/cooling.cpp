#include "node/cooling.h"

#include <array>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/blake3.h"

namespace x0x::node {

static const char* state_name(Cooling::State s) {
  switch (s) {
    case Cooling::State::cooldown: return "cooldown";
    case Cooling::State::recovery_ready: return "recovery_ready";
    case Cooling::State::recovery_probe: return "recovery_probe";
    default: return "normal";
  }
}

void Cooling::record_success(const std::string& peer, const std::string& topic,
                             Clock::time_point now) {
  auto& e = entries_[{peer, topic}];
  e.successes++;
  e.last_success = now;
  if (e.state == State::recovery_probe) {
    e.recovery_successes++;
    e.state = State::normal;
    e.recent.clear();
  }
}

bool Cooling::record_timeout(const std::string& peer, const std::string& topic,
                             Clock::time_point now) {
  auto& e = entries_[{peer, topic}];
  e.timeouts++;
  e.recent.push_back(now);
  while (!e.recent.empty() && now - e.recent.front() > policy_.window) e.recent.pop_front();
  bool eligible = e.state == State::normal || e.state == State::recovery_probe;
  if (!eligible || e.recent.size() < policy_.threshold) return false;
  e.state = State::cooldown;
  e.cooling_events++;
  e.suppressed_until = now + policy_.cooldown;
  e.last_suppressed = now;
  e.last_suppressed_unix_ms = unix_ms();
  e.recent.clear();
  // Bound the suppression set: evict the longest-suppressed pair.
  while (suppressed_count() > policy_.max_suppressed) {
    Entry* oldest = nullptr;
    for (auto& [k, v] : entries_)
      if (v.state != State::normal && (!oldest || v.last_suppressed < oldest->last_suppressed))
        oldest = &v;
    oldest->state = State::normal;
    oldest->recent.clear();
  }
  return true;
}

bool Cooling::take_eager_slot(const std::string& peer, const std::string& topic) {
  auto it = entries_.find({peer, topic});
  if (it == entries_.end()) return true;
  auto& e = it->second;
  switch (e.state) {
    case State::normal: return true;
    case State::recovery_ready:
      e.state = State::recovery_probe;
      e.recovery_probes++;
      return true;
    default: return false;
  }
}

Cooling::State Cooling::state(const std::string& peer, const std::string& topic) const {
  auto it = entries_.find({peer, topic});
  return it == entries_.end() ? State::normal : it->second.state;
}

void Cooling::tick(Clock::time_point now) {
  for (auto& [k, e] : entries_)
    if (e.state == State::cooldown && now >= e.suppressed_until) e.state = State::recovery_ready;
}

void Cooling::forget_peer(const std::string& peer) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = it->first.first == peer ? entries_.erase(it) : std::next(it);
  iwant_.erase(peer);
}

std::size_t Cooling::suppressed_count() const {
  std::size_t n = 0;
  for (auto& [k, e] : entries_)
    if (e.state != State::normal) ++n;
  return n;
}

nlohmann::json Cooling::to_json_with_roles(
    const std::map<std::pair<std::string, std::string>, std::string>& roles,
    Clock::time_point now) const {
  using nlohmann::json;
  json suppressed = json::array(), by_topic = json::object(), scores = json::array(),
       scores_by_topic = json::object(), admission = json::object();
  std::map<std::string, std::array<int, 4>> per_peer_counts;  // suppressed, cooled, probe, ready
  auto ms = [](auto d) {
    return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  for (auto& [key, e] : entries_) {
    auto& [peer, topic] = key;
    auto pid = peer.substr(0, 16);
    auto tid = topic_id16(topic);
    bool cooled = e.state != State::normal;
    std::string role = cooled ? (e.state == State::cooldown ? "cooled" : state_name(e.state)) : "lazy";
    if (!cooled) {
      auto r = roles.find(key);
      role = r == roles.end() ? "excluded" : r->second;
    }
    double send_health = static_cast<double>(e.successes + 1) / static_cast<double>(e.successes + e.timeouts + 1);
    double recency = e.successes ? std::exp(-std::chrono::duration<double>(now - e.last_success).count() / 60.0) : 0.0;
    auto iw = iwant_.find(peer);
    double iwant_rate = (iw == iwant_.end() || iw->second.first == 0)
                            ? 1.0
                            : static_cast<double>(iw->second.second) / static_cast<double>(iw->second.first);
    double score = send_health * (0.5 + 0.5 * recency);
    bool eager_eligible = e.state == State::normal || e.state == State::recovery_ready;
    std::int64_t recent = static_cast<std::int64_t>(e.recent.size());
    if (cooled) {
      auto until_ms = static_cast<std::int64_t>(e.last_suppressed_unix_ms) + ms(e.suppressed_until - e.last_suppressed);
      suppressed.push_back({{"peer_id", pid}, {"topic", tid},
                            {"suppressed_until_unix_ms", until_ms},
                            {"suppressed_for_ms", std::max<std::int64_t>(0, ms(e.suppressed_until - now))},
                            {"recent_timeout_count", recent},
                            {"recent_timeout_rate_per_sec", static_cast<double>(recent) / std::chrono::duration<double>(policy_.window).count()},
                            {"affected_topics_count", 1},
                            {"cooldown_ms", ms(policy_.cooldown)},
                            {"last_suppressed_unix_ms", e.last_suppressed_unix_ms},
                            {"state", state_name(e.state)},
                            {"recovery_probe_in_flight", e.state == State::recovery_probe}});
      by_topic[tid].push_back(pid);
      auto& pc = per_peer_counts[pid];
      pc[0]++;
      if (e.state == State::cooldown) pc[1]++;
      if (e.state == State::recovery_probe) pc[2]++;
      if (e.state == State::recovery_ready) pc[3]++;
    }
    scores.push_back({{"peer_id", pid}, {"topic", tid}, {"role", role}, {"score", score},
                      {"iwant_response_rate", iwant_rate}, {"recency", recency},
                      {"send_health", send_health},
                      {"outbound_send_successes", static_cast<double>(e.successes)},
                      {"outbound_send_timeouts", static_cast<double>(e.timeouts)},
                      {"cooling_events", static_cast<double>(e.cooling_events)},
                      {"recovery_probes", static_cast<double>(e.recovery_probes)},
                      {"recovery_successes", static_cast<double>(e.recovery_successes)},
                      {"eager_eligible", eager_eligible}});
    scores_by_topic[tid][pid] = {{"role", role}, {"score", score}, {"send_health", send_health},
                                 {"outbound_send_timeouts", static_cast<double>(e.timeouts)},
                                 {"cooling_events", static_cast<double>(e.cooling_events)},
                                 {"eager_eligible", eager_eligible},
                                 {"suppression_state", cooled ? state_name(e.state) : "none"},
                                 {"recent_timeout_count", recent},
                                 {"cooldown_ms", ms(policy_.cooldown)},
                                 {"last_cool_at_unix_ms", e.last_suppressed_unix_ms}};
  }
  for (auto& [pid, counts] : per_peer_counts)
    admission[pid] = {{"state", counts[1] ? "cooled" : "recovering"},
                      {"suppressed_topics_count", counts[0]},
                      {"cooled_topics_count", counts[1]},
                      {"recovery_probe_topics_count", counts[2]},
                      {"recovery_ready_topics_count", counts[3]},
                      {"priority_queue_depths", json::object()}};
  return {{"suppressed_peers", suppressed},
          {"suppressed_peers_by_topic", by_topic},
          {"peer_scores", scores},
          {"peer_scores_by_topic", scores_by_topic},
          {"admission_state_by_peer", admission}};
}

}  // namespace x0x::node
