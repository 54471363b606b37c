#include "harness/phase_b.h"

#include <array>
#include <mutex>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/enum_names.h"
#include "core/parallel_for.h"
#include "harness/command_dispatcher.h"
#include "harness/phase_b_check.h"
#include "harness/phase_b_plan.h"
#include "harness/runner_session.h"
#include "probes/rest_client.h"
#include "runners/phase_b_actions.h"
#include "runners/runner.h"

namespace x0x::harness {

using nlohmann::json;
using namespace std::chrono_literals;

// --- the report ---

namespace {
constexpr std::array<std::pair<CheckStage, std::string_view>, 6> kCheckStageNames = {{
    {CheckStage::passed, ""},
    {CheckStage::not_discovered, "runner not discovered"},
    {CheckStage::not_delivered, "command not delivered"},
    {CheckStage::action_error, "action error"},
    {CheckStage::not_converged, "not converged"},
    {CheckStage::chain_invalid, "chain invalid"},
}};
constexpr std::array<std::pair<CheckArea, std::string_view>, 5> kCheckAreaNames = {{
    {CheckArea::contacts, "contacts"},
    {CheckArea::join, "join"},
    {CheckArea::roster, "roster"},
    {CheckArea::reply, "reply"},
    {CheckArea::commits, "commits"},
}};
}  // namespace

std::string_view check_area_text(CheckArea a) { return name_in(kCheckAreaNames, a); }

std::optional<CheckArea> parse_check_area(std::string_view text) { return value_in(kCheckAreaNames, text); }

std::string_view check_stage_text(CheckStage s) { return name_in(kCheckStageNames, s); }

std::optional<CheckStage> parse_check_stage(std::string_view text) { return value_in(kCheckStageNames, text); }

std::string_view check_outcome_text(CheckOutcome o) {
  switch (o) {
    case CheckOutcome::pass: return "pass";
    case CheckOutcome::fail: return "fail";
    case CheckOutcome::skip: return "skip";
  }
  return "?";
}

bool PhaseBReport::runners_short() const { return runners.empty() || (!allow_skips && !missing.empty()); }

int PhaseBReport::exit_code() const {
  if (runners_short()) return 4;
  return passed() ? 0 : 1;
}

std::string PhaseBReport::verdict() const {
  std::string v = fmt::format("Phase B: {}/{} checks passed", passed_checks, expected_checks);
  if (failed_checks) v += fmt::format(" ({} failed)", failed_checks);
  if (skipped_checks) v += fmt::format(" ({} skipped, --allow-skips)", skipped_checks);
  return v;
}

json PhaseBReport::to_json() const {
  json checks_json = json::array();
  for (auto& c : checks)
    checks_json.push_back({{"label", c.label}, {"node", c.node}, {"area", check_area_text(c.area)},
                           {"outcome", check_outcome_text(c.outcome)},
                           {"stage", c.stage == CheckStage::passed ? json(nullptr) : json(check_stage_text(c.stage))},
                           {"detail", c.detail.empty() ? json(nullptr) : json(c.detail)},
                           {"latency_ms", c.latency_ms < 0 ? json(nullptr) : json(c.latency_ms)}});
  return {{"phase_b",
           {{"expected_checks", expected_checks}, {"passed_checks", passed_checks}, {"failed_checks", failed_checks},
            {"skipped_checks", skipped_checks}, {"verdict", verdict()}, {"passed", passed()}, {"exit_code", exit_code()},
            {"anchor", anchor}, {"nodes", nodes}, {"runners", runners}, {"missing", missing},
            {"allow_skips", allow_skips}, {"discover_secs", discover_secs}, {"run_secs", run_secs},
            {"checks", checks_json}}}};
}

// --- the run ---

namespace {

double ms_since(SessionClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SessionClock::now() - t0).count();
}

class Driver {
 public:
  Driver(RunnerSession& s, const PhaseBOptions& o, PhaseBRecord& rec) : s_(s), o_(o), rec_(rec) {}

