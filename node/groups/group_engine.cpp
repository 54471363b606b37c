#include "node/groups/group_engine.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/blake3.h"
#include "core/encoding.h"
#include "node/metrics.h"

namespace x0x::node::groups {

using nlohmann::json;

namespace {
constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::size_t kMaxInviteLink = 40 * 1024;
constexpr std::size_t kPendingCap = 512;
// Messages shipped in one join answer or sync frame: the newest first, up to
// this many bytes, so a full cache of large bodies stays far below the mesh's
// frame limit; anti-entropy fetches the rest on later rounds.
constexpr std::size_t kMessageBudget = 4u * 1024 * 1024;

std::uint64_t now_secs() { return unix_ms() / 1000; }
Answer ok(json body = json::object(), int status = 200) {
  body["ok"] = true;
  return {status, std::move(body)};
}
Answer fail(int status, const std::string& error) { return {status, {{"ok", false}, {"error", error}}}; }
std::string raw(const std::string& hex) { return std::string(as_view(from_hex(hex).value())); }
std::optional<PublicKey> public_key(const std::string& hex) {
  auto b = from_hex(hex);
  if (!b || b->size() != 32) return std::nullopt;
  PublicKey pk{};
  std::copy(b->begin(), b->end(), pk.begin());
  return pk;
}
std::string binding_for(const Group& g, const CommitRecord& rec) {
  return security_binding(g.preset == Preset::private_secure ? rec.commit.revision : 0, rec.sealed);
}
std::string message_signed_text(json fields) {
  fields.erase("msg_id");
  fields.erase("signature");
  return "x0x.lean.group-msg.v1\n" + fields.dump();
}
}  // namespace

bool GroupEngine::is_group_topic(std::string_view t) {
  return t.substr(0, 10) == "x0x.group." || t.substr(0, 18) == "x0x.groups.public.";
}

GroupEngine::GroupEngine(const Identity& id, std::filesystem::path dir, GroupTransport transport, GroupTuning tuning)
    : id_(id), store_(std::move(dir)), transport_(std::move(transport)), tuning_(tuning) {
  auto loaded = store_.load();
  groups_ = std::move(loaded.groups);
  try {
    book_ = InviteBook::from_json(loaded.invites);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("group invites: ") + e.what());
  }
  // A crash between a commit's append and the snapshot leaves its epoch key unopened.
  for (auto& [_, g] : groups_)
    for (auto& r : g.commits)
      if (g.preset == Preset::private_secure && !g.keys.count(r.commit.revision))
        if (auto it = r.sealed.find(id_.agent_id); it != r.sealed.end())
          if (auto key = open_sealed_key(it->second, id_.agent)) g.keys[r.commit.revision] = *key;
}

void GroupEngine::run(Outbox& out) {
  for (auto& [topic, payload] : out.pubs) transport_.publish(topic, std::move(payload));
  for (auto& [agent, body] : out.sends) transport_.send(agent, std::move(body));
  for (auto& f : out.after) f();
}

Group* GroupEngine::find(const std::string& gid) {
  auto it = groups_.find(gid);
  return it == groups_.end() ? nullptr : &it->second;
}

void GroupEngine::save_locked() {
  store_.save(groups_, book_.to_json());
  dirty_ = false;
}

void GroupEngine::flush() {
  std::lock_guard lk(mu_);
  if (dirty_) save_locked();
}

// --- the authority's commits ------------------------------------------------

void GroupEngine::make_commit(Group& g, Roster roster, Outbox& out) {
  CommitRecord rec;
  rec.roster = std::move(roster);
  set_roster_delta(rec, g.commits.empty() ? Roster{} : g.commits.back().roster);
  auto rev = g.head.revision + 1;
  if (g.preset == Preset::private_secure) {
    auto key = new_group_key();  // a new epoch at every membership change
    for (auto& [member, m] : rec.roster) rec.sealed[member] = seal_key(key, public_key(m.public_key).value());
    g.keys[rev] = key;
  }
  auto& c = rec.commit;
  c.group_id = g.id;
  c.revision = rev;
  c.prev_state_hash = g.head.state_hash;
  std::vector<std::string> ids;
  for (auto& [member, _] : rec.roster) ids.push_back(member);
  c.roster_root = roster_root(ids);
  c.policy_hash = g.policy_hash();
  c.public_meta_hash = g.public_meta_hash();
  c.security_binding = binding_for(g, rec);
  c.committed_by = id_.agent_id;
  c.committed_at = unix_ms();
  sign_commit(c, id_.agent);
  g.head = {rev, c.state_hash};
  g.roster = rec.roster;
  g.updated_at = c.committed_at;
  g.commits.push_back(std::move(rec));
  dirty_ = true;
  count("commits_authored");
  auto msg = json{{"t", "commit"}, {"group_id", g.id}}.dump();  // + the record's cached text
  msg.pop_back();
  out.pubs.emplace_back(g.meta_topic(), msg + ",\"record\":" + record_text(g.commits.back()) + "}");
}

