#include "node/gossip.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/blake3.h"
#include "core/encoding.h"

namespace x0x::node {

using wire::FrameType;

Gossip::Gossip(GossipSend send, const Identity& id, GossipTuning tuning, Deliver deliver)
    : send_(std::move(send)), id_(id), tuning_(tuning), deliver_(std::move(deliver)),
      tree_(tuning.eager_target, tuning.lazy_target), cooling_(tuning.cooling) {}

bool Gossip::plan_locked(Clock::time_point due) {
  if (due >= planned_) return false;
  planned_ = due;
  return true;
}

void Gossip::wake(Clock::time_point due) {
  if (wake_) wake_(due);
}

std::unique_lock<std::mutex> Gossip::lock_timed(std::mutex& m, StageTimer& t) {
  StageScope s(t);
  return std::unique_lock<std::mutex>(m);
}

void Gossip::publish(const std::string& topic, std::string payload) {
  stats_.publish_total++;
  wire::Pub p;
  auto rnd = random_bytes(16);
  std::copy(rnd.begin(), rnd.end(), p.id.begin());
  p.topic = topic;
  p.ts_ms = unix_ms();
  p.payload = std::move(payload);
  auto body = wire::encode_pub(p, id_.agent);
  if (topic.rfind("local:", 0) != 0) {
    auto lk = lock_timed(mu_, stages_.dedupe_lock_acquire);
    cache_.mark_seen(p.id);
    cache_.store(p.id, topic, body);
  }
  deliver_(p, id_.agent_id);
  if (topic.rfind("local:", 0) == 0) return;
  StageScope s(stages_.eager_fanout);
  fan_out(p.id, topic, body, {}, true);
}

void Gossip::fan_out(const wire::MsgId& id, const std::string& topic, const std::string& body,
                     const std::string& exclude, bool local_publish) {
  PlumTree::Targets t;
  {
    std::lock_guard lk(mu_);
    t = tree_.targets(topic, exclude);
  }
  std::vector<std::string> eager, lazy;
  {
    auto lk = lock_timed(cooling_mu_, stages_.suppressed_peers_lock_wait);
    for (auto& p : t.eager) (cooling_.take_eager_slot(p, topic) ? eager : lazy).push_back(p);
    // Cooling pruned a suppressed pair out of the eager tree, so a pair whose
    // cooldown is over gets its recovery probe (one eager push) wherever the
    // tree has it; without it the pair would stay suppressed for good.
    for (auto& p : t.lazy) {
      bool probe = cooling_.state(p, topic) == Cooling::State::recovery_ready && cooling_.take_eager_slot(p, topic);
      (probe ? eager : lazy).push_back(p);
    }
  }
  std::size_t ok = 0;
  for (auto& p : eager)
    if (send_(p, FrameType::pub, body, SendMeta{{topic}, true})) ++ok;
  if (!lazy.empty()) {
    std::optional<Clock::time_point> wake_at;
    {
      std::lock_guard lk(mu_);
      if (lazy_queue_.empty()) {
        lazy_due_ = Clock::now() + tuning_.lazy_flush;
        if (plan_locked(lazy_due_)) wake_at = lazy_due_;
      }
      for (auto& p : lazy) lazy_queue_[p].push_back({id, topic});
    }
    if (wake_at) wake(*wake_at);
  }
  if (local_publish) {
    if (eager.empty() && lazy.empty()) {
      stages_.zero_fanout_publishes++;
      std::lock_guard lk(mu_);
      zero_fanout_by_topic_[topic_id16(topic)]++;
    } else if (!eager.empty() && ok == 0 && lazy.empty()) {
      stages_.zero_succeeded_publishes++;
    }
  }
}

void Gossip::send_control(const std::string& peer, FrameType t, std::string body) {
  send_(peer, t, std::move(body), {});
}

void Gossip::handle(const InboundFrame& f) {
  switch (f.type) {
    case FrameType::pub:
      kinds_.eager++;
      return handle_pub(f);
    case FrameType::ihave: {
      kinds_.ihave++;
      std::vector<wire::IHaveEntry> entries;
      {
        StageScope s(stages_.decode);
        entries = wire::decode_ihave(f.body);
      }
      auto now = Clock::now();
      bool wake_now = false;
      {
        std::lock_guard lk(mu_);
        for (auto& e : entries) {
          if (cache_.seen(e.id)) continue;
          auto [it, fresh] = missing_.try_emplace(e.id, Missing{e.topic, {}, now + tuning_.graft_timeout});
          it->second.announcers.push_back(f.peer_machine_id);
          if (fresh) wake_now |= plan_locked(it->second.deadline);
        }
      }
      if (wake_now) wake(now + tuning_.graft_timeout);
      return;
    }
    case FrameType::iwant: {
      kinds_.iwant++;
      auto ids = wire::decode_ids(f.body);
      std::vector<std::string> bodies;
      {
        std::lock_guard lk(mu_);
        for (auto& id : ids)
          if (auto b = cache_.body(id)) bodies.push_back(*b);
      }
      for (auto& b : bodies) send_(f.peer_machine_id, FrameType::pub, std::move(b), {});
      return;
    }
    case FrameType::prune: {
      kinds_.other++;
      auto topic = wire::decode_topic(f.body);
      std::lock_guard lk(mu_);
      if (tree_.role(topic, f.peer_machine_id) == PlumTree::Role::eager) kinds_.prune++;
      tree_.on_prune(topic, f.peer_machine_id);
      return;
    }
    case FrameType::graft: {
      kinds_.other++;
      auto topic = wire::decode_topic(f.body);
      std::lock_guard lk(mu_);
      if (tree_.role(topic, f.peer_machine_id) != PlumTree::Role::eager) kinds_.graft++;
      tree_.on_graft(topic, f.peer_machine_id);
      return;
    }
    case FrameType::digest: {
      kinds_.anti_entropy++;
      auto ids = wire::decode_ids(f.body);
      std::vector<wire::MsgId> want;
      {
        std::lock_guard lk(mu_);
        for (auto& id : ids)
          if (!cache_.seen(id)) want.push_back(id);
      }
      if (!want.empty()) {
        {
          std::lock_guard lk(cooling_mu_);
          cooling_.record_iwant(f.peer_machine_id);
        }
        send_control(f.peer_machine_id, FrameType::iwant, wire::encode_ids(want));
      }
      return;
    }
    default:
      kinds_.other++;
      return;
  }
}

void Gossip::handle_pub(const InboundFrame& f) {
  wire::Pub p;
  try {
    StageScope s(stages_.decode);
    p = wire::decode_pub(f.body);
  } catch (const wire::WireError&) {
    kinds_.decode_failed++;
    throw;
  }
  bool duplicate;
  {
    auto lk = lock_timed(mu_, stages_.dedupe_lock_acquire);
    StageScope s(stages_.dedupe_check);
    duplicate = cache_.seen(p.id);
    if (duplicate && tree_.on_duplicate(p.topic, f.peer_machine_id)) {
      kinds_.prune++;
      lk.unlock();
      send_control(f.peer_machine_id, FrameType::prune, wire::encode_topic(p.topic));
    }
  }
  if (duplicate) return;
  bool ok;
  {
    StageScope s(stages_.verify);
    ok = wire::verify_pub(p, f.body);
  }
  if (!ok) {
    kinds_.decode_failed++;
    return;
  }
  bool was_missing = false;
  {
    auto lk = lock_timed(mu_, stages_.dedupe_lock_acquire);
    if (!cache_.mark_seen(p.id)) return;  // another worker got there first
    cache_.store(p.id, p.topic, f.body);
    was_missing = missing_.erase(p.id) > 0;
  }
  if (was_missing) {
    std::lock_guard lk(cooling_mu_);
    cooling_.record_iwant_answer(f.peer_machine_id);
  }
  deliver_(p, derive_agent_id(p.origin));
  StageScope s(stages_.republish);
  fan_out(p.id, p.topic, f.body, f.peer_machine_id, false);
}

void Gossip::on_peer_up(const std::string& machine_id) {
  std::lock_guard lk(mu_);
  tree_.add_peer(machine_id);
}

void Gossip::on_peer_down(const std::string& machine_id) {
  {
    std::lock_guard lk(mu_);
    tree_.remove_peer(machine_id);
    lazy_queue_.erase(machine_id);
  }
  std::lock_guard lk(cooling_mu_);
  cooling_.forget_peer(machine_id);
}

void Gossip::on_send_result(const std::string& machine_id, const std::string& topic, bool timed_out) {
  bool cooled = false;
  {
    auto lk = lock_timed(cooling_mu_, stages_.peer_scoring_lock_wait);
    if (timed_out) {
      stages_.republish_per_peer_timeout++;
      cooled = cooling_.record_timeout(machine_id, topic, Clock::now());
    } else {
      cooling_.record_success(machine_id, topic, Clock::now());
    }
  }
  if (cooled) {
    std::lock_guard lk(mu_);
    if (tree_.role(topic, machine_id) == PlumTree::Role::eager) kinds_.prune++;
    tree_.demote(topic, machine_id);
  }
}

Clock::time_point Gossip::tick(Clock::time_point now) {
  std::map<std::string, std::vector<wire::IHaveEntry>> flush;
  std::vector<std::tuple<std::string, std::string, wire::MsgId>> grafts;  // peer, topic, id
  std::string ae_peer;
  std::vector<wire::MsgId> digest;
  Clock::time_point next = now + tuning_.housekeeping;
  {
    std::lock_guard lk(mu_);
    if (now >= lazy_due_) {
      lazy_due_ = Clock::time_point::max();
      flush.swap(lazy_queue_);
    }
    if (!lazy_queue_.empty()) next = std::min(next, lazy_due_);
    for (auto it = missing_.begin(); it != missing_.end();) {
      auto& m = it->second;
      if (now < m.deadline) {
        next = std::min(next, m.deadline);
        ++it;
        continue;
      }
      if (cache_.seen(it->first) || m.attempts >= m.announcers.size()) {
        it = missing_.erase(it);
        continue;
      }
      // PlumTree: the eager path did not deliver in time, so graft the
      // announcer into the tree and ask it for the message.
      auto& peer = m.announcers[m.attempts++];
      if (tree_.role(m.topic, peer) != PlumTree::Role::eager) kinds_.graft++;
      tree_.on_graft(m.topic, peer);
      grafts.emplace_back(peer, m.topic, it->first);
      m.deadline = now + tuning_.graft_timeout;
      next = std::min(next, m.deadline);
      ++it;
    }
    if (now - last_anti_entropy_ >= tuning_.anti_entropy_interval && !tree_.peers().empty()) {
      last_anti_entropy_ = now;
      auto& peers = tree_.peers();
      auto it = peers.begin();
      std::advance(it, std::uniform_int_distribution<std::size_t>(0, peers.size() - 1)(rng_));
      ae_peer = *it;
      digest = cache_.recent_ids(tuning_.digest_window, tuning_.digest_max_ids, now);
    }
    // Without peers the digest is not due; housekeeping looks again.
    if (auto ae_due = last_anti_entropy_ + tuning_.anti_entropy_interval; ae_due > now) next = std::min(next, ae_due);
    cache_.evict(now);
    planned_ = next;
  }
  for (auto& [peer, entries] : flush) {
    // Every topic in the batch is charged if the batch is late, not just the first.
    SendMeta meta{{}, true};
    for (auto& e : entries)
      if (std::find(meta.topics.begin(), meta.topics.end(), e.topic) == meta.topics.end()) meta.topics.push_back(e.topic);
    send_(peer, FrameType::ihave, wire::encode_ihave(entries), std::move(meta));
  }
  for (auto& [peer, topic, id] : grafts) {
    {
      std::lock_guard lk(cooling_mu_);
      cooling_.record_iwant(peer);
    }
    send_control(peer, FrameType::graft, wire::encode_topic(topic));
    send_control(peer, FrameType::iwant, wire::encode_ids({id}));
  }
  if (!ae_peer.empty()) send_control(ae_peer, FrameType::digest, wire::encode_ids(digest));
  {
    std::lock_guard lk(cooling_mu_);
    cooling_.tick(now);
  }
  return next;
}

std::size_t Gossip::pending_sends() {
  std::lock_guard lk(mu_);
  return lazy_queue_.size() + missing_.size();
}

nlohmann::json Gossip::stages_json() {
  using nlohmann::json;
  std::map<std::pair<std::string, std::string>, std::string> roles;
  json topic_caches, zero_by_topic = json::object();
  {
    std::lock_guard lk(mu_);
    for (auto& topic : tree_.topics())
      for (auto& peer : tree_.peers()) {
        auto r = tree_.role(topic, peer);
        if (r != PlumTree::Role::none) roles[{peer, topic}] = r == PlumTree::Role::eager ? "eager" : "lazy";
      }
    topic_caches = cache_.topic_caches_json();
    for (auto& [t, n] : zero_fanout_by_topic_) zero_by_topic[t] = n;
  }
  json cooling;
  std::size_t suppressed;
  {
    std::lock_guard lk(cooling_mu_);
    cooling = cooling_.to_json_with_roles(roles, Clock::now());
    suppressed = cooling_.suppressed_count();
  }
  auto& st = stages_;
  json j = {
      {"message_kinds",
       {{"eager", kinds_.eager.load()}, {"ihave", kinds_.ihave.load()}, {"iwant", kinds_.iwant.load()},
        {"anti_entropy", kinds_.anti_entropy.load()}, {"other", kinds_.other.load()},
        {"decode_failed", kinds_.decode_failed.load()}, {"prune", kinds_.prune.load()},
        {"graft", kinds_.graft.load()}}},
      {"decode", st.decode.to_json()},
      {"verify", st.verify.to_json()},
      {"dedupe_lock_acquire", st.dedupe_lock_acquire.to_json()},
      {"dedupe_check", st.dedupe_check.to_json()},
      {"eager_fanout", st.eager_fanout.to_json()},
      {"republish", st.republish.to_json()},
      {"republish_per_peer_timeout", st.republish_per_peer_timeout.load()},
      {"outbound_budget_exhausted", st.outbound_budget_exhausted.load()},
      {"zero_fanout_publishes", st.zero_fanout_publishes.load()},
      {"zero_fanout_publishes_by_topic", zero_by_topic},
      {"zero_succeeded_publishes", st.zero_succeeded_publishes.load()},
      {"suppression_cleanup_interval_ms", 250},
      {"suppression_cleanup_growth_rate_per_sec", 0.0},
      {"suppression_cleanup_entries", suppressed},
      {"suppression_cleanup_last_removed", 0},
      {"admission",
       {{"admitted_critical", 0}, {"admitted_normal", 0}, {"admitted_bulk", 0},
        {"dropped_bulk_peer_dead", 0}, {"dropped_bulk_peer_suspect", 0}, {"dropped_bulk_peer_cooled", 0},
        {"dropped_bulk_backpressure", 0}, {"dropped_normal_peer_dead", 0}, {"dropped_normal_peer_suspect", 0},
        {"dropped_critical_hard_error", 0}, {"dropped_critical_cooling", 0}, {"dropped_critical_no_target", 0}}},
      {"peer_scores_v2", json::array()},
      {"topic_caches", topic_caches},
      {"topic_shard_count", 1},
      {"peer_scoring_lock_wait", st.peer_scoring_lock_wait.to_json()},
      {"suppressed_peers_lock_wait", st.suppressed_peers_lock_wait.to_json()}};
  for (auto& [k, v] : cooling.items()) j[k] = v;
  return j;
}

}  // namespace x0x::node
