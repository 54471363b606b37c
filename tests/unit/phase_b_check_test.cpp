// Phase B's checker on recorded runs: no processes, no sockets. A record is
// built here call by call exactly as the driver records it (the anchor's own
// calls local, the members' as command DMs with the runner's result).
#include <algorithm>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness/phase_b_check.h"
#include "runners/phase_b_actions.h"

using namespace x0x::harness;
using nlohmann::json;

namespace {

const std::vector<std::string> kNodes = {"nyc", "sfo", "helsinki", "nuremberg", "singapore", "sydney"};
const std::string kGroup = std::string(64, '1');
const std::string kSecure = std::string(64, '2');

std::string agent(const std::string& node) {
  auto i = std::find(kNodes.begin(), kNodes.end(), node) - kNodes.begin();
  return std::string(63, 'a') + std::to_string(i);
}

PhaseBCall call(PhaseBStep step, const std::string& node, const std::string& action, json details,
                const std::string& subject = {}) {
  PhaseBCall c{step, node, subject, action};
  c.local = node == "nyc";
  if (!c.local) {
    c.dispatch.http_status = 200;
    c.dispatch.attempts = 1;
  }
  x0x::runners::Result r;
  r.kind = x0x::runners::phase_b_result_kind(action);
  r.request_id = "rid";
  r.node = c.local ? "anchor_local" : node;
  r.details = std::move(details);
  c.result = r;
  c.latency_ms = 5;
  return c;
}

json roster(const std::vector<std::string>& nodes) {
  json m = json::array();
  for (auto& n : nodes) m.push_back({{"agent_id", agent(n)}, {"role", n == "nyc" ? "admin" : "member"}, {"state", "active"}});
  return {{"ok", true}, {"members", m}};
}

json messages(const std::vector<std::string>& bodies) {
  json m = json::array();
  for (auto& b : bodies) m.push_back({{"body", b}, {"kind", "chat"}});
  return {{"ok", true}, {"messages", m}};
}

json commits(const std::vector<std::pair<json, bool>>& revs) {
  json c = json::array();
  for (auto& [rev, verified] : revs) c.push_back({{"commit", {{"revision", rev}}}, {"roster_root_verified", verified}});
  return {{"ok", true}, {"commits", c}};
}

// A fully green 6-node run, as the driver records it.
PhaseBRecord green(std::vector<std::string> nodes = kNodes) {
  PhaseBRecord r;
  r.anchor = "nyc";
  r.anchor_aid = agent("nyc");
  r.nodes = nodes;
  for (auto& n : nodes)
    if (n != "nyc") r.agents[n] = agent(n);
  std::vector<std::string> all_bodies{std::string(kKickoffBody)};
  for (auto& m : r.members()) all_bodies.push_back(reply_body(m));
  for (auto& n : nodes)
    for (auto& s : contact_lifecycle(n)) r.calls.push_back(call(s.step, n, s.action, {{"ok", true}}));
  r.calls.push_back(call(PhaseBStep::group_create, "nyc", "group_create", {{"ok", true}, {"group_id", kGroup}}));
  r.calls.push_back(call(PhaseBStep::tk_create, "nyc", "group_create", {{"ok", true}, {"group_id", kSecure}}));
  for (auto& m : r.members()) {
    r.calls.push_back(call(PhaseBStep::invite, "nyc", "group_invite", {{"ok", true}, {"invite_link", "x0x://invite/p-" + m}}, m));
    r.calls.push_back(call(PhaseBStep::join, m, "group_join", {{"ok", true}, {"group_id", kGroup}}));
    r.calls.push_back(call(PhaseBStep::tk_invite, "nyc", "group_invite", {{"ok", true}, {"invite_link", "x0x://invite/s-" + m}}, m));
    r.calls.push_back(call(PhaseBStep::tk_join, m, "group_join", {{"ok", true}, {"group_id", kSecure}}));
    r.calls.push_back(call(PhaseBStep::reply, m, "group_send_message", {{"ok", true}}));
    r.calls.push_back(call(PhaseBStep::tk_applied_poll, m, "group_state_commits", commits({{2, true}, {3, true}})));
  }
  for (auto& n : nodes) {
    r.calls.push_back(call(PhaseBStep::members_self, n, "group_members", roster(nodes)));
    r.calls.push_back(call(PhaseBStep::own_cache, n, "group_messages", messages(all_bodies)));
  }
  r.calls.push_back(call(PhaseBStep::roster_poll, "nyc", "group_members", roster(nodes)));
  r.calls.push_back(call(PhaseBStep::kickoff, "nyc", "group_send_message", {{"ok", true}}));
  r.calls.push_back(call(PhaseBStep::replies_poll, "nyc", "group_messages", messages(all_bodies)));
  r.calls.push_back(call(PhaseBStep::commits_authored, "nyc", "group_state_commits", commits({{1, true}, {2, true}})));
  std::vector<std::pair<json, bool>> tk;
  for (int rev = 1; rev <= static_cast<int>(nodes.size()); ++rev) tk.push_back({rev, true});
  r.calls.push_back(call(PhaseBStep::tk_commits_poll, "nyc", "group_state_commits", commits(tk)));
  return r;
}

PhaseBCall& find_call(PhaseBRecord& r, PhaseBStep step, const std::string& node, const std::string& subject = {}) {
  for (auto& c : r.calls)
    if (c.step == step && c.node == node && c.subject == subject) return c;
  FAIL("no call " << step_name(step) << " by " << node);
  throw;
}

void drop_calls_of(PhaseBRecord& r, const std::string& node) {
  r.agents.erase(node);
  std::erase_if(r.calls, [&](const PhaseBCall& c) { return c.node == node || c.subject == node; });
}

const PhaseBCheck& check(const PhaseBReport& rep, const std::string& label) {
  for (auto& c : rep.checks)
    if (c.label == label) return c;
  FAIL("no check \"" << label << "\"");
  throw;
}

std::vector<const PhaseBCheck*> failures(const PhaseBReport& rep) {
  std::vector<const PhaseBCheck*> out;
  for (auto& c : rep.checks)
    if (c.outcome == CheckOutcome::fail) out.push_back(&c);
  return out;
}

}  // namespace