  // The calls at once: the anchor's own on its API, the others as command DMs; waits for
  // every result up to the command timeout. Not recorded.
  std::vector<PhaseBCall> run(const std::vector<StepCall>& specs) {
    std::vector<PhaseBCall> out(specs.size());
    std::vector<PlannedCommand> planned;
    std::vector<std::size_t> remote, local;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      auto& sp = specs[i];
      out[i] = PhaseBCall{sp.step, sp.node, sp.subject, sp.action, sp.params};
      if (sp.node == rec_.anchor) {
        out[i].local = true;
        local.push_back(i);
        continue;
      }
      auto id = runners::make_uuid4();  // command_id == request_id, as the reference's Phase B
      planned.push_back({s_.command(id, sp.node, sp.action, sp.params), rec_.agent_of(sp.node)});
      remote.push_back(i);
    }
    // A node restarting mid-run is off the mesh for a moment: its commands are
    // retried for up to half the command timeout before they count as not delivered.
    auto dispatches = dispatch_commands(s_, planned, {o_.parallel, patient_dispatch_policy(o_.cmd_timeout / 2)});
    std::map<std::string, std::size_t> pending;  // request id -> index in out
    for (std::size_t k = 0; k < remote.size(); ++k) {
      out[remote[k]].dispatch = dispatches[k];
      out[remote[k]].params = planned[k].command.params;
      if (dispatches[k].accepted()) pending[planned[k].command.command_id] = remote[k];
    }
    std::vector<std::optional<probes::RestClient>> clients(std::max<std::size_t>(1, o_.parallel));
    parallel_for_workers(local.size(), o_.parallel, [&](std::size_t k, std::size_t w) {
      if (!clients[w]) clients[w].emplace(s_.client());
      out[local[k]] = call_local(*clients[w], specs[local[k]]);
    });
    const auto deadline = SessionClock::now() + o_.cmd_timeout;
    auto resend_at = SessionClock::now() + o_.resend_after;
    std::map<std::string, PlannedCommand> by_request;  // to send again
    for (auto& p : planned) by_request.emplace(p.command.command_id, p);
    while (!pending.empty()) {
      auto arrived = [&](const SessionResults& r) {
        for (auto& [rid, i] : pending)
          if (r.by_request.count(rid)) return true;
        return false;
      };
      if (!s_.bus().wait_until(std::min(deadline, resend_at), arrived)) {
        if (SessionClock::now() >= deadline) break;
        // No result yet: the command or its result may have been lost (a node
        // restarting under it). The same command again: a runner that ran it
        // sends its result again, one that never saw it runs it once.
        std::vector<PlannedCommand> again;
        for (auto& [rid, i] : pending) again.push_back(by_request.at(rid));
        dispatch_commands(s_, again, {o_.parallel});
        resend_at = SessionClock::now() + o_.resend_after;
        continue;
      }
      s_.bus().read([&](const SessionResults& r) {
        for (auto it = pending.begin(); it != pending.end();) {
          auto res = r.by_request.find(it->first);
          if (res == r.by_request.end()) {
            ++it;
            continue;
          }
          auto& c = out[it->second];
          c.result = res->second;
          c.latency_ms = std::chrono::duration<double, std::milli>(SessionClock::now() - c.dispatch.sent_at).count();
          it = pending.erase(it);
        }
      });
    }
    return out;
  }

  void record(const std::vector<PhaseBCall>& calls) {
    std::lock_guard lk(mu_);
    rec_.calls.insert(rec_.calls.end(), calls.begin(), calls.end());
  }

  std::vector<PhaseBCall> run_recorded(const std::vector<StepCall>& specs) {
    auto calls = run(specs);
    record(calls);
    return calls;
  }

  // The anchor's own call polled every poll_every until done(details) or the deadline.
  PhaseBCall poll_local(const StepCall& spec, std::chrono::milliseconds limit, const std::function<bool(const json&)>& done) {
    auto client = s_.client();
    const auto t0 = SessionClock::now();
    const auto deadline = t0 + limit;
    PhaseBCall c;
    int polls = 0;
    while (true) {
      c = call_local(client, spec);
      ++polls;
      if (c.result && c.result->ok() && done(c.result->details)) break;
      if (SessionClock::now() + o_.poll_every >= deadline) break;
      std::this_thread::sleep_for(o_.poll_every);
    }
    c.polls = polls;
    c.latency_ms = ms_since(t0);
    record({c});
    return c;
  }

  // §4.3: every node's lifecycle at once, step by step; an unreachable node is abandoned.
  void contacts() {
    std::vector<std::string> alive{rec_.anchor};
    for (auto& m : rec_.members())
      if (rec_.agents.count(m)) alive.push_back(m);
    for (std::size_t k = 0; k < 4 && !alive.empty(); ++k) {
      std::vector<StepCall> specs;
      for (auto& n : alive) specs.push_back(contact_lifecycle(n)[k]);
      auto calls = run_recorded(specs);
      std::vector<std::string> next;
      for (auto& c : calls)
        if (classify_call(c).stage != CheckStage::not_delivered) next.push_back(c.node);
      alive = std::move(next);
    }
    s_.say("phase B: contacts done");
  }