// --- a member applying a commit -------------------------------------------

std::string GroupEngine::apply_record(Group& g, CommitRecord rec) {
  auto& c = rec.commit;
  if (c.revision <= g.head.revision) {
    for (auto& r : g.commits)
      if (r.commit.revision == c.revision && r.commit.state_hash == c.state_hash) {
        count("commits_duplicate");
        return "duplicate";
      }
  }
  // A delta applies to the previous record's roster; out of order it stays empty
  // and check_next refuses it for its revision before looking at its roster.
  if (g.commits.empty() ? c.revision == 1 : g.commits.back().commit.revision + 1 == c.revision)
    materialize_roster(rec, g.commits.empty() ? Roster{} : g.commits.back().roster);
  std::vector<std::string> ids;
  for (auto& [member, _] : rec.roster) ids.push_back(member);
  auto verdict = check_next(g.head, g.id, g.authority, c, ids, binding_for(g, rec));
  std::string reason = verdict == CommitRefusal::accepted ? "" : to_string(verdict);
  if (reason.empty() && (c.policy_hash != g.policy_hash() || c.public_meta_hash != g.public_meta_hash()))
    reason = "meta_mismatch";
  if (!reason.empty()) {
    count("commits_refused." + reason);
    spdlog::warn("group {}: commit r{} refused: {}", g.short_id(), c.revision, reason);
    return reason;
  }
  g.head = {c.revision, c.state_hash};
  g.roster = rec.roster;
  g.updated_at = unix_ms();
  if (g.preset == Preset::private_secure) {
    auto it = rec.sealed.find(id_.agent_id);
    auto key = it == rec.sealed.end() ? std::nullopt : open_sealed_key(it->second, id_.agent);
    if (key) g.keys[c.revision] = *key;
    else if (g.roster.count(id_.agent_id)) count("keys_unopenable");
  }
  g.commits.push_back(std::move(rec));
  count("commits_applied");
  dirty_ = true;
  retry_pending(g);
  return "";
}

// --- messages ---------------------------------------------------------------

GroupEngine::MsgOutcome GroupEngine::take_message(Group& g, const std::string& payload) {
  auto j = json::parse(payload, nullptr, false);
  auto refuse = [&](const char* why) {
    count(std::string("messages_refused.") + why);
    return MsgOutcome::refused;
  };
  if (!j.is_object() || !j.contains("t")) return refuse("malformed");
  json m;
  if (j["t"] == "smsg") {
    if (g.preset != Preset::private_secure) return refuse("wrong_confidentiality");
    if (!j.value("epoch", json()).is_number_unsigned() || !j.value("c", json()).is_string()) return refuse("malformed");
    auto epoch = j["epoch"].get<std::uint64_t>();
    auto it = g.keys.find(epoch);
    if (it == g.keys.end()) {  // a key we have not received (yet, or ever: an older epoch)
      if (std::find(g.pending.begin(), g.pending.end(), payload) == g.pending.end()) {
        g.pending.push_back(payload);
        if (g.pending.size() > kPendingCap) g.pending.pop_front();
      }
      return MsgOutcome::pending;
    }
    auto ct = base64url_decode(j["c"].get<std::string>());
    auto pt = ct ? decrypt(it->second, raw(g.id), epoch, *ct) : std::nullopt;
    if (!pt) return refuse("undecryptable");
    m = json::parse(*pt, nullptr, false);
  } else if (j["t"] == "msg") {
    if (g.preset != Preset::public_open) return refuse("wrong_confidentiality");  // plaintext in a private group
    m = j.value("m", json());
  } else {
    return refuse("malformed");
  }
  for (auto* k : {"group_id", "author_agent_id", "author_public_key", "kind", "body", "signature", "msg_id", "state_hash_at_send"})
    if (!m.is_object() || !m.value(k, json()).is_string()) return refuse("malformed");
  if (!m.value("timestamp", json()).is_number_unsigned() || !m.value("revision_at_send", json()).is_number_unsigned())
    return refuse("malformed");
  if (m["group_id"] != g.id) return refuse("wrong_group");
  auto pk = public_key(m["author_public_key"].get<std::string>());
  auto sig = from_hex(m["signature"].get<std::string>());
  if (!pk || !sig || sig->size() != 64 || derive_agent_id(*pk) != m["author_agent_id"]) return refuse("bad_signature");
  Signature s{};
  std::copy(sig->begin(), sig->end(), s.begin());
  auto text = message_signed_text(m);
  if (!verify(*pk, text, s) || to_hex(blake3(text)) != m["msg_id"]) return refuse("bad_signature");
  if (g.msg_ids.count(m["msg_id"].get<std::string>())) return MsgOutcome::duplicate;
  if (!g.roster.count(m["author_agent_id"].get<std::string>())) {
    // members-only write: wait for the commit that adds the author (anti-entropy brings it), or never.
    if (std::find(g.pending.begin(), g.pending.end(), payload) == g.pending.end()) {
      g.pending.push_back(payload);
      if (g.pending.size() > kPendingCap) g.pending.pop_front();
      count("messages_waiting_for_author");
    }
    return MsgOutcome::pending;
  }
  g.add_message({std::move(m), payload});
  count("messages_stored");
  dirty_ = true;
  return MsgOutcome::stored;
}

