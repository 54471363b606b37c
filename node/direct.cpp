#include "node/direct.h"

#include <sodium.h>

#include "core/encoding.h"

namespace x0x::node {

using nlohmann::json;
using wire::FrameType;

Direct::Direct(Mesh& mesh, const Identity& id, DirectTuning tuning, const std::filesystem::path& replay_file,
               Deliver deliver)
    : mesh_(mesh), id_(id), tuning_(tuning), deliver_(std::move(deliver)), replay_(replay_file, tuning.replay) {}

static json error_body(const std::string& code, const std::string& detail) {
  return {{"ok", false}, {"error", code}, {"detail", detail}};
}

void Direct::send(const SendRequest& req, Done done) {
  stats_.outgoing_send_total++;
  wire::Dm dm;
  if (req.logical_id) {
    // Idempotency key: the same logical id from the same sender maps to the
    // same request id, so the receiver de-duplicates repeats.
    std::array<std::uint8_t, 32> h{};
    auto seed = id_.agent_id + "|" + *req.logical_id;
    crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), nullptr, 0);
    std::copy_n(h.begin(), 16, dm.request_id.begin());
  } else {
    auto r = random_bytes(16);
    std::copy(r.begin(), r.end(), dm.request_id.begin());
  }
  auto request_id = to_hex(dm.request_id);

  if (req.agent_id == id_.agent_id) {
    stats_.outgoing_path_loopback++;
    stats_.outgoing_send_succeeded++;
    deliver_({{"sender", id_.agent_id}, {"machine_id", id_.machine_id},
              {"payload", base64_encode(req.payload)}, {"received_at", unix_ms()},
              {"verified", true}, {"trust_decision", "accept"}});
    return done(200, {{"ok", true}, {"path", "loopback"}, {"retries_used", 0},
                      {"request_id", request_id}, {"require_ack", nullptr}});
  }
  auto agent = mesh_.known_agent(req.agent_id);
  if (!agent) {
    stats_.outgoing_send_failed++;
    return done(404, error_body("recipient_key_unavailable",
                                "no discovery record for agent " + req.agent_id.substr(0, 16)));
  }
  if (!mesh_.peer(agent->machine_id)) {
    stats_.outgoing_send_failed++;
    std::lock_guard lk(mu_);
    per_peer_[req.agent_id].sent_failed++;
    return done(502, error_body("peer_disconnected", "agent " + req.agent_id.substr(0, 16) +
                                                         " is known but its machine is not connected"));
  }
  dm.recipient_agent_id = req.agent_id;
  dm.ts_ms = unix_ms();
  dm.payload = req.payload;
  auto body = wire::encode_dm(dm, id_.agent);
  auto now = Clock::now();
  Pending p{agent->machine_id, req.agent_id,
            req.durable ? "gossip_inbox" : (req.prefer_raw ? "raw_quic_acked" : "gossip_inbox"),
            body, now, now + tuning_.ack_timeout, now + tuning_.retry_every, 0, std::move(done)};
  {
    std::lock_guard lk(mu_);
    pending_[dm.request_id] = std::move(p);
  }
  mesh_.send(agent->machine_id, FrameType::dm, std::move(body));
}

void Direct::finish(const wire::MsgId& id, int status, json body) {
  Done done;
  {
    std::lock_guard lk(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    auto& p = it->second;
    auto& pp = per_peer_[p.agent_id];
    if (status == 200) {
      body["path"] = p.path;
      body["retries_used"] = p.retries;
      pp.sent_ok++;
      pp.rtt_sum_ms += std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - p.started).count();
    } else {
      pp.sent_failed++;
    }
    if (status == 200) {
      stats_.outgoing_send_succeeded++;
      (p.path == "gossip_inbox" ? stats_.outgoing_path_gossip_inbox : stats_.outgoing_path_raw_quic)++;
    } else {
      stats_.outgoing_send_failed++;
    }
    done = std::move(p.done);
    pending_.erase(it);
  }
  done(status, std::move(body));
}

