#include "harness/phase_b_plan.h"
#include "core/enum_names.h"

#include <array>

namespace x0x::harness {

using nlohmann::json;

namespace {
constexpr std::array<std::pair<PhaseBStep, std::string_view>, 19> kSteps = {{
    {PhaseBStep::contact_add, "contact_add"},
    {PhaseBStep::contact_trusted, "contact_trusted"},
    {PhaseBStep::contact_blocked, "contact_blocked"},
    {PhaseBStep::contact_remove, "contact_remove"},
    {PhaseBStep::group_create, "group_create"},
    {PhaseBStep::invite, "invite"},
    {PhaseBStep::join, "join"},
    {PhaseBStep::members_self, "members_self"},
    {PhaseBStep::roster_poll, "roster_poll"},
    {PhaseBStep::kickoff, "kickoff"},
    {PhaseBStep::reply, "reply"},
    {PhaseBStep::own_cache, "own_cache"},
    {PhaseBStep::replies_poll, "replies_poll"},
    {PhaseBStep::commits_authored, "commits_authored"},
    {PhaseBStep::tk_create, "tk_create"},
    {PhaseBStep::tk_invite, "tk_invite"},
    {PhaseBStep::tk_join, "tk_join"},
    {PhaseBStep::tk_commits_poll, "tk_commits_poll"},
    {PhaseBStep::tk_applied_poll, "tk_applied_poll"},
}};
}  // namespace

std::string_view step_name(PhaseBStep s) { return name_in(kSteps, s); }

std::string reply_body(const std::string& member) { return "phase-b: ack from " + member; }

std::vector<std::string> PhaseBRecord::members() const {
  std::vector<std::string> out;
  for (auto& n : nodes)
    if (n != anchor) out.push_back(n);
  return out;
}

std::string PhaseBRecord::agent_of(const std::string& node) const {
  if (node == anchor) return anchor_aid;
  auto it = agents.find(node);
  return it != agents.end() ? it->second : std::string();
}

const PhaseBCall* PhaseBRecord::find(PhaseBStep step, const std::string& node, const std::string& subject) const {
  const PhaseBCall* found = nullptr;
  for (auto& c : calls)
    if (c.step == step && c.node == node && c.subject == subject) found = &c;
  return found;
}

std::vector<StepCall> contact_lifecycle(const std::string& node) {
  const json id = kSyntheticContact;
  return {
      {PhaseBStep::contact_add, node, "", "contact_add",
       {{"agent_id", id}, {"trust_level", "Known"}, {"label", "phase-b-synthetic"}}},
      {PhaseBStep::contact_trusted, node, "", "contact_update", {{"agent_id", id}, {"trust_level", "Trusted"}}},
      {PhaseBStep::contact_blocked, node, "", "contact_update", {{"agent_id", id}, {"trust_level", "Blocked"}}},
      {PhaseBStep::contact_remove, node, "", "contact_remove", {{"agent_id", id}}},
  };
}

std::string_view contact_label_suffix(PhaseBStep step) {
  switch (step) {
    case PhaseBStep::contact_add: return "adds synthetic contact";
    case PhaseBStep::contact_trusted: return "sets synthetic = Trusted";
    case PhaseBStep::contact_blocked: return "sets synthetic = Blocked";
    case PhaseBStep::contact_remove: return "removes synthetic contact";
    default: return "?";
  }
}

json group_create_params(bool treekem) {
  if (treekem)
    return {{"name", "Phase-B TreeKEM #111 Audit"},
            {"description", "applied-over-gossip state-commit retention"},
            {"preset", "private_secure"}};
  return {{"name", "Phase-B Fleet Dogfood"},
          {"description", "live-fleet group + group-message dogfood"},
          {"preset", "public_open"}};
}

std::string group_id_of(const json& d) {
  if (!d.is_object()) return {};
  if (auto it = d.find("group_id"); it != d.end() && it->is_string() && !it->get<std::string>().empty())
    return it->get<std::string>();
  if (auto g = d.find("group"); g != d.end() && g->is_object())
    if (auto it = g->find("id"); it != g->end() && it->is_string()) return it->get<std::string>();
  return {};
}

std::string invite_link_of(const json& d) {
  if (!d.is_object()) return {};
  auto it = d.find("invite_link");
  if (it == d.end() || !it->is_string()) return {};
  const auto& s = it->get_ref<const std::string&>();
  return s.rfind("x0x://invite/", 0) == 0 ? s : std::string();
}

std::vector<std::string> member_ids_of(const json& d) {
  std::vector<std::string> out;
  if (!d.is_object()) return out;
  for (const char* key : {"members", "member_list", "participants"}) {
    auto it = d.find(key);
    if (it == d.end() || !it->is_array()) continue;
    for (auto& e : *it) {
      if (e.is_string()) {
        out.push_back(e.get<std::string>());
      } else if (e.is_object()) {
        for (const char* id : {"agent_id", "agentId"})
          if (auto a = e.find(id); a != e.end() && a->is_string()) {
            out.push_back(a->get<std::string>());
            break;
          }
      }
    }
    break;
  }
  return out;
}

std::vector<std::string> message_bodies_of(const json& d) {
  std::vector<std::string> out;
  if (!d.is_object()) return out;
  auto it = d.find("messages");
  if (it == d.end() || !it->is_array()) return out;
  for (auto& m : *it)
    if (m.is_object())
      if (auto b = m.find("body"); b != m.end() && b->is_string()) out.push_back(b->get<std::string>());
  return out;
}

std::vector<CommitEntry> commits_of(const json& d) {
  std::vector<CommitEntry> out;
  if (!d.is_object()) return out;
  auto it = d.find("commits");
  if (it == d.end() || !it->is_array()) return out;
  for (auto& e : *it) {
    CommitEntry c;
    if (e.is_object()) {
      if (auto cm = e.find("commit"); cm != e.end() && cm->is_object())
        if (auto r = cm->find("revision"); r != cm->end() && (r->is_number_integer() || r->is_number_unsigned()))
          c.revision = r->get<long long>();
      if (auto v = e.find("roster_root_verified"); v != e.end() && v->is_boolean()) c.roster_root_verified = v->get<bool>();
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace x0x::harness