  struct Joined {
    std::string node, group_id;
  };

  // Create, one invite per discovered member (one-time each), the joins at once.
  std::pair<std::string, std::vector<Joined>> create_and_join(bool treekem) {
    const auto create_step = treekem ? PhaseBStep::tk_create : PhaseBStep::group_create;
    const auto invite_step = treekem ? PhaseBStep::tk_invite : PhaseBStep::invite;
    const auto join_step = treekem ? PhaseBStep::tk_join : PhaseBStep::join;
    auto create = run_recorded({{create_step, rec_.anchor, "", "group_create", group_create_params(treekem)}})[0];
    std::string gid = create.result && create.result->ok() ? group_id_of(create.result->details) : "";
    if (gid.empty()) return {"", {}};
    std::vector<StepCall> invites;
    for (auto& m : rec_.members())
      if (rec_.agents.count(m)) invites.push_back({invite_step, rec_.anchor, m, "group_invite", {{"group_id", gid}}});
    std::vector<StepCall> joins;
    for (auto& c : run_recorded(invites)) {
      auto link = c.result && c.result->ok() ? invite_link_of(c.result->details) : "";
      if (!link.empty()) joins.push_back({join_step, c.subject, "", "group_join", {{"invite", link}}});
    }
    std::vector<Joined> joined;
    const std::size_t wave = std::max<std::size_t>(1, o_.joins_in_flight);
    for (std::size_t from = 0; from < joins.size(); from += wave) {
      std::vector<StepCall> some(joins.begin() + from, joins.begin() + std::min(joins.size(), from + wave));
      for (auto& c : run_recorded(some))
        if (c.result && c.result->ok() && c.result->kind == "group_join_result") {
          auto member_gid = group_id_of(c.result->details);
          joined.push_back({c.node, member_gid.empty() ? gid : member_gid});
        }
    }
    // Inventory order, whatever order the results came in.
    std::vector<Joined> ordered;
    for (auto& m : rec_.members())
      for (auto& j : joined)
        if (j.node == m) ordered.push_back(j);
    return {gid, ordered};
  }

  // §4.4: the public_open group lifecycle.
  void public_group() {
    auto [gid, joined] = create_and_join(false);
    if (gid.empty()) return;
    s_.say(fmt::format("phase B: {} member(s) joined the public group", joined.size()));
    const auto& A = rec_.anchor;
    std::vector<StepCall> selfs{{PhaseBStep::members_self, A, "", "group_members", {{"group_id", gid}}}};
    for (auto& j : joined) selfs.push_back({PhaseBStep::members_self, j.node, "", "group_members", {{"group_id", j.group_id}}});
    run_recorded(selfs);
    poll_local({PhaseBStep::roster_poll, A, "", "group_members", {{"group_id", gid}}}, o_.roster_deadline, [&](const json& d) {
      auto ids = member_ids_of(d);
      for (auto& j : joined)
        if (std::find(ids.begin(), ids.end(), rec_.agent_of(j.node)) == ids.end()) return false;
      return true;
    });
    run_recorded({{PhaseBStep::kickoff, A, "", "group_send_message", {{"group_id", gid}, {"body", kKickoffBody}}}});
    std::vector<StepCall> replies;
    for (auto& j : joined)
      replies.push_back({PhaseBStep::reply, j.node, "", "group_send_message", {{"group_id", j.group_id}, {"body", reply_body(j.node)}}});
    std::vector<std::string> posted;
    for (auto& c : run_recorded(replies))
      if (c.result && c.result->ok()) posted.push_back(reply_body(c.node));
    std::vector<StepCall> caches{{PhaseBStep::own_cache, A, "", "group_messages", {{"group_id", gid}}}};
    for (auto& j : joined) caches.push_back({PhaseBStep::own_cache, j.node, "", "group_messages", {{"group_id", j.group_id}}});
    run_recorded(caches);
    poll_local({PhaseBStep::replies_poll, A, "", "group_messages", {{"group_id", gid}}}, o_.replies_deadline, [&](const json& d) {
      auto bodies = message_bodies_of(d);
      for (auto& b : posted)
        if (std::find(bodies.begin(), bodies.end(), b) == bodies.end()) return false;
      return true;
    });
    run_recorded({{PhaseBStep::commits_authored, A, "", "group_state_commits", {{"group_id", gid}}}});
    s_.say("phase B: public group done");
  }