void Direct::handle(const InboundFrame& f) {
  if (f.type == FrameType::dm_ack) {
    auto ack = wire::decode_dm_ack(f.body);
    auto rid = to_hex(ack.request_id);
    switch (ack.status) {
      case wire::DmAckStatus::accepted:
      case wire::DmAckStatus::duplicate:
        return finish(ack.request_id, 200, {{"ok", true}, {"request_id", rid}, {"require_ack", nullptr}});
      case wire::DmAckStatus::wrong_recipient:
        return finish(ack.request_id, 409, error_body("recipient_key_invalid", "the peer does not host that agent"));
      case wire::DmAckStatus::rejected:
        return finish(ack.request_id, 403, error_body("recipient_rejected", "the recipient refused the message"));
      case wire::DmAckStatus::stale:
        return finish(ack.request_id, 403,
                      error_body("recipient_rejected",
                                 "the recipient refused the message as stale: signed outside its freshness window "
                                 "(are the two clocks far apart?)"));
    }
    return;
  }
  if (f.type != FrameType::dm) return;
  stats_.incoming_envelopes_total++;
  auto dm = wire::decode_dm(f.body);
  wire::DmAck ack{dm.request_id, wire::DmAckStatus::accepted};
  if (!wire::verify_dm(dm, f.body)) {
    stats_.incoming_signature_failed++;
    ack.status = wire::DmAckStatus::rejected;
  } else if (dm.recipient_agent_id != id_.agent_id) {
    ack.status = wire::DmAckStatus::wrong_recipient;
  } else if (auto sender = derive_agent_id(dm.sender_agent), decision = trust_ ? trust_(sender) : "unknown";
             decision == "reject_blocked") {  // before dedupe: a retry must be refused too
    stats_.incoming_trust_rejected++;
    ack.status = wire::DmAckStatus::rejected;
  } else if (auto seen = replay_.check(dm.request_id, dm.ts_ms, unix_ms()); seen == DmReplayGuard::Verdict::stale) {
    stats_.incoming_stale_rejected++;
    ack.status = wire::DmAckStatus::stale;
  } else if (seen == DmReplayGuard::Verdict::duplicate) {
    stats_.incoming_duplicates++;
    ack.status = wire::DmAckStatus::duplicate;
  } else {
    {
      std::lock_guard lk(mu_);
      per_peer_[sender].recv++;
    }
    stats_.incoming_delivered++;
    deliver_({{"sender", sender}, {"machine_id", f.peer_machine_id},
              {"payload", base64_encode(dm.payload)}, {"received_at", unix_ms()},
              {"verified", true}, {"trust_decision", decision}});
  }
  mesh_.send(f.peer_machine_id, FrameType::dm_ack, wire::encode_dm_ack(ack));
}

void Direct::tick(Clock::time_point now) {
  std::vector<wire::MsgId> expired;
  std::vector<std::pair<std::string, std::string>> resend;  // machine, body
  {
    std::lock_guard lk(mu_);
    for (auto& [id, p] : pending_) {
      if (now >= p.deadline) {
        expired.push_back(id);
      } else if (now >= p.next_retry && p.retries < tuning_.max_retries) {
        p.retries++;
        p.next_retry = now + tuning_.retry_every;
        resend.emplace_back(p.machine_id, p.body);
      }
    }
  }
  for (auto& [m, b] : resend) mesh_.send(m, FrameType::dm, b);
  for (auto& id : expired) {
    json body = error_body("timeout", "no acknowledgement from the recipient node");
    body["elapsed_ms"] = tuning_.ack_timeout.count();
    finish(id, 504, std::move(body));
  }
}

void Direct::fail_all(const std::string& why) {
  std::vector<wire::MsgId> ids;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, _] : pending_) ids.push_back(id);
  }
  for (auto& id : ids) finish(id, 503, error_body("local_gossip_unavailable", why));
}

json Direct::diagnostics_json() const {
  auto& s = stats_;
  json per_peer = json::object();
  {
    std::lock_guard lk(mu_);
    for (auto& [agent, p] : per_peer_)
      per_peer[agent] = {{"avg_rtt_ms", p.sent_ok ? p.rtt_sum_ms / static_cast<std::int64_t>(p.sent_ok) : 0},
                         {"send_succeeded", p.sent_ok}, {"send_failed", p.sent_failed},
                         {"recv_count", p.recv}, {"preferred_path", "gossip_inbox"}};
  }
  return {{"ok", true},
          {"stats",
           {{"outgoing_send_total", s.outgoing_send_total.load()},
            {"outgoing_send_succeeded", s.outgoing_send_succeeded.load()},
            {"outgoing_send_failed", s.outgoing_send_failed.load()},
            {"outgoing_path_loopback", s.outgoing_path_loopback.load()},
            {"outgoing_path_raw_quic", s.outgoing_path_raw_quic.load()},
            {"outgoing_path_gossip_inbox", s.outgoing_path_gossip_inbox.load()},
            {"outgoing_path_relayed", 0},
            {"incoming_envelopes_total", s.incoming_envelopes_total.load()},
            {"incoming_decode_failed", 0},
            {"incoming_signature_failed", s.incoming_signature_failed.load()},
            {"incoming_trust_rejected", s.incoming_trust_rejected.load()},
            {"incoming_duplicates", s.incoming_duplicates.load()},
            {"incoming_stale_rejected", s.incoming_stale_rejected.load()},  // lean-only: outside the freshness window
            {"incoming_delivered_to_subscribe", s.incoming_delivered.load()},
            {"subscriber_events_evicted", s.subscriber_events_evicted.load()}}},
          {"per_peer", per_peer}};
}

}  // namespace x0x::node
