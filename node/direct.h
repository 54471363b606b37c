// Direct messages routed by agent id over the mesh's Bulk stream. The sender
// answers the REST call only once the recipient node acknowledged the frame
// (or the budget ran out), retrying with the same request id; the receiver
// de-duplicates by request id so a retry is never delivered twice, and refuses
// DMs signed outside its freshness window (DmReplayGuard, kept across restarts).
#pragma once
#include <functional>
#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "node/dm_replay_guard.h"
#include "node/identity.h"
#include "node/mesh.h"
#include "node/metrics.h"

namespace x0x::node {

struct DirectTuning {
  std::chrono::milliseconds ack_timeout{10'000};
  std::chrono::milliseconds retry_every{2'000};
  std::size_t max_retries = 3;
  DmReplayOptions replay;
};

class Direct {
 public:
  struct SendRequest {
    std::string agent_id;  // lower-case 64 hex
    std::string payload;   // decoded bytes
    bool durable = true;   // require_durable_app_ack
    bool prefer_raw = true;
    std::optional<std::string> logical_id;
  };
  using Done = std::function<void(int http_status, nlohmann::json body)>;
  // Called once per accepted DM with the flat /direct/events object.
  using Deliver = std::function<void(const nlohmann::json& event)>;

  // replay_file: where accepted request ids are remembered across restarts.
  Direct(Mesh& mesh, const Identity& id, DirectTuning tuning, const std::filesystem::path& replay_file, Deliver deliver);
  // The trust_decision for a sender (contacts); "reject_blocked" refuses the
  // DM (403 recipient_rejected at the sender). Set before any traffic.
  using TrustDecision = std::function<std::string(const std::string& sender_agent_id)>;
  void set_trust(TrustDecision t) { trust_ = std::move(t); }

  void send(const SendRequest& req, Done done);  // `done` runs exactly once
  void handle(const InboundFrame& f);             // dm / dm_ack
  void tick(Clock::time_point now);
  void fail_all(const std::string& why);          // shutdown

  DirectStats& stats() { return stats_; }
  nlohmann::json diagnostics_json() const;

 private:
  struct Pending {
    std::string machine_id, agent_id, path;
    std::string body;  // signed DM, resent as is
    Clock::time_point started, deadline, next_retry;
    std::size_t retries = 0;
    Done done;
  };
  void finish(const wire::MsgId& id, int status, nlohmann::json body);

  Mesh& mesh_;
  const Identity& id_;
  DirectTuning tuning_;
  Deliver deliver_;
  TrustDecision trust_;
  DirectStats stats_;
  mutable std::mutex mu_;
  std::map<wire::MsgId, Pending> pending_;
  DmReplayGuard replay_;  // receiver-side dedupe and freshness
  struct PeerDm { std::uint64_t sent_ok = 0, sent_failed = 0, recv = 0; std::int64_t rtt_sum_ms = 0; };
  std::map<std::string, PeerDm> per_peer_;
};

}  // namespace x0x::node