void GroupEngine::retry_pending(Group& g) {
  auto waiting = std::move(g.pending);
  g.pending.clear();
  for (auto& p : waiting) take_message(g, p);
}

std::string GroupEngine::msg_digest(const Group& g) const {
  std::string cat;
  for (auto& id : g.msg_ids) cat += id;  // std::set: sorted
  return to_hex(blake3(cat)).substr(0, 32);
}

// --- REST -------------------------------------------------------------------

Answer GroupEngine::create(const std::string& name, const std::string& description, Preset preset,
                           const std::string& display_name) {
  Outbox out;
  Answer a;
  {
    std::lock_guard lk(mu_);
    Group g;
    g.id = random_hex(32);
    g.name = name;
    g.description = description;
    g.creator = id_.agent_id;
    g.preset = preset;
    g.authority = id_.agent.pk;
    g.created_at = g.updated_at = unix_ms();
    Roster roster;
    roster[id_.agent_id] = Member{Role::admin, display_name, g.created_at, std::nullopt, to_hex(id_.agent.pk)};
    // private_secure seals revision 1 (and epoch 1's key) at once; public_open starts at revision 0.
    if (preset == Preset::private_secure) make_commit(g, roster, out);
    else g.roster = roster;
    a = ok({{"group_id", g.id}, {"name", g.name}, {"chat_topic", g.chat_topic()}}, 201);
    groups_[g.id] = std::move(g);
    dirty_ = true;
    save_locked();
  }
  run(out);
  return a;
}

Answer GroupEngine::list() {
  std::lock_guard lk(mu_);
  json list = json::array();
  for (auto& [id, g] : groups_)
    list.push_back({{"group_id", id}, {"name", g.name}, {"description", g.description}, {"creator", g.creator},
                    {"created_at", g.created_at}, {"member_count", g.roster.size()}});
  return ok({{"groups", list}});
}

static json members_json(const Roster& r) {
  json list = json::array();  // std::map: sorted by agent id
  for (auto& [id, m] : r)
    list.push_back({{"agent_id", id}, {"role", to_string(m.role)}, {"state", "active"}, {"display_name", m.display_name},
                    {"joined_at", m.joined_at}, {"added_by", m.added_by ? json(*m.added_by) : json()}});
  return list;
}

Answer GroupEngine::info(const std::string& gid) {
  std::lock_guard lk(mu_);
  auto* g = find(gid);
  if (!g) return fail(404, "group not found");
  return ok({{"group_id", g->id}, {"name", g->name}, {"description", g->description}, {"creator", g->creator},
             {"created_at", g->created_at}, {"updated_at", g->updated_at}, {"chat_topic", g->chat_topic()},
             {"withdrawn", false}, {"metadata_topic", g->meta_topic()}, {"policy", policy_json(g->preset)},
             {"preset", to_string(g->preset)}, {"policy_revision", 0}, {"roster_revision", g->head.revision},
             {"state_revision", g->head.revision}, {"member_count", g->roster.size()},
             {"members", members_json(g->roster)}});
}