  // §4.5: the private_secure state-commit audit.
  void treekem_audit() {
    auto [gid, joined] = create_and_join(true);
    if (gid.empty() || joined.size() < 2) return;
    const std::size_t joiners = joined.size();
    poll_local({PhaseBStep::tk_commits_poll, rec_.anchor, "", "group_state_commits", {{"group_id", gid}}}, o_.commits_deadline,
               [&](const json& d) { return commits_of(d).size() >= joiners; });
    // The joiners in inventory order, a few at a time (each answer carries the
    // whole chain with a roster per commit), until one of them retained a
    // commit; then round after round until the deadline.
    std::vector<StepCall> specs;
    for (auto& j : joined) specs.push_back({PhaseBStep::tk_applied_poll, j.node, "", "group_state_commits", {{"group_id", j.group_id}}});
    const auto t0 = SessionClock::now();
    const auto deadline = t0 + o_.applied_deadline;
    const std::size_t batch = std::max<std::size_t>(1, o_.applied_poll_batch);
    std::map<std::string, PhaseBCall> last;  // by joiner: its latest answer
    int rounds = 0;
    bool found = false;
    while (!found) {
      ++rounds;
      for (std::size_t from = 0; from < specs.size() && !found; from += batch) {
        std::vector<StepCall> some(specs.begin() + from, specs.begin() + std::min(specs.size(), from + batch));
        for (auto& c : run(some)) {
          found = found || (c.result && c.result->ok() && !commits_of(c.result->details).empty());
          last[c.node] = std::move(c);
        }
      }
      if (found || SessionClock::now() + o_.poll_every >= deadline) break;
      std::this_thread::sleep_for(o_.poll_every);
    }
    std::vector<PhaseBCall> polled;
    for (auto& [node, c] : last) {
      c.polls = rounds;
      if (rounds > 1) c.latency_ms = ms_since(t0);
      polled.push_back(std::move(c));
    }
    record(polled);
    s_.say("phase B: state-commit audit done");
  }

 private:
  PhaseBCall call_local(probes::RestClient& client, const StepCall& sp) const {
    PhaseBCall c{sp.step, sp.node, sp.subject, sp.action, sp.params};
    c.local = true;
    const auto t0 = SessionClock::now();
    auto out = runners::run_phase_b_action(client, sp.action, sp.params);
    runners::Result r;
    r.kind = runners::phase_b_result_kind(sp.action);
    r.request_id = runners::make_uuid4();
    r.outcome = std::move(out.outcome);
    if (out.details) r.details = std::move(*out.details);
    r.node = "anchor_local";
    r.agent_id = rec_.anchor_aid;
    r.ts_ms = runners::unix_ms_now();
    c.result = std::move(r);
    c.latency_ms = ms_since(t0);
    return c;
  }

  RunnerSession& s_;
  const PhaseBOptions& o_;
  PhaseBRecord& rec_;
  std::mutex mu_;
};

}  // namespace

PhaseBReport run_phase_b(const PhaseBOptions& o, const std::function<void(const std::string&)>& progress) {
  PhaseBRecord rec;
  rec.anchor = o.anchor;
  rec.nodes = o.nodes;
  if (std::find(rec.nodes.begin(), rec.nodes.end(), o.anchor) == rec.nodes.end()) rec.nodes.insert(rec.nodes.begin(), o.anchor);
  rec.allow_skips = o.allow_skips;

  SessionOptions so;
  so.anchor_base_url = o.anchor_base_url;
  so.anchor_token = o.anchor_token;
  so.nodes = rec.members();  // the anchor's own node is driven directly, its runner is not needed
  so.discover = o.discover;
  so.republish_every = o.republish_every;
  RunnerSession session(so, progress);
  session.discover();
  rec.anchor_aid = session.anchor_aid();
  rec.agents = session.agents();

  const auto t0 = SessionClock::now();
  Driver driver(session, o, rec);
  std::mutex crash_mu;
  // The three scenarios touch different state (a synthetic contact, two groups): all at once.
  parallel_for(3, 3, [&](std::size_t i) {
    try {
      if (i == 0) driver.contacts();
      else if (i == 1) driver.public_group();
      else driver.treekem_audit();
    } catch (const std::exception& e) {
      std::lock_guard lk(crash_mu);
      rec.crashes.push_back(std::string("scenario crash: ") + e.what());
    }
  });
  auto rep = check_phase_b(rec);
  rep.discover_secs = session.discover_secs();
  rep.run_secs = std::chrono::duration<double>(SessionClock::now() - t0).count();
  return rep;
}

}  // namespace x0x::harness
