// One named group as a member holds it: metadata, the current roster, the
// retained commit chain (each commit with its roster snapshot and, for
// private_secure, the sealed epoch keys it shipped), the epoch keys this node
// could open, and the message cache. JSON (de)serialisation for the data dir.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "node/groups/commit.h"
#include "node/groups/group_key.h"

namespace x0x::node::groups {

enum class Preset { public_open, private_secure };
// Case-insensitive, '-' or '_' ("Private-Secure").
std::optional<Preset> parse_preset(std::string preset);
const char* to_string(Preset p);
nlohmann::json policy_json(Preset p);

enum class Role { admin, member };
const char* to_string(Role r);

struct Member {
  Role role = Role::member;
  std::string display_name;
  std::uint64_t joined_at = 0;  // ms
  std::optional<std::string> added_by;
  std::string public_key;  // Ed25519, 64 hex: what the group key is sealed to
  bool operator==(const Member&) const = default;
};
using Roster = std::map<std::string, Member>;  // by agent id

struct CommitRecord {
  Commit commit;
  // The roster after the commit. On the wire and on disk a record carries only
  // its change against the previous record's roster (O(1) per join instead of
  // O(n), and O(n) per chain instead of O(n²)); materialize_roster() rebuilds the
  // whole roster from it. Records of earlier versions carry the whole roster
  // (has_delta false), which is read and written as it came.
  Roster roster;
  Roster added;                      // members new or changed since the previous record
  std::vector<std::string> removed;  // ids gone since the previous record
  bool has_delta = false;
  bool materialized = true;  // false: parsed from a delta, roster not rebuilt yet
  std::map<std::string, std::string> sealed;  // member id -> raw sealed epoch key (private_secure)
  // record_to_json(*this).dump(), made once: a record never changes after it
  // is retained, and every save and join answer writes every record (O(n²) bytes).
  mutable std::string text;
};

struct Message {
  nlohmann::json fields;  // §2.10's message object (msg_id, author_agent_id, body, ...)
  std::string wire;       // the gossip payload it travelled in (encrypted for private_secure)
};

inline constexpr std::size_t kMessageCap = 512;

struct Group {
  std::string id, name, description, creator;
  Preset preset = Preset::public_open;
  PublicKey authority{};
  std::uint64_t created_at = 0, updated_at = 0;  // ms
  Roster roster;
  std::vector<CommitRecord> commits;
  ChainHead head;
  std::map<std::uint64_t, GroupKey> keys;  // epoch -> key this node opened
  std::deque<Message> messages;
  std::set<std::string> msg_ids;
  std::deque<std::string> pending;  // payloads not yet readable (key or author not known yet)

  std::string short_id() const { return id.substr(0, 16); }
  std::string chat_topic() const { return "x0x.group." + short_id() + ".chat/general"; }
  std::string meta_topic() const { return "x0x.group." + short_id() + ".meta"; }
  std::string message_topic() const {
    return preset == Preset::public_open ? "x0x.groups.public." + id : chat_topic();
  }
  std::string policy_hash() const;
  std::string public_meta_hash() const;
  // Adds unless known; drops the oldest beyond the cap. False when a duplicate.
  bool add_message(Message m);
};

// Sets r's delta against `before`, the previous record's roster (empty for the first record).
void set_roster_delta(CommitRecord& r, const Roster& before);
// Rebuilds r.roster from `before` and r's delta (nothing to do for a whole-roster record).
// The commit's signed roster_root then says whether the result is the authority's roster.
void materialize_roster(CommitRecord& r, const Roster& before);

nlohmann::json record_to_json(const CommitRecord& r);
const std::string& record_text(const CommitRecord& r);  // record_to_json(r).dump(), cached in r
// `object` dumped with one more member, `key`: the JSON array of `records`' texts.
std::string with_records(const nlohmann::json& object, const std::string& key, const std::vector<CommitRecord>& records);
std::optional<CommitRecord> record_from_json(const nlohmann::json& j, std::string& error);
// The roster as the commits endpoint shows it: {"<id>":{"role","state"}}.
nlohmann::json roster_view(const Roster& r);

// Full state (secrets included: the file is written 0600).
nlohmann::json group_to_json(const Group& g);
nlohmann::json group_snapshot_json(const Group& g);  // all but the commits (group_store.h keeps those apart)
std::string group_text(const Group& g);  // group_to_json(g).dump(), with the cached record texts
Group group_from_json(const nlohmann::json& j);  // commits optional; throws on a corrupt file

}  // namespace x0x::node::groups