Answer GroupEngine::invite(const std::string& gid, std::uint64_t expiry_secs) {
  std::lock_guard lk(mu_);
  auto* g = find(gid);
  if (!g) return fail(404, "group not found");
  if (g->creator != id_.agent_id) return fail(403, "only an admin can create invites");
  Invite inv;
  inv.group_id = g->id;
  inv.name = g->name;
  inv.description = g->description;
  inv.preset = to_string(g->preset);
  inv.inviter = id_.agent_id;
  inv.authority_key = to_hex(id_.agent.pk);
  inv.secret = random_hex(32);
  inv.expires_at = expiry_secs == 0 ? 0 : now_secs() + expiry_secs;
  for (auto& [id, _] : g->roster) inv.roster.push_back(id);
  inv.revision = g->head.revision;
  auto link = make_invite_link(inv, id_.agent);
  if (link.size() > kMaxInviteLink) return fail(413, "invite_too_large");
  book_.issue(g->id, inv.secret, inv.expires_at);
  save_locked();  // an issued secret must survive a restart to be redeemable
  return ok({{"invite_link", link}, {"group_id", g->id}, {"group_name", g->name}, {"expires_at", inv.expires_at}});
}

void GroupEngine::join(const std::string& link, const std::string& display_name, std::function<void(Answer)> done) {
  auto parsed = parse_invite(link, now_secs());
  if (parsed.problem == InviteProblem::expired) return done(fail(400, "invite has expired"));
  if (parsed.problem != InviteProblem::none) return done(fail(400, "invalid invite: " + parsed.detail));
  auto& inv = parsed.invite;
  Outbox out;
  {
    std::lock_guard lk(mu_);
    if (auto* g = find(inv.group_id))
      return done(ok({{"already_joined", true}, {"group_id", g->id}, {"group_name", g->name}, {"chat_topic", g->chat_topic()}}));
    if (inv.inviter == id_.agent_id) return done(fail(400, "invalid invite: this node is the inviter"));
    auto req = random_hex(16);
    PendingJoin p;
    p.inviter = inv.inviter;
    p.group_id = inv.group_id;
    p.authority_key = inv.authority_key;
    p.body = json{{"t", "join"}, {"req", req}, {"invite", link}, {"display_name", display_name}}.dump();
    p.deadline_ms = unix_ms() + tuning_.join_timeout_ms;
    p.retry_ms = tuning_.join_retry_ms;
    p.next_ms = unix_ms() + p.retry_ms;
    p.done = std::move(done);
    out.sends.emplace_back(p.inviter, p.body);
    joins_[req] = std::move(p);
  }
  run(out);
}

Answer GroupEngine::members(const std::string& gid) {
  std::lock_guard lk(mu_);
  auto* g = find(gid);
  if (!g) return fail(404, "group not found");
  return ok({{"group_id", g->id}, {"member_count", g->roster.size()}, {"members", members_json(g->roster)}});
}

Answer GroupEngine::send(const std::string& gid, const std::string& body, const std::string& kind) {
  if (kind != "chat" && kind != "announcement") return fail(400, "unknown kind: " + kind);
  if (body.size() > kMaxBody) return fail(413, "body exceeds " + std::to_string(kMaxBody) + " bytes");
  Outbox out;
  Answer a;
  {
    std::lock_guard lk(mu_);
    auto* g = find(gid);
    if (!g) return fail(404, "group not found");
    if (!g->roster.count(id_.agent_id)) return fail(403, "members-only write policy");
    auto ts = unix_ms();
    json m = {{"group_id", g->id}, {"state_hash_at_send", g->head.state_hash}, {"revision_at_send", g->head.revision},
              {"author_agent_id", id_.agent_id}, {"author_public_key", to_hex(id_.agent.pk)}, {"author_user_id", nullptr},
              {"kind", kind}, {"body", body}, {"timestamp", ts}};
    auto text = message_signed_text(m);
    m["msg_id"] = to_hex(blake3(text));
    m["signature"] = to_hex(sign(id_.agent, text));
    std::string payload;
    if (g->preset == Preset::private_secure) {
      if (g->keys.empty()) return fail(409, "no group key for the current epoch yet");
      auto& [epoch, key] = *g->keys.rbegin();
      payload = json{{"t", "smsg"}, {"group_id", g->id}, {"epoch", epoch},
                     {"c", base64url_encode(encrypt(key, raw(g->id), epoch, m.dump()))}}.dump();
    } else {
      payload = json{{"t", "msg"}, {"group_id", g->id}, {"m", m}}.dump();
    }
    a = ok({{"group_id", g->id}, {"topic", g->message_topic()}, {"fallback_topic", "x0x.groups.public.v1"},
            {"timestamp", ts}, {"msg_id", m["msg_id"]}});
    g->add_message({m, payload});
    dirty_ = true;
    out.pubs.emplace_back(g->message_topic(), std::move(payload));
  }
  run(out);
  return a;
}