TEST_CASE("phase B check: a green 6-node strict run is 70/70 (10N+10) and exit 0") {
  auto rep = check_phase_b(green());
  INFO(rep.to_json().dump(2));
  CHECK(rep.expected_checks == 70);
  CHECK(rep.passed_checks == 70);
  CHECK(rep.failed_checks == 0);
  CHECK(rep.checks.size() == 70);
  CHECK(rep.passed());
  CHECK(rep.exit_code() == 0);
  CHECK(rep.verdict() == "Phase B: 70/70 checks passed");
  std::set<std::string> labels;
  for (auto& c : rep.checks) labels.insert(c.label);
  CHECK(labels.size() == 70);  // every label names its check once
  // The reference's labels, word for word.
  for (auto* l : {"nyc adds synthetic contact", "sfo sets synthetic = Trusted", "sydney sets synthetic = Blocked",
                  "nyc removes synthetic contact", "nyc creates group", "nyc generates invite for helsinki",
                  "helsinki joins via invite", "nyc sees self in roster", "sfo sees self in roster",
                  "nyc roster converges to include all joined runners", "nyc posts kickoff message",
                  "singapore posts reply in group", "nyc sees own reply in local cache",
                  "nuremberg sees own reply in local cache", "nyc sees sydney's reply in /messages cache",
                  "nyc reads retained state-commits (authored)", "nyc commit revisions strictly ascending (authored)",
                  "nyc every retained commit re-derives its signed roster_root (authored)",
                  "all runners joined the TreeKEM group (issue #205)",
                  "TreeKEM group has >=2 joiners (needed to exercise applied path)",
                  "nyc authored a TreeKEM commit per joiner", "nyc commit revisions strictly ascending (treekem-authored)",
                  "nyc every retained commit re-derives its signed roster_root (treekem-authored)",
                  "sfo commit revisions strictly ascending (treekem-applied)",
                  "sfo every retained commit re-derives its signed roster_root (treekem-applied)",
                  "a TreeKEM joiner applied + retained a verified state-commit over gossip (issue #111 applied path)"})
    CHECK(labels.count(l) == 1);
  auto j = rep.to_json()["phase_b"];
  CHECK(j["expected_checks"] == 70);
  CHECK(j["passed_checks"] == 70);
  CHECK(j["checks"][0] == json{{"label", "nyc adds synthetic contact"}, {"node", "nyc"}, {"area", "contacts"}, {"outcome", "pass"},
                              {"stage", nullptr}, {"detail", nullptr}, {"latency_ms", 5.0}});
  // The report's grid columns: 4 contact steps per node; per member invite and
  // join, plus the create and the private group's two join checks; self in
  // roster per node plus the anchor's convergence; kickoff, a reply and a
  // cache read per member, the anchor's own cache read; the commit reads and chains.
  std::map<std::string, int> per_area;
  for (auto& c : rep.checks) per_area[std::string(check_area_text(c.area))]++;
  CHECK(per_area == std::map<std::string, int>{{"contacts", 24}, {"join", 13}, {"roster", 7}, {"reply", 17}, {"commits", 9}});
}

