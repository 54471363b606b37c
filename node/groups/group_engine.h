// Named groups on the lean node (node-api.md §2.10): the REST operations, the
// authority's side (invites, joins, signed membership commits, per-epoch keys
// for private_secure) and the member's side (verify before apply, messages,
// anti-entropy). Transport is injected: gossip publish for commits and
// messages on per-group topics, and lean-internal "grp" mesh frames to one
// agent for join requests and anti-entropy (never shown on /direct/events).
//
// Authority = the group's creator: the only admin, the only one who issues
// invites and signs commits.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "node/groups/group_state.h"
#include "node/groups/group_store.h"
#include "node/groups/invite.h"
#include "node/identity.h"

namespace x0x::node::groups {

struct GroupTransport {
  std::function<void(const std::string& topic, std::string payload)> publish;
  // A grp frame to the node hosting agent_id; false when it is not reachable now.
  std::function<bool(const std::string& agent_id, std::string body)> send;
};

// A REST answer: status and the JSON body (x0xd's shapes).
struct Answer {
  int status = 200;
  nlohmann::json body;
};

struct GroupTuning {
  std::uint64_t head_interval_ms = 1000;  // anti-entropy: one head to one random member per group
  std::uint64_t join_retry_ms = 1000;  // doubles after each retry, at most join_retry_max_ms
  std::uint64_t join_retry_max_ms = 4000;
  std::uint64_t join_timeout_ms = 12000;
  // Applied commits and stored messages are written at most this often (a
  // member that crashes before resyncs them by anti-entropy); what must not be
  // lost (an authored commit, an issued invite, a completed join) is written at once.
  std::uint64_t save_interval_ms = 2000;
};

class GroupEngine {
 public:
  // dir: the groups' folder in the data dir (group_store.h).
  GroupEngine(const Identity& id, std::filesystem::path dir, GroupTransport transport, GroupTuning tuning = {});

  Answer create(const std::string& name, const std::string& description, Preset preset, const std::string& display_name);
  Answer list();
  Answer info(const std::string& gid);
  Answer invite(const std::string& gid, std::uint64_t expiry_secs);
  void join(const std::string& link, const std::string& display_name, std::function<void(Answer)> done);
  Answer members(const std::string& gid);
  Answer send(const std::string& gid, const std::string& body, const std::string& kind);
  Answer messages(const std::string& gid);
  Answer commits(const std::string& gid, std::uint64_t from_revision, std::uint64_t limit);
  Answer set_display_name(const std::string& gid, const std::string& name);
  Answer leave(const std::string& gid);

  // A grp frame from an authenticated peer agent (the mesh's HELLO says who).
  void on_frame(const std::string& sender, const PublicKey& sender_pk, std::string_view body);
  // A gossip message on a group topic (is_group_topic), from any node.
  void on_gossip(const std::string& topic, const std::string& sender, std::string_view payload);
  static bool is_group_topic(std::string_view topic);

  void tick(std::uint64_t now_ms);  // heads, join retries and timeouts, persistence
  void flush();                     // writes the state files if anything changed
  nlohmann::json diagnostics();

 private:
  struct Outbox {
    std::vector<std::pair<std::string, std::string>> pubs, sends;  // (topic|agent, payload)
    std::vector<std::function<void()>> after;
  };
  struct PendingJoin {
    std::string inviter, group_id, authority_key, body;
    std::uint64_t deadline_ms = 0, next_ms = 0, retry_ms = 0;
    std::function<void(Answer)> done;
  };

  void run(Outbox& out);  // outside the lock: gossip delivers our own publishes synchronously
  Group* find(const std::string& gid);
  void make_commit(Group& g, Roster roster, Outbox& out);
  // "" when applied, "duplicate", or the refusal reason (counted).
  std::string apply_record(Group& g, CommitRecord rec);
  enum class MsgOutcome { stored, duplicate, pending, refused };
  MsgOutcome take_message(Group& g, const std::string& payload);
  void retry_pending(Group& g);
  nlohmann::json snapshot(const Group& g) const;  // all but the records
  // The join answer's group snapshot, serialized once per state of the group:
  // every joiner (and every retry) at the same revision gets the same bytes.
  const std::string& snapshot_text(const Group& g);
  std::string msg_digest(const Group& g) const;
  nlohmann::json sync_request(const Group& g) const;
  void handle_join(const std::string& sender, const PublicKey& pk, const nlohmann::json& j, Outbox& out);
  void finish_join(const nlohmann::json& j, Outbox& out);
  void apply_join_answer(const nlohmann::json& j, const PendingJoin& p, const std::function<void(Answer)>& answer);
  void handle_head(const std::string& sender, const nlohmann::json& j, Outbox& out);
  void handle_sync_req(const std::string& sender, const nlohmann::json& j, Outbox& out);
  void handle_sync(const nlohmann::json& j);
  void handle_leave(const std::string& sender, const nlohmann::json& j, Outbox& out);
  void count(const std::string& what) { counters_[what]++; }
  void save_locked();

  const Identity& id_;
  GroupStore store_;
  GroupTransport transport_;
  GroupTuning tuning_;
  std::mutex mu_;
  std::map<std::string, Group> groups_;
  InviteBook book_;
  std::map<std::string, PendingJoin> joins_;  // by request id
  std::map<std::string, std::pair<std::string, int>> leaves_;  // group -> (authority, sends left)
  struct CachedSnapshot {
    std::uint64_t revision = 0;
    std::string messages;  // msg_digest
    std::string text;
  };
  std::map<std::string, CachedSnapshot> snapshots_;  // by group id
  std::map<std::string, std::uint64_t> counters_;
  bool dirty_ = false;
  std::uint64_t next_head_ms_ = 0, next_save_ms_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace x0x::node::groups