Answer GroupEngine::messages(const std::string& gid) {
  std::lock_guard lk(mu_);
  auto* g = find(gid);
  if (!g) return fail(404, "group not found");
  std::vector<const json*> sorted;
  for (auto& m : g->messages) sorted.push_back(&m.fields);
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return (*a)["timestamp"] < (*b)["timestamp"]; });
  json list = json::array();
  for (auto* m : sorted) list.push_back(*m);
  return ok({{"group_id", g->id}, {"messages", list}});
}

Answer GroupEngine::commits(const std::string& gid, std::uint64_t from_revision, std::uint64_t limit) {
  std::lock_guard lk(mu_);
  auto* g = find(gid);
  if (!g) return fail(404, "group not found");
  if (!g->roster.count(id_.agent_id)) return fail(403, "not a member of this group");
  limit = std::clamp<std::uint64_t>(limit, 1, 500);
  json list = json::array();
  bool more = false;
  std::uint64_t last = 0;
  for (auto& r : g->commits) {
    if (r.commit.revision < from_revision) continue;
    if (list.size() == limit) {
      more = true;
      break;
    }
    std::vector<std::string> ids;
    for (auto& [id, _] : r.roster) ids.push_back(id);
    // Recomputed from the retained roster on every read, not remembered.
    list.push_back({{"commit", to_json(r.commit)}, {"roster", roster_view(r.roster)},
                    {"roster_root_verified", roster_root(ids) == r.commit.roster_root}});
    last = r.commit.revision;
  }
  auto first = g->commits.empty() ? json() : json(g->commits.front().commit.revision);
  auto latest = g->commits.empty() ? json() : json(g->commits.back().commit.revision);
  return ok({{"group_id", g->id}, {"state_revision", g->head.revision}, {"withdrawn", false},
             {"total_retained", g->commits.size()}, {"first_available_revision", first},
             {"latest_retained_revision", latest}, {"from_revision", from_revision}, {"limit", limit},
             {"count", list.size()}, {"has_more", more}, {"next_from_revision", more ? json(last + 1) : json()},
             {"commits", list}});
}

Answer GroupEngine::set_display_name(const std::string& gid, const std::string& name) {
  std::lock_guard lk(mu_);
  auto* g = find(gid);
  if (!g) return fail(404, "group not found");
  if (auto it = g->roster.find(id_.agent_id); it != g->roster.end()) it->second.display_name = name;
  dirty_ = true;
  return ok({{"display_name", name}});
}

Answer GroupEngine::leave(const std::string& gid) {
  std::lock_guard lk(mu_);
  auto* g = find(gid);
  if (!g) return fail(404, "group not found");
  auto name = g->name;
  if (g->creator == id_.agent_id) {
    if (g->roster.size() > 1) return fail(409, "the last admin cannot leave while other members remain");
    book_.forget_group(gid);
    groups_.erase(gid);
    snapshots_.erase(gid);
    save_locked();
    return ok({{"deleted", name}});
  }
  // The authority commits the removal (and rotates the key); a few sends ride out a lossy link.
  leaves_[gid] = {g->creator, 3};
  groups_.erase(gid);
  snapshots_.erase(gid);
  save_locked();
  return ok({{"left", name}});
}

// --- transport ---------------------------------------------------------------

json GroupEngine::snapshot(const Group& g) const {
  json msgs = json::array();
  std::size_t bytes = 0;
  for (auto it = g.messages.rbegin(); it != g.messages.rend() && (bytes += it->wire.size()) <= kMessageBudget; ++it)
    msgs.push_back(it->wire);
  return {{"group_id", g.id}, {"name", g.name}, {"description", g.description}, {"creator", g.creator},
          {"created_at", g.created_at}, {"preset", to_string(g.preset)}, {"authority_key", to_hex(g.authority)},
          {"messages", msgs}};
}

const std::string& GroupEngine::snapshot_text(const Group& g) {
  auto& c = snapshots_[g.id];
  auto messages = msg_digest(g);
  if (c.text.empty() || c.revision != g.head.revision || c.messages != messages) {
    c.revision = g.head.revision;
    c.messages = std::move(messages);
    c.text = with_records(snapshot(g), "records", g.commits);
  }
  return c.text;
}