TEST_CASE("phase B check: the count is 10N+10 for any fleet size, 10N+9 with --allow-skips") {
  for (std::size_t n : {3u, 4u, 6u}) {
    std::vector<std::string> nodes(kNodes.begin(), kNodes.begin() + static_cast<long>(n));
    auto rec = green(nodes);
    auto rep = check_phase_b(rec);
    CHECK(rep.expected_checks == 10 * n + 10);
    CHECK(rep.passed_checks == 10 * n + 10);
    rec.allow_skips = true;
    auto skips = check_phase_b(rec);
    CHECK(skips.expected_checks == 10 * n + 9);
    CHECK(skips.passed());
  }
}

TEST_CASE("phase B check: a runner not discovered fails its checks with 'runner not discovered', strict exit 4") {
  auto rec = green();
  drop_calls_of(rec, "nuremberg");
  auto rep = check_phase_b(rec);
  INFO(rep.to_json().dump(2));
  CHECK(rep.expected_checks == 70);  // strict: a missing runner is not a smaller run
  CHECK(rep.missing == std::vector<std::string>{"nuremberg"});
  auto f = failures(rep);
  REQUIRE(f.size() == 11);  // its 10 (4 contacts, invite, join, roster, reply, cache, seen by the anchor) + all joined
  for (auto* c : f) {
    CHECK(c->stage == CheckStage::not_discovered);
    if (c->label == "all runners joined the TreeKEM group (issue #205)") {
      CHECK(c->detail.find("not joined: nuremberg (runner not discovered)") == 0);
    } else {
      CHECK(c->node == "nuremberg");
      CHECK(c->detail == "nuremberg did not answer discovery");
    }
  }
  CHECK(check(rep, "nyc sees nuremberg's reply in /messages cache").stage == CheckStage::not_discovered);
  CHECK(rep.passed_checks == 59);
  CHECK(rep.exit_code() == 4);
  CHECK(rep.to_json()["phase_b"]["checks"][12]["stage"] == "runner not discovered");

  rec.allow_skips = true;  // the opt-out: its checks are skipped, the rest must pass
  auto skips = check_phase_b(rec);
  CHECK(skips.expected_checks == 59);
  CHECK(skips.skipped_checks == 10);
  CHECK(skips.passed());
  CHECK(skips.exit_code() == 0);
}

TEST_CASE("phase B check: a non-ascending chain is 'chain invalid' naming the revision") {
  auto rec = green();
  find_call(rec, PhaseBStep::commits_authored, "nyc").result->details = commits({{1, true}, {3, true}, {3, true}});
  find_call(rec, PhaseBStep::tk_applied_poll, "sfo").result->details = commits({{2, true}, {3, false}});
  auto rep = check_phase_b(rec);
  INFO(rep.to_json().dump(2));
  auto& asc = check(rep, "nyc commit revisions strictly ascending (authored)");
  CHECK(asc.outcome == CheckOutcome::fail);
  CHECK(asc.stage == CheckStage::chain_invalid);
  CHECK(asc.detail == "revision 3 follows revision 3 (commit #3)");
  CHECK(check(rep, "nyc every retained commit re-derives its signed roster_root (authored)").outcome == CheckOutcome::pass);
  auto& root = check(rep, "sfo every retained commit re-derives its signed roster_root (treekem-applied)");
  CHECK(root.stage == CheckStage::chain_invalid);
  CHECK(root.detail == "revision 3: roster_root_verified is not true");
  CHECK(rep.failed_checks == 2);
  CHECK(rep.exit_code() == 1);
}

TEST_CASE("phase B check: a reply the anchor never saw is 'not converged' naming the member") {
  auto rec = green();
  std::vector<std::string> bodies{std::string(kKickoffBody)};
  for (auto& m : rec.members())
    if (m != "helsinki") bodies.push_back(reply_body(m));
  auto& poll = find_call(rec, PhaseBStep::replies_poll, "nyc");
  poll.result->details = messages(bodies);
  poll.polls = 150;
  poll.latency_ms = 30000;
  auto rep = check_phase_b(rec);
  auto f = failures(rep);
  REQUIRE(f.size() == 1);
  CHECK(f[0]->label == "nyc sees helsinki's reply in /messages cache");
  CHECK(f[0]->node == "helsinki");
  CHECK(f[0]->stage == CheckStage::not_converged);
  CHECK(f[0]->detail == "helsinki's reply not in the anchor's /messages after 150 polls (30000 ms)");
  CHECK(rep.verdict() == "Phase B: 69/70 checks passed (1 failed)");
}

