#include "node/groups/group_state.h"

#include <algorithm>

#include "core/blake3.h"
#include "core/encoding.h"

namespace x0x::node::groups {

using nlohmann::json;

std::optional<Preset> parse_preset(std::string p) {
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return c == '-' ? '_' : static_cast<char>(std::tolower(c)); });
  if (p == "public_open") return Preset::public_open;
  if (p == "private_secure") return Preset::private_secure;
  return std::nullopt;
}

const char* to_string(Preset p) { return p == Preset::public_open ? "public_open" : "private_secure"; }
const char* to_string(Role r) { return r == Role::admin ? "admin" : "member"; }

json policy_json(Preset p) {
  if (p == Preset::public_open)
    return {{"discoverability", "public_directory"}, {"admission", "open_join"}, {"confidentiality", "signed_public"},
            {"read_access", "public"}, {"write_access", "members_only"}};
  return {{"discoverability", "hidden"}, {"admission", "invite_only"}, {"confidentiality", "mls_encrypted"},
          {"read_access", "members_only"}, {"write_access", "members_only"}};
}

std::string Group::policy_hash() const { return to_hex(blake3(policy_json(preset).dump())); }
std::string Group::public_meta_hash() const {
  return to_hex(blake3(json{{"name", name}, {"description", description}, {"creator", creator},
                            {"created_at", created_at}, {"preset", to_string(preset)}}.dump()));
}

bool Group::add_message(Message m) {
  auto id = m.fields.value("msg_id", "");
  if (!msg_ids.insert(id).second) return false;
  messages.push_back(std::move(m));
  while (messages.size() > kMessageCap) {
    msg_ids.erase(messages.front().fields.value("msg_id", ""));
    messages.pop_front();
  }
  return true;
}

static json member_json(const Member& m) {
  return {{"role", to_string(m.role)}, {"state", "active"}, {"display_name", m.display_name},
          {"joined_at", m.joined_at}, {"added_by", m.added_by ? json(*m.added_by) : json()},
          {"public_key", m.public_key}};
}

json roster_view(const Roster& r) {
  json out = json::object();
  for (auto& [id, m] : r) out[id] = {{"role", to_string(m.role)}, {"state", "active"}};
  return out;
}

void set_roster_delta(CommitRecord& r, const Roster& before) {
  r.added.clear();
  r.removed.clear();
  for (auto& [id, m] : r.roster)
    if (auto it = before.find(id); it == before.end() || !(it->second == m)) r.added[id] = m;
  for (auto& [id, _] : before)
    if (!r.roster.count(id)) r.removed.push_back(id);
  r.has_delta = true;
  r.materialized = true;
}

void materialize_roster(CommitRecord& r, const Roster& before) {
  if (r.materialized) return;
  r.roster = before;
  for (auto& id : r.removed) r.roster.erase(id);
  for (auto& [id, m] : r.added) r.roster[id] = m;
  r.materialized = true;
}

json record_to_json(const CommitRecord& r) {
  json sealed = json::object();
  for (auto& [id, box] : r.sealed) sealed[id] = base64url_encode(box);
  auto members = [](const Roster& roster) {
    json out = json::object();
    for (auto& [id, m] : roster) out[id] = member_json(m);
    return out;
  };
  if (!r.has_delta) return {{"commit", to_json(r.commit)}, {"roster", members(r.roster)}, {"sealed_keys", sealed}};
  return {{"commit", to_json(r.commit)}, {"roster_added", members(r.added)}, {"roster_removed", r.removed},
          {"sealed_keys", sealed}};
}

namespace {
std::optional<Roster> roster_from_json(const json& j, std::string& error) {
  Roster out;
  for (auto& [id, m] : j.items()) {
    if (!is_hex(id, 64) || !m.is_object() || !m.value("public_key", json()).is_string() ||
        !is_hex(m["public_key"].get<std::string>(), 64)) {
      error = "roster entry " + id.substr(0, 16) + " needs a 64-hex id and public_key";
      return std::nullopt;
    }
    Member mem;
    mem.role = m.value("role", "member") == "admin" ? Role::admin : Role::member;
    mem.display_name = m.value("display_name", json("")).is_string() ? m.value("display_name", "") : "";
    mem.joined_at = m.value("joined_at", json(0)).is_number_unsigned() ? m["joined_at"].get<std::uint64_t>() : 0;
    if (m.contains("added_by") && m["added_by"].is_string()) mem.added_by = m["added_by"].get<std::string>();
    mem.public_key = m["public_key"].get<std::string>();
    out[id] = std::move(mem);
  }
  return out;
}
}  // namespace