json GroupEngine::sync_request(const Group& g) const {
  json have = json::array();
  for (auto& id : g.msg_ids) have.push_back(id);
  return {{"t", "sync_req"}, {"group_id", g.id}, {"from_revision", g.head.revision + 1}, {"have", have}};
}

void GroupEngine::on_frame(const std::string& sender, const PublicKey& sender_pk, std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.value("t", json()).is_string()) {
    std::lock_guard lk(mu_);
    count("frames_malformed");
    return;
  }
  Outbox out;
  {
    std::lock_guard lk(mu_);
    auto t = j["t"].get<std::string>();
    try {
      if (t == "join") handle_join(sender, sender_pk, j, out);
      else if (t == "join_ok" || t == "join_refused") finish_join(j, out);
      else if (t == "head") handle_head(sender, j, out);
      else if (t == "sync_req") handle_sync_req(sender, j, out);
      else if (t == "sync") handle_sync(j);
      else if (t == "leave") handle_leave(sender, j, out);
      else count("frames_malformed");
    } catch (const json::exception& e) {
      count("frames_malformed");
      spdlog::warn("group frame '{}' from {} malformed: {}", t, sender.substr(0, 16), e.what());
    }
  }
  run(out);
}

void GroupEngine::handle_join(const std::string& sender, const PublicKey& pk, const json& j, Outbox& out) {
  auto req = j.at("req").get<std::string>();
  auto refuse = [&](const std::string& error) {
    count("joins_refused");
    out.sends.emplace_back(sender, json{{"t", "join_refused"}, {"req", req}, {"error", error}}.dump());
  };
  auto parsed = parse_invite(j.at("invite").get<std::string>(), now_secs());
  if (parsed.problem == InviteProblem::expired) return refuse("invite has expired");
  if (parsed.problem != InviteProblem::none) return refuse("invalid invite: " + parsed.detail);
  auto& inv = parsed.invite;
  auto* g = find(inv.group_id);
  if (!g || g->creator != id_.agent_id) return refuse("invalid invite: unknown group");
  if (inv.authority_key != to_hex(id_.agent.pk)) return refuse("invalid invite: not signed by the group authority");
  if (derive_agent_id(pk) != sender) return refuse("invalid invite: joiner key mismatch");
  if (!g->roster.count(sender)) {  // a retry after we already added it: answer again, nothing to redeem
    switch (book_.redeem(g->id, inv.secret, now_secs())) {
      case Redeem::ok: break;
      case Redeem::unknown_secret: return refuse("invalid invite: unknown secret");
      case Redeem::reused: return refuse("invalid invite: already used");
      case Redeem::expired: return refuse("invite has expired");
    }
    auto roster = g->roster;
    roster[sender] = Member{Role::member, j.value("display_name", ""), unix_ms(), id_.agent_id, to_hex(pk)};
    make_commit(*g, std::move(roster), out);
    count("joins_accepted");
    save_locked();
  }
  out.sends.emplace_back(sender, R"({"t":"join_ok","req":)" + json(req).dump() + R"(,"group":)" + snapshot_text(*g) + "}");
}

void GroupEngine::finish_join(const json& j, Outbox& out) {
  auto it = joins_.find(j.at("req").get<std::string>());
  if (it == joins_.end()) return;  // answered already (a retry's second answer)
  auto p = std::move(it->second);
  joins_.erase(it);
  auto answer = [&](Answer a) { out.after.push_back([done = std::move(p.done), a = std::move(a)] { done(a); }); };
  try {
    apply_join_answer(j, p, answer);
  } catch (const std::exception& e) {  // the REST caller gets an answer whatever the inviter sent
    count("joins_malformed_answer");
    answer(fail(502, std::string("the inviter's answer is malformed: ") + e.what()));
  }
}