TEST_CASE("phase B check: the owner roster missing a joiner is 'not converged' naming it") {
  auto rec = green();
  find_call(rec, PhaseBStep::roster_poll, "nyc").result->details = roster({"nyc", "sfo", "helsinki", "nuremberg", "sydney"});
  auto rep = check_phase_b(rec);
  auto& c = check(rep, "nyc roster converges to include all joined runners");
  CHECK(c.stage == CheckStage::not_converged);
  CHECK(c.detail == "missing from the anchor's roster: singapore");
  CHECK(rep.failed_checks == 1);
}

TEST_CASE("phase B check: an action error carries the node's error body, and the member's later checks carry it too") {
  auto rec = green();
  auto& join = find_call(rec, PhaseBStep::join, "sfo");
  join.result->details = json::object();
  join.result->outcome = x0x::runners::Result::error_outcome(json{{"ok", false}, {"error", "invite has expired"}}, 400);
  // The driver does not go on with a member that did not join.
  std::erase_if(rec.calls, [](const PhaseBCall& c) {
    return c.node == "sfo" && (c.step == PhaseBStep::members_self || c.step == PhaseBStep::reply || c.step == PhaseBStep::own_cache);
  });
  auto rep = check_phase_b(rec);
  INFO(rep.to_json().dump(2));
  auto& c = check(rep, "sfo joins via invite");
  CHECK(c.stage == CheckStage::action_error);
  CHECK(c.detail == R"(HTTP 400: {"error":"invite has expired","ok":false})");
  for (auto* l : {"sfo sees self in roster", "sfo posts reply in group", "sfo sees own reply in local cache",
                  "nyc sees sfo's reply in /messages cache"}) {
    CHECK(check(rep, l).stage == CheckStage::action_error);
    CHECK(check(rep, l).detail == c.detail);
  }
  CHECK(check(rep, "nyc roster converges to include all joined runners").outcome == CheckOutcome::pass);
  CHECK(rep.failed_checks == 5);
  CHECK(rep.exit_code() == 1);
}

TEST_CASE("phase B check: a command the anchor could not deliver abandons that node's contact lifecycle") {
  auto rec = green();
  auto& add = find_call(rec, PhaseBStep::contact_add, "singapore");
  add.result.reset();
  add.dispatch.http_status = 502;
  add.dispatch.error = "HTTP 502 peer_disconnected";
  add.dispatch.attempts = 3;
  std::erase_if(rec.calls, [](const PhaseBCall& c) {
    return c.node == "singapore" &&
           (c.step == PhaseBStep::contact_trusted || c.step == PhaseBStep::contact_blocked || c.step == PhaseBStep::contact_remove);
  });
  auto rep = check_phase_b(rec);
  auto f = failures(rep);
  REQUIRE(f.size() == 4);
  for (auto* c : f) {
    CHECK(c->node == "singapore");
    CHECK(c->stage == CheckStage::not_delivered);
    CHECK(c->detail == "HTTP 502 peer_disconnected (after 3 attempts)");
  }
}

TEST_CASE("phase B check: a runner that answers with the wrong kind, or not at all, is named") {
  auto c = [] {
    PhaseBCall c{PhaseBStep::join, "sfo", "", "group_join"};
    c.dispatch.http_status = 200;
    return c;
  }();
  auto none = classify_call(c);
  CHECK(none.stage == CheckStage::not_delivered);
  CHECK(none.detail == "no group_join_result from sfo in time (the command or its result was lost)");
  x0x::runners::Result r;
  r.kind = "error";
  r.outcome = x0x::runners::Result::error_outcome("unknown action: group_join");
  c.result = r;
  auto wrong = classify_call(c);
  CHECK(wrong.stage == CheckStage::action_error);
  CHECK(wrong.detail == R"(unexpected kind: error: {"error":"unknown action: group_join"})");
}

TEST_CASE("phase B check: stage names round-trip at the JSON edge") {
  for (auto s : {CheckStage::not_discovered, CheckStage::not_delivered, CheckStage::action_error, CheckStage::not_converged,
                 CheckStage::chain_invalid})
    CHECK(parse_check_stage(check_stage_text(s)) == s);
  CHECK(check_stage_text(CheckStage::not_discovered) == "runner not discovered");
  CHECK(check_stage_text(CheckStage::chain_invalid) == "chain invalid");
  CHECK_FALSE(parse_check_stage("nope"));
}