std::optional<CommitRecord> record_from_json(const json& j, std::string& error) {
  bool whole = j.is_object() && j.contains("roster") && j["roster"].is_object();
  bool delta = j.is_object() && j.contains("roster_added") && j["roster_added"].is_object() &&
               j.contains("roster_removed") && j["roster_removed"].is_array();
  if (!j.is_object() || !j.contains("commit") || !(whole || delta)) {
    error = "record needs commit and a roster (or roster_added and roster_removed)";
    return std::nullopt;
  }
  auto c = commit_from_json(j["commit"], error);
  if (!c) return std::nullopt;
  CommitRecord r;
  r.commit = *c;
  auto members = roster_from_json(whole ? j["roster"] : j["roster_added"], error);
  if (!members) return std::nullopt;
  if (whole) {
    r.roster = std::move(*members);
  } else {
    r.added = std::move(*members);
    for (auto& id : j["roster_removed"]) {
      if (!id.is_string() || !is_hex(id.get<std::string>(), 64)) {
        error = "roster_removed entries must be 64-hex ids";
        return std::nullopt;
      }
      r.removed.push_back(id.get<std::string>());
    }
    r.has_delta = true;
    r.materialized = false;
  }
  if (j.contains("sealed_keys") && j["sealed_keys"].is_object()) {
    for (auto& [id, box] : j["sealed_keys"].items()) {
      auto raw = box.is_string() ? base64url_decode(box.get<std::string>()) : std::nullopt;
      if (!is_hex(id, 64) || !raw) {
        error = "sealed_keys entry is malformed";
        return std::nullopt;
      }
      r.sealed[id] = *raw;
    }
  }
  return r;
}

const std::string& record_text(const CommitRecord& r) {
  if (r.text.empty()) r.text = record_to_json(r).dump();
  return r.text;
}

std::string with_records(const json& object, const std::string& key, const std::vector<CommitRecord>& records) {
  std::string out = object.dump();  // "{...}"
  out.pop_back();
  out += (object.empty() ? "" : ",") + json(key).dump() + ":[";
  for (std::size_t i = 0; i < records.size(); ++i) out += (i ? "," : "") + record_text(records[i]);
  out += "]}";
  return out;
}

json group_snapshot_json(const Group& g) {
  json keys = json::object(), messages = json::array(), roster = json::object();
  for (auto& [epoch, k] : g.keys) keys[std::to_string(epoch)] = to_hex(k);
  for (auto& m : g.messages) messages.push_back({{"fields", m.fields}, {"wire", base64url_encode(m.wire)}});
  for (auto& [id, m] : g.roster) roster[id] = member_json(m);
  json pending = json::array();
  for (auto& p : g.pending) pending.push_back(base64url_encode(p));
  return {{"group_id", g.id}, {"name", g.name}, {"description", g.description}, {"creator", g.creator},
          {"preset", to_string(g.preset)}, {"authority_key", to_hex(g.authority)}, {"created_at", g.created_at},
          {"updated_at", g.updated_at}, {"roster", roster},
          {"head", {{"revision", g.head.revision}, {"state_hash", g.head.state_hash}}}, {"keys", keys},
          {"messages", messages}, {"pending", pending}};
}

json group_to_json(const Group& g) {
  json j = group_snapshot_json(g), commits = json::array();
  for (auto& r : g.commits) commits.push_back(record_to_json(r));
  j["commits"] = std::move(commits);
  return j;
}

std::string group_text(const Group& g) { return with_records(group_snapshot_json(g), "commits", g.commits); }

Group group_from_json(const json& j) {
  Group g;
  g.id = j.at("group_id").get<std::string>();
  g.name = j.at("name").get<std::string>();
  g.description = j.at("description").get<std::string>();
  g.creator = j.at("creator").get<std::string>();
  g.preset = parse_preset(j.at("preset").get<std::string>()).value();
  auto pk = from_hex(j.at("authority_key").get<std::string>()).value();
  std::copy(pk.begin(), pk.end(), g.authority.begin());
  g.created_at = j.at("created_at").get<std::uint64_t>();
  g.updated_at = j.at("updated_at").get<std::uint64_t>();
  std::string err;
  for (auto& r : j.value("commits", json::array())) {
    auto rec = record_from_json(r, err);
    if (!rec) throw std::runtime_error("group " + g.id.substr(0, 16) + ": " + err);
    materialize_roster(*rec, g.commits.empty() ? Roster{} : g.commits.back().roster);
    g.commits.push_back(std::move(*rec));
  }
  // Stored apart from the commits: public_open has none at revision 0.
  for (auto& [id, m] : j.at("roster").items()) {
    Member mem;
    mem.role = m.value("role", "member") == "admin" ? Role::admin : Role::member;
    mem.display_name = m.value("display_name", "");
    mem.joined_at = m.value("joined_at", std::uint64_t{0});
    if (m.contains("added_by") && m["added_by"].is_string()) mem.added_by = m["added_by"].get<std::string>();
    mem.public_key = m.value("public_key", "");
    g.roster[id] = std::move(mem);
  }
  g.head.revision = j.at("head").at("revision").get<std::uint64_t>();
  g.head.state_hash = j.at("head").at("state_hash").get<std::string>();
  for (auto& [epoch, k] : j.at("keys").items()) {
    auto raw = from_hex(k.get<std::string>()).value();
    GroupKey key{};
    std::copy(raw.begin(), raw.end(), key.begin());
    g.keys[std::stoull(epoch)] = key;
  }
  for (auto& m : j.at("messages")) g.add_message({m.at("fields"), base64url_decode(m.at("wire").get<std::string>()).value()});
  for (auto& p : j.value("pending", json::array())) g.pending.push_back(base64url_decode(p.get<std::string>()).value());
  return g;
}

}  // namespace x0x::node::groups