void GroupEngine::apply_join_answer(const json& j, const PendingJoin& p, const std::function<void(Answer)>& answer) {
  if (j["t"] == "join_refused") {
    auto e = j.value("error", json("invalid invite"));
    return answer(fail(400, e.is_string() ? e.get<std::string>() : "invalid invite"));
  }
  auto& s = j.at("group");
  auto preset = parse_preset(s.at("preset").get<std::string>());
  auto authority = public_key(s.at("authority_key").get<std::string>());
  if (s.at("group_id") != p.group_id || s.at("authority_key") != p.authority_key || !preset || !authority)
    return answer(fail(502, "the inviter answered for another group or authority"));
  Group g;
  g.id = p.group_id;
  g.name = s.at("name").get<std::string>();
  g.description = s.at("description").get<std::string>();
  g.creator = s.at("creator").get<std::string>();
  g.created_at = s.at("created_at").get<std::uint64_t>();
  g.updated_at = unix_ms();
  g.preset = *preset;
  g.authority = *authority;
  // The applied path: every commit from revision 1 verified as any later one will be.
  for (auto& r : s.at("records")) {
    std::string err;
    auto rec = record_from_json(r, err);
    if (!rec) {
      count("commits_refused.malformed");
      return answer(fail(502, "inviter sent a malformed commit: " + err));
    }
    auto revision = rec->commit.revision;
    auto why = apply_record(g, std::move(*rec));
    if (!why.empty() && why != "duplicate")
      return answer(fail(502, "inviter sent an invalid commit chain: " + why + " at revision " + std::to_string(revision)));
  }
  if (!g.roster.count(id_.agent_id)) return answer(fail(502, "the inviter's roster does not include this node"));
  for (auto& m : s.at("messages")) take_message(g, m.get<std::string>());
  auto body = json{{"group_id", g.id}, {"group_name", g.name}, {"chat_topic", g.chat_topic()}};
  groups_[g.id] = std::move(g);
  count("joins_completed");
  save_locked();
  answer(ok(body));
}

void GroupEngine::handle_head(const std::string& sender, const json& j, Outbox& out) {
  auto* g = find(j.at("group_id").get<std::string>());
  if (!g) return;
  auto rev = j.at("revision").get<std::uint64_t>();
  bool known = g->roster.count(sender) > 0;
  if (rev > g->head.revision || (known && j.value("msgs", "") != msg_digest(*g))) {
    count("sync_requests_sent");
    out.sends.emplace_back(sender, sync_request(*g).dump());
  } else if (rev < g->head.revision && known) {
    json records = json::array();  // push what it lacks without waiting for its request
    for (auto& r : g->commits)
      if (r.commit.revision > rev) records.push_back(record_to_json(r));
    count("sync_pushes_sent");
    out.sends.emplace_back(sender, json{{"t", "sync"}, {"group_id", g->id}, {"records", records}, {"messages", json::array()}}.dump());
  }
}

void GroupEngine::handle_sync_req(const std::string& sender, const json& j, Outbox& out) {
  auto* g = find(j.at("group_id").get<std::string>());
  if (!g) return;
  if (!g->roster.count(sender)) return count("sync_requests_refused");  // only members are served
  auto from = j.at("from_revision").get<std::uint64_t>();
  std::set<std::string> have;
  for (auto& id : j.at("have")) have.insert(id.get<std::string>());
  json records = json::array(), msgs = json::array();
  for (auto& r : g->commits)
    if (r.commit.revision >= from) records.push_back(record_to_json(r));
  std::size_t bytes = 0;
  for (auto it = g->messages.rbegin(); it != g->messages.rend(); ++it) {
    if (have.count(it->fields.value("msg_id", ""))) continue;
    if ((bytes += it->wire.size()) > kMessageBudget) break;
    msgs.push_back(it->wire);
  }
  count("sync_requests_served");
  out.sends.emplace_back(sender, json{{"t", "sync"}, {"group_id", g->id}, {"records", records}, {"messages", msgs}}.dump());
  bool it_has_more = std::any_of(have.begin(), have.end(), [&](auto& id) { return !g->msg_ids.count(id); });
  if (it_has_more) out.sends.emplace_back(sender, sync_request(*g).dump());  // pull what it has and we lack
}

void GroupEngine::handle_sync(const json& j) {
  auto* g = find(j.at("group_id").get<std::string>());
  if (!g) return;
  std::vector<CommitRecord> recs;
  for (auto& r : j.at("records")) {
    std::string err;
    auto rec = record_from_json(r, err);
    if (!rec) {
      count("commits_refused.malformed");
      continue;
    }
    recs.push_back(std::move(*rec));
  }
  std::sort(recs.begin(), recs.end(), [](auto& a, auto& b) { return a.commit.revision < b.commit.revision; });
  for (auto& rec : recs) apply_record(*g, std::move(rec));
  for (auto& m : j.at("messages")) take_message(*g, m.get<std::string>());
  count("syncs_received");
}

