#include "node/peer_addresses.h"

#include <algorithm>
#include <random>
#include <tuple>

#include <nlohmann/json.hpp>

namespace x0x::node {

PeerAddressBook::Learned PeerAddressBook::learn(const std::string& addr, bool bootstrap, Clock::time_point now) {
  auto it = entries_.find(addr);
  if (it != entries_.end()) {
    it->second.bootstrap |= bootstrap;
    return Learned::known;
  }
  if (!bootstrap && entries_.size() >= limits_.max_addresses) {
    refused_full_++;
    return Learned::refused_full;
  }
  entries_.emplace(addr, Entry{bootstrap, false, false, false, 0, now});
  return Learned::added;
}

std::vector<std::string> PeerAddressBook::take_due(Clock::time_point now,
                                                   const std::function<bool(const std::string&)>& skip) {
  if (tokens_ < 0) {
    tokens_ = limits_.dial_burst;
    refilled_ = now;
  }
  if (now > refilled_) {
    tokens_ = std::min(limits_.dial_burst,
                       tokens_ + std::chrono::duration<double>(now - refilled_).count() * limits_.dials_per_sec);
    refilled_ = now;
  }
  // Addresses that answered or that a handshaken peer announced (real peers,
  // to get back) go first, then the oldest due: junk from a PEERS flood
  // cannot hold up a redial.
  std::vector<std::tuple<bool, Clock::time_point, const std::string*>> due;
  for (auto& [addr, e] : entries_)
    if (!e.dialing && e.next_attempt <= now && !skip(addr))
      due.emplace_back(!(e.answered_once || e.vouched), e.next_attempt, &addr);
  std::sort(due.begin(), due.end());
  std::vector<std::string> out;
  for (auto& [unproven, at, addr] : due) {
    if (tokens_ < 1) {
      deferred_ += due.size() - out.size();
      break;
    }
    tokens_ -= 1;
    entries_[*addr].dialing = true;
    out.push_back(*addr);
  }
  dials_ += out.size();
  return out;
}

void PeerAddressBook::answered(const std::string& addr) {
  auto it = entries_.find(addr);
  if (it == entries_.end()) return;
  it->second.dialing = false;
  it->second.answered_once = true;
  it->second.failures = 0;
}

void PeerAddressBook::learn_proven(const std::string& addr, Clock::time_point now) {
  if (!entries_.count(addr) && entries_.size() >= limits_.max_addresses) {
    // Room from the least promising address nobody vouched for: most failures first.
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      auto& e = it->second;
      if (e.bootstrap || e.answered_once || e.vouched || e.dialing) continue;
      if (victim == entries_.end() || e.failures > victim->second.failures) victim = it;
    }
    if (victim != entries_.end()) {
      entries_.erase(victim);
      evicted_++;
    }
  }
  auto it = entries_.find(addr);
  if (it == entries_.end()) it = entries_.emplace(addr, Entry{false, false, false, false, 0, now}).first;
  it->second.vouched = true;
  it->second.failures = 0;
}

void PeerAddressBook::dial_failed(const std::string& addr, Clock::time_point now) {
  auto it = entries_.find(addr);
  if (it == entries_.end()) return;
  auto& e = it->second;
  failures_++;
  e.dialing = false;
  e.failures++;
  if (!e.bootstrap && e.failures >= (e.answered_once ? limits_.forget_answered_after : limits_.forget_unanswered_after)) {
    entries_.erase(it);
    forgotten_++;
    return;
  }
  // Exponential, with ±25 % jitter so a fleet that lost the same peer does not
  // redial it in lock step.
  auto step = limits_.first_retry * (1u << std::min(e.failures - 1, 16u));
  auto wait = std::min<Clock::duration>(step, limits_.max_retry);
  thread_local std::minstd_rand rng{std::random_device{}()};
  auto jitter = std::uniform_real_distribution<double>(0.75, 1.25)(rng);
  e.next_attempt = now + std::chrono::duration_cast<Clock::duration>(wait * jitter);
}

void PeerAddressBook::lost(const std::string& addr, Clock::time_point now) {
  auto it = entries_.find(addr);
  if (it == entries_.end()) return;
  it->second.failures = 0;
  it->second.next_attempt = std::min(it->second.next_attempt, now);
}

nlohmann::json PeerAddressBook::stats_json() const {
  return {{"known", entries_.size()}, {"max", limits_.max_addresses},
          {"dials_per_sec", limits_.dials_per_sec}, {"dials_started", dials_},
          {"dials_failed", failures_}, {"dials_deferred", deferred_},
          {"forgotten", forgotten_}, {"refused_full", refused_full_}, {"evicted_for_peers", evicted_}};
}

}  // namespace x0x::node
