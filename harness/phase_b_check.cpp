#include "harness/phase_b_check.h"

#include <algorithm>

#include <fmt/format.h>

#include "runners/control_protocol.h"
#include "runners/phase_b_actions.h"

namespace x0x::harness {

using nlohmann::json;

CallVerdict classify_call(const PhaseBCall& c) {
  CallVerdict v;
  v.latency_ms = c.latency_ms;
  const std::string want = runners::phase_b_result_kind(c.action);
  if (!c.result) {
    v.stage = CheckStage::not_delivered;
    if (!c.local && !c.dispatch.accepted()) {
      v.detail = c.dispatch.error.empty() ? fmt::format("HTTP {}", c.dispatch.http_status) : c.dispatch.error;
      if (c.dispatch.attempts > 1) v.detail += fmt::format(" (after {} attempts)", c.dispatch.attempts);
    } else {
      v.detail = fmt::format("no {} from {} in time (the command or its result was lost)", want, c.node);
    }
    return v;
  }
  const auto& r = *c.result;
  if (r.kind != want) {
    v.stage = CheckStage::action_error;
    v.detail = fmt::format("unexpected kind: {}: {}", r.kind, runners::dump_json(r.outcome));
    return v;
  }
  if (!r.ok()) {
    v.stage = CheckStage::action_error;
    const json& o = r.outcome;
    const json err = o.is_object() && o.contains("error") ? o["error"] : o;
    std::string body = err.is_string() ? err.get<std::string>() : runners::dump_json(err);
    if (o.is_object() && o.contains("http_status")) v.detail = fmt::format("HTTP {}: {}", o["http_status"].dump(), body);
    else v.detail = body;
  }
  return v;
}

namespace {

std::string short_id(const std::string& aid) { return aid.substr(0, 16); }

bool contains(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

const json& details_of(const PhaseBCall* c) {
  static const json kEmpty = json::object();
  return c && c->result ? c->result->details : kEmpty;
}

std::string polls_text(const PhaseBCall* c) {
  if (!c || c->polls <= 1) return "";
  return fmt::format(" after {} polls ({:.0f} ms)", c->polls, c->latency_ms);
}

CallVerdict fail(CheckStage stage, std::string detail, double latency = -1) { return {stage, std::move(detail), latency}; }

class Checker {
 public:
  explicit Checker(const PhaseBRecord& r) : r_(r) {
    rep_.anchor = r.anchor;
    rep_.nodes = r.nodes;
    rep_.runners = r.agents;
    rep_.allow_skips = r.allow_skips;
    for (auto& m : r.members())
      if (!r.agents.count(m)) rep_.missing.push_back(m);
  }

  PhaseBReport run() {
    contacts();
    public_group();
    treekem_audit();
    for (auto& crash : r_.crashes) add(crash, r_.anchor, fail(CheckStage::action_error, crash), CheckArea::join, false);
    return std::move(rep_);
  }

 private:
  // The verdict of the last call of (step, node, subject); when there is none,
  // why: the runner was not discovered, or an earlier step failed (upstream).
  CallVerdict verdict(PhaseBStep step, const std::string& node, const std::string& subject,
                      const CallVerdict* upstream) const {
    if (auto* c = r_.find(step, node, subject)) return classify_call(*c);
    for (auto* n : {&node, &subject})
      if (!n->empty() && !r_.discovered(*n)) return fail(CheckStage::not_discovered, *n + " did not answer discovery");
    if (upstream && !upstream->ok()) return *upstream;
    return fail(CheckStage::not_delivered, fmt::format("{} by {} was not run", step_name(step), node));
  }

  void add(std::string label, std::string node, const CallVerdict& v, CheckArea area, bool counted = true) {
    PhaseBCheck c;
    c.label = std::move(label);
    c.node = std::move(node);
    c.area = area;
    c.stage = v.stage;
    c.detail = v.detail;
    c.latency_ms = v.latency_ms;
    const bool unreachable = v.stage == CheckStage::not_discovered || v.stage == CheckStage::not_delivered;
    if (v.ok()) c.outcome = CheckOutcome::pass;
    else if (r_.allow_skips && unreachable) c.outcome = CheckOutcome::skip;
    else c.outcome = CheckOutcome::fail;
    switch (c.outcome) {
      case CheckOutcome::pass: rep_.passed_checks++; break;
      case CheckOutcome::fail: rep_.failed_checks++; break;
      case CheckOutcome::skip: rep_.skipped_checks++; break;
    }
    if (counted && c.outcome != CheckOutcome::skip) rep_.expected_checks++;
    rep_.checks.push_back(std::move(c));
  }

  // §4.3: four steps per node, the anchor included; an unreachable node's remaining steps are abandoned.
  void contacts() {
    for (auto& n : r_.nodes) {
      std::optional<CallVerdict> abandoned;
      for (auto step : {PhaseBStep::contact_add, PhaseBStep::contact_trusted, PhaseBStep::contact_blocked,
                        PhaseBStep::contact_remove}) {
        auto v = verdict(step, n, "", abandoned ? &*abandoned : nullptr);
        add(n + " " + std::string(contact_label_suffix(step)), n, v, CheckArea::contacts);
        if (!abandoned && (v.stage == CheckStage::not_delivered || v.stage == CheckStage::not_discovered)) abandoned = v;
      }
    }
  }

  // A create call's verdict, with the group id required.
  CallVerdict create_verdict(PhaseBStep step) const {
    auto v = verdict(step, r_.anchor, "", nullptr);
    if (v.ok() && group_id_of(details_of(r_.find(step, r_.anchor))).empty())
      v = fail(CheckStage::action_error, "no group_id (nor group.id) in the reply: " +
                                             runners::dump_json(details_of(r_.find(step, r_.anchor))).substr(0, 200));
    return v;
  }

  CallVerdict invite_verdict(PhaseBStep step, const std::string& m, const CallVerdict& create) const {
    auto v = verdict(step, r_.anchor, m, &create);
    if (v.ok()) {
      const auto& d = details_of(r_.find(step, r_.anchor, m));
      if (invite_link_of(d).empty())
        v = fail(CheckStage::action_error,
                 "invite_link does not start with x0x://invite/: " + runners::dump_json(d.value("invite_link", json())).substr(0, 120));
    }
    return v;
  }

  // The two chain checks of §4.4 step 9 / §4.5 on one node's retained commits.
  void chain_checks(const std::string& who, const std::string& tag, const PhaseBCall* call, const CallVerdict& upstream) {
    const std::string asc = who + " commit revisions strictly ascending (" + tag + ")";
    const std::string root = who + " every retained commit re-derives its signed roster_root (" + tag + ")";
    CallVerdict base = upstream;
    auto commits = commits_of(details_of(call));
    if (base.ok() && commits.empty()) base = fail(CheckStage::not_converged, "no retained state commits to check" + polls_text(call));
    if (!base.ok()) {
      add(asc, who, base, CheckArea::commits);
      add(root, who, base, CheckArea::commits);
      return;
    }
    CallVerdict order{CheckStage::passed, "", call ? call->latency_ms : -1};
    std::optional<long long> prev;
    for (std::size_t i = 0; i < commits.size() && order.ok(); ++i) {
      if (!commits[i].revision) order = fail(CheckStage::chain_invalid, fmt::format("commit #{} has no integer revision", i + 1));
      else if (prev && *commits[i].revision <= *prev)
        order = fail(CheckStage::chain_invalid, fmt::format("revision {} follows revision {} (commit #{})", *commits[i].revision, *prev, i + 1));
      else prev = commits[i].revision;
    }
    add(asc, who, order, CheckArea::commits);
    CallVerdict verified{CheckStage::passed, "", order.latency_ms};
    for (std::size_t i = 0; i < commits.size(); ++i)
      if (!commits[i].roster_root_verified) {
        verified = fail(CheckStage::chain_invalid,
                        commits[i].revision ? fmt::format("revision {}: roster_root_verified is not true", *commits[i].revision)
                                            : fmt::format("commit #{}: roster_root_verified is not true", i + 1));
        break;
      }
    add(root, who, verified, CheckArea::commits);
  }

  // §4.4: the public_open group lifecycle.
  void public_group() {
    const auto& A = r_.anchor;
    const auto members = r_.members();
    auto create = create_verdict(PhaseBStep::group_create);
    add(A + " creates group", A, create, CheckArea::join);

    std::map<std::string, CallVerdict> join;
    std::vector<std::string> joined;
    for (auto& m : members) {
      auto inv = invite_verdict(PhaseBStep::invite, m, create);
      add(A + " generates invite for " + m, m, inv, CheckArea::join);
      join[m] = verdict(PhaseBStep::join, m, "", &inv);
      add(m + " joins via invite", m, join[m], CheckArea::join);
      if (join[m].ok()) joined.push_back(m);
    }

    auto self_check = [&](const std::string& n, const CallVerdict& upstream) {
      auto v = verdict(PhaseBStep::members_self, n, "", &upstream);
      if (v.ok()) {
        auto ids = member_ids_of(details_of(r_.find(PhaseBStep::members_self, n)));
        if (!contains(ids, r_.agent_of(n)))
          v = fail(CheckStage::not_converged, fmt::format("own agent id {} not in the roster ({} members)", short_id(r_.agent_of(n)), ids.size()));
      }
      add(n + " sees self in roster", n, v, CheckArea::roster);
    };
    self_check(A, create);
    for (auto& m : members) self_check(m, join[m]);

    {
      auto v = verdict(PhaseBStep::roster_poll, A, "", &create);
      if (v.ok() && joined.empty() && !members.empty()) {
        v = join[members.front()];
        v.detail = "no member joined (" + members.front() + ": " + v.detail + ")";
      } else if (v.ok()) {
        const auto* poll = r_.find(PhaseBStep::roster_poll, A);
        auto ids = member_ids_of(details_of(poll));
        std::vector<std::string> absent;
        for (auto& m : joined)
          if (!contains(ids, r_.agent_of(m))) absent.push_back(m);
        if (!absent.empty())
          v = fail(CheckStage::not_converged, fmt::format("missing from the anchor's roster{}: {}", polls_text(poll), fmt::join(absent, ", ")),
                   v.latency_ms);
      }
      add(A + " roster converges to include all joined runners", A, v, CheckArea::roster);
    }

    auto kickoff = verdict(PhaseBStep::kickoff, A, "", &create);
    add(A + " posts kickoff message", A, kickoff, CheckArea::reply);
    std::map<std::string, CallVerdict> reply;
    for (auto& m : members) {
      reply[m] = verdict(PhaseBStep::reply, m, "", &join[m]);
      add(m + " posts reply in group", m, reply[m], CheckArea::reply);
    }

    auto own_cache = [&](const std::string& n, const std::string& body, const CallVerdict& upstream) {
      auto v = verdict(PhaseBStep::own_cache, n, "", &upstream);
      if (v.ok()) {
        auto bodies = message_bodies_of(details_of(r_.find(PhaseBStep::own_cache, n)));
        if (!contains(bodies, body))
          v = fail(CheckStage::not_converged, fmt::format("own post \"{}\" not in /messages ({} messages)", body, bodies.size()), v.latency_ms);
      }
      add(n + " sees own reply in local cache", n, v, CheckArea::reply);
    };
    own_cache(A, std::string(kKickoffBody), kickoff);
    for (auto& m : members) own_cache(m, reply_body(m), reply[m]);

    for (auto& m : members) {
      CallVerdict v = reply[m];
      if (v.ok()) {
        v = verdict(PhaseBStep::replies_poll, A, "", &create);
        if (v.ok()) {
          const auto* poll = r_.find(PhaseBStep::replies_poll, A);
          if (!contains(message_bodies_of(details_of(poll)), reply_body(m)))
            v = fail(CheckStage::not_converged, fmt::format("{}'s reply not in the anchor's /messages{}", m, polls_text(poll)), v.latency_ms);
        }
      }
      add(A + " sees " + m + "'s reply in /messages cache", m, v, CheckArea::reply);
    }

    const auto* commits_call = r_.find(PhaseBStep::commits_authored, A);
    auto commits = verdict(PhaseBStep::commits_authored, A, "", &create);
    if (commits.ok() && commits_of(details_of(commits_call)).empty())
      commits = fail(CheckStage::not_converged, "the anchor retained no state commits", commits.latency_ms);
    add(A + " reads retained state-commits (authored)", A, commits, CheckArea::commits);
    chain_checks(A, "authored", commits_call, verdict(PhaseBStep::commits_authored, A, "", &create));
  }

  // §4.5: the private_secure state-commit audit.
  void treekem_audit() {
    const auto& A = r_.anchor;
    const auto members = r_.members();
    auto create = create_verdict(PhaseBStep::tk_create);

    std::vector<std::string> joined;
    std::vector<std::pair<std::string, CallVerdict>> not_joined;
    for (auto& m : members) {
      auto inv = invite_verdict(PhaseBStep::tk_invite, m, create);
      auto join = inv.ok() ? verdict(PhaseBStep::tk_join, m, "", &inv) : inv;
      if (join.ok()) {
        joined.push_back(m);
        continue;
      }
      not_joined.emplace_back(m, join);
      // The reference's extra failure for a join that went wrong (not counted in 10N+10).
      if (create.ok() && r_.discovered(m)) add(m + " joins TreeKEM group", m, join, CheckArea::join, false);
    }

    if (!r_.allow_skips) {
      CallVerdict all = create;
      if (all.ok() && !not_joined.empty()) {
        all = not_joined.front().second;
        std::vector<std::string> parts;
        for (auto& [m, v] : not_joined) parts.push_back(fmt::format("{} ({})", m, check_stage_text(v.stage)));
        all.detail = fmt::format("not joined: {}; {}: {}", fmt::join(parts, ", "), not_joined.front().first, not_joined.front().second.detail);
      }
      add("all runners joined the TreeKEM group (issue #205)", A, all, CheckArea::join);
    }

    CallVerdict enough = create;
    if (enough.ok() && joined.size() < 2) {
      enough = not_joined.empty() ? fail(CheckStage::not_converged, "") : not_joined.front().second;
      enough.detail = fmt::format("{} joiner(s), the applied path needs 2{}", joined.size(),
                                  not_joined.empty() ? "" : "; " + not_joined.front().first + ": " + not_joined.front().second.detail);
    }
    add("TreeKEM group has >=2 joiners (needed to exercise applied path)", A, enough, CheckArea::join);

    const auto* authored_call = r_.find(PhaseBStep::tk_commits_poll, A);
    CallVerdict authored_base = enough.ok() ? verdict(PhaseBStep::tk_commits_poll, A, "", &enough) : enough;
    CallVerdict authored = authored_base;
    if (authored.ok()) {
      auto n = commits_of(details_of(authored_call)).size();
      if (n < joined.size())
        authored = fail(CheckStage::not_converged,
                        fmt::format("{} commit(s) for {} joiners{}", n, joined.size(), polls_text(authored_call)), authored.latency_ms);
    }
    add(A + " authored a TreeKEM commit per joiner", A, authored, CheckArea::commits);
    chain_checks(A, "treekem-authored", authored_call, authored_base);

    // The first joiner (inventory order) whose last poll showed a non-empty chain.
    const PhaseBCall* applied = nullptr;
    std::string who = !joined.empty() ? joined.front() : (!members.empty() ? members.front() : A);
    CallVerdict applied_v = enough;
    if (enough.ok()) {
      std::optional<CallVerdict> first_error;
      for (auto& j : joined) {
        const auto* c = r_.find(PhaseBStep::tk_applied_poll, j);
        auto v = verdict(PhaseBStep::tk_applied_poll, j, "", nullptr);
        if (v.ok() && !commits_of(details_of(c)).empty()) {
          applied = c;
          who = j;
          break;
        }
        if (!v.ok() && !first_error) {
          first_error = v;
          first_error->detail = j + ": " + v.detail;
        }
      }
      if (!applied) {
        const auto* c = r_.find(PhaseBStep::tk_applied_poll, who);
        applied_v = first_error ? *first_error
                                : fail(CheckStage::not_converged, "no joiner retained a state commit" + polls_text(c), c ? c->latency_ms : -1);
      }
    }
    chain_checks(who, "treekem-applied", applied, applied ? classify_call(*applied) : applied_v);
    add("a TreeKEM joiner applied + retained a verified state-commit over gossip (issue #111 applied path)", who,
        applied ? classify_call(*applied) : applied_v, CheckArea::commits);
  }

  const PhaseBRecord& r_;
  PhaseBReport rep_;
};

}  // namespace

PhaseBReport check_phase_b(const PhaseBRecord& record) { return Checker(record).run(); }

}  // namespace x0x::harness