void GroupEngine::handle_leave(const std::string& sender, const json& j, Outbox& out) {
  auto* g = find(j.at("group_id").get<std::string>());
  if (!g || g->creator != id_.agent_id || sender == id_.agent_id || !g->roster.count(sender)) return;
  auto roster = g->roster;
  roster.erase(sender);
  make_commit(*g, std::move(roster), out);
  save_locked();
}

void GroupEngine::on_gossip(const std::string& topic, const std::string& sender, std::string_view payload) {
  auto j = json::parse(payload, nullptr, false);
  Outbox out;
  try {
    std::lock_guard lk(mu_);
    if (!j.is_object() || !j.value("group_id", json()).is_string()) return count("gossip_malformed");
    auto* g = find(j["group_id"].get<std::string>());
    if (!g) return;  // not ours: relayed by gossip, unread here
    auto t = j.value("t", "");
    if (t == "commit") {
      if (topic != g->meta_topic()) return count("commits_refused.wrong_topic");
      std::string err;
      auto rec = record_from_json(j.value("record", json()), err);
      if (!rec) return count("commits_refused.malformed");
      if (apply_record(*g, std::move(*rec)) == "gap") {  // lost one on the way: fetch from the publisher
        count("sync_requests_sent");
        out.sends.emplace_back(sender, sync_request(*g).dump());
      }
    } else if (t == "msg" || t == "smsg") {
      if (topic != g->message_topic()) return count("messages_refused.wrong_topic");
      take_message(*g, std::string(payload));
    }
  } catch (const std::exception& e) {  // anyone can publish on these topics: hostile shapes end here
    std::lock_guard lk(mu_);
    count("gossip_malformed");
    return;
  }
  run(out);
}

void GroupEngine::tick(std::uint64_t now) {
  Outbox out;
  {
    std::lock_guard lk(mu_);
    for (auto it = joins_.begin(); it != joins_.end();) {
      auto& p = it->second;
      if (now >= p.deadline_ms) {
        count("joins_timed_out");
        out.after.push_back([done = std::move(p.done)] { done(fail(504, "the inviter did not answer the join request")); });
        it = joins_.erase(it);
        continue;
      }
      if (now >= p.next_ms) {
        // Backing off: a busy authority answers every retry of an admitted joiner with the whole snapshot.
        p.retry_ms = std::min(p.retry_ms * 2, tuning_.join_retry_max_ms);
        p.next_ms = now + p.retry_ms;
        out.sends.emplace_back(p.inviter, p.body);
      }
      ++it;
    }
    if (now >= next_head_ms_) {
      next_head_ms_ = now + tuning_.head_interval_ms;
      for (auto& [gid, g] : groups_) {
        std::vector<std::string> others;
        for (auto& [id, _] : g.roster)
          if (id != id_.agent_id) others.push_back(id);
        if (others.empty()) continue;
        auto to = others[std::uniform_int_distribution<std::size_t>(0, others.size() - 1)(rng_)];
        out.sends.emplace_back(to, json{{"t", "head"}, {"group_id", gid}, {"revision", g.head.revision},
                                        {"state_hash", g.head.state_hash}, {"msgs", msg_digest(g)}}.dump());
        count("heads_sent");
      }
      for (auto it = leaves_.begin(); it != leaves_.end();) {
        out.sends.emplace_back(it->second.first, json{{"t", "leave"}, {"group_id", it->first}}.dump());
        it = --it->second.second <= 0 ? leaves_.erase(it) : std::next(it);
      }
    }
    if (dirty_ && now >= next_save_ms_) {
      next_save_ms_ = now + tuning_.save_interval_ms;
      save_locked();
    }
  }
  run(out);
}

json GroupEngine::diagnostics() {
  std::lock_guard lk(mu_);
  json groups = json::array();
  for (auto& [id, g] : groups_)
    groups.push_back({{"group_id", id}, {"preset", to_string(g.preset)}, {"state_revision", g.head.revision},
                      {"member_count", g.roster.size()}, {"messages", g.messages.size()},
                      {"pending_messages", g.pending.size()}, {"key_epochs", g.keys.size()}});
  json counters = json::object();
  for (auto& [k, v] : counters_) counters[k] = v;
  json refused = json::object();
  for (auto& [k, v] : counters_)
    if (k.rfind("commits_refused.", 0) == 0) refused[k.substr(16)] = v;
  return {{"ok", true}, {"groups", groups}, {"counters", counters}, {"commits_refused", refused}};
}

}  // namespace x0x::node::groups
