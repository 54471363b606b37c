// Phase A's generator and checker on recorded inputs: no processes, no
// sockets. The plan, the anchor's answers and the runners' results are built
// here exactly as the session would have recorded them.
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness/phase_a_check.h"

using namespace x0x::harness;
using nlohmann::json;

namespace {

const std::vector<std::string> kNodes = {"node-1", "node-2", "node-3", "node-4"};

std::string agent(const std::string& node) { return std::string(63, 'a') + node.back(); }

std::map<std::string, std::string> agents_of(const std::vector<std::string>& nodes) {
  std::map<std::string, std::string> m;
  for (auto& n : nodes) m[n] = agent(n);
  return m;
}

PhaseAPlan plan(const std::vector<std::string>& discovered = kNodes) {
  return plan_phase_a(kNodes, discovered, agents_of(discovered), std::string(64, 'f'), "1700000000123", false);
}

Dispatch accepted() {
  Dispatch d;
  d.http_status = 200;
  d.attempts = 1;
  return d;
}

x0x::runners::Result send_result(const PlannedPair& p, bool ok) {
  x0x::runners::Result r;
  r.kind = "send_result";
  r.request_id = p.request_id;
  r.node = p.src;
  r.digest_marker = p.marker;
  if (ok) r.details = {{"path", "direct"}, {"runner_attempts", 1}};
  else r.outcome = x0x::runners::Result::error_outcome(json{{"error", "peer_unreachable"}}, 502);
  return r;
}

Receipt receipt(const PlannedPair& p, std::string marker, std::string sender) {
  x0x::runners::Result r;
  r.kind = "received_dm";
  r.request_id = p.request_id;
  r.node = p.dst;
  r.digest_marker = std::move(marker);
  r.details = {{"sender", std::move(sender)}};
  return {r, SessionClock::now()};
}

// Every pair delivered, as a healthy fleet reports it.
SessionResults all_delivered(const PhaseAPlan& pl) {
  SessionResults r;
  for (auto& p : pl.pairs) {
    r.by_request[p.request_id] = send_result(p, true);
    r.receipts[{p.dst, p.request_id}] = receipt(p, p.marker, agent(p.src));
  }
  return r;
}

const PairResult& pair(const PhaseAReport& rep, const std::string& s, const std::string& d) {
  for (auto& p : rep.pairs)
    if (p.src == s && p.dst == d) return p;
  FAIL("no pair " << s << "->" << d);
  throw;
}

const PlannedPair& planned(const PhaseAPlan& pl, const std::string& s, const std::string& d) {
  for (auto& p : pl.pairs)
    if (p.src == s && p.dst == d) return p;
  FAIL("no planned pair " << s << "->" << d);
  throw;
}

}  // namespace

TEST_CASE("phase A plan: every directed pair once, with a marker unique to the pair and the run", "[phase_a]") {
  auto pl = plan();
  REQUIRE(pl.pairs.size() == 12);
  REQUIRE(pl.commands.size() == 12);
  std::set<std::string> markers, ids;
  for (auto& p : pl.pairs) {
    markers.insert(p.marker);
    ids.insert(p.request_id);
    REQUIRE(p.command);
    auto& c = pl.commands[*p.command];
    CHECK(c.command.params["digest_marker"] == p.marker);
    CHECK(c.command.params["recipient_aid"] == agent(p.dst));
    CHECK(c.to_agent == agent(p.src));
    CHECK(c.command.command_id == "matrix-" + p.request_id);
  }
  // Fleets named node-1 … node-N gave every pair the marker "nod-nod".
  CHECK(markers.size() == 12);
  CHECK(ids.size() == 12);
  // Another run of the same pair gets another marker.
  auto other = plan_phase_a(kNodes, kNodes, agents_of(kNodes), std::string(64, 'f'), "1700000000124", false);
  CHECK(other.pairs[0].marker != pl.pairs[0].marker);
}

TEST_CASE("phase A check: a healthy run is N(N-1) delivered with latencies and paths", "[phase_a]") {
  auto pl = plan();
  std::vector<Dispatch> d(pl.commands.size(), accepted());
  auto rep = check_phase_a(pl, d, all_delivered(pl));
  CHECK(rep.expected_pairs == 12);
  CHECK(rep.delivered_pairs == 12);
  CHECK(rep.send_ok == 12);
  CHECK(rep.received == 12);
  CHECK(rep.passed());
  for (auto& p : rep.pairs) {
    CHECK(p.delivered());
    CHECK(p.path == "direct");
    CHECK(p.latency_ms >= 0);
  }
}

TEST_CASE("phase A check: a receipt carrying another pair's marker is not a delivery", "[phase_a]") {
  auto pl = plan();
  std::vector<Dispatch> d(pl.commands.size(), accepted());
  auto results = all_delivered(pl);
  // node-2 reports the hop from node-1, but with the marker of node-1 -> node-3.
  auto& p12 = planned(pl, "node-1", "node-2");
  results.receipts[{p12.dst, p12.request_id}] = receipt(p12, planned(pl, "node-1", "node-3").marker, agent("node-1"));
  auto rep = check_phase_a(pl, d, results);
  auto& r = pair(rep, "node-1", "node-2");
  CHECK(r.stage == PairStage::not_received);
  CHECK(r.detail.find("another marker") != std::string::npos);
  CHECK(rep.delivered_pairs == 11);
  CHECK(rep.received == 11);
  CHECK(rep.send_ok == 12);
}

TEST_CASE("phase A check: a receipt naming another sender is not a delivery", "[phase_a]") {
  auto pl = plan();
  std::vector<Dispatch> d(pl.commands.size(), accepted());
  auto results = all_delivered(pl);
  auto& p = planned(pl, "node-3", "node-4");
  results.receipts[{p.dst, p.request_id}] = receipt(p, p.marker, agent("node-2"));
  auto rep = check_phase_a(pl, d, results);
  CHECK(pair(rep, "node-3", "node-4").stage == PairStage::not_received);
  CHECK(pair(rep, "node-3", "node-4").detail == "receipt names another sender");
}

TEST_CASE("phase A check: each failure gets its stage and detail", "[phase_a]") {
  auto pl = plan({"node-1", "node-2", "node-3"});  // node-4 never answered discovery
  REQUIRE(pl.pairs.size() == 12);
  REQUIRE(pl.commands.size() == 6);
  REQUIRE(pl.missing == std::vector<std::string>{"node-4"});
  std::vector<Dispatch> d(pl.commands.size(), accepted());
  auto results = all_delivered(pl);
  auto& refused = planned(pl, "node-1", "node-2");
  d[*refused.command].http_status = 503;
  d[*refused.command].error = "HTTP 503 queue full";
  d[*refused.command].attempts = 3;
  results.by_request.erase(refused.request_id);
  results.receipts.erase({refused.dst, refused.request_id});
  auto& failed_send = planned(pl, "node-2", "node-3");
  results.by_request[failed_send.request_id] = send_result(failed_send, false);
  results.receipts.erase({failed_send.dst, failed_send.request_id});
  auto& no_receipt = planned(pl, "node-3", "node-1");
  results.receipts.erase({no_receipt.dst, no_receipt.request_id});
  auto& lost_result = planned(pl, "node-1", "node-3");
  results.by_request.erase(lost_result.request_id);
  auto& silent = planned(pl, "node-2", "node-1");
  results.by_request.erase(silent.request_id);
  results.receipts.erase({silent.dst, silent.request_id});

  auto rep = check_phase_a(pl, d, results);
  CHECK(pair(rep, "node-1", "node-2").stage == PairStage::not_delivered);
  CHECK(pair(rep, "node-1", "node-2").detail == "HTTP 503 queue full (after 3 attempts)");
  CHECK(pair(rep, "node-2", "node-3").stage == PairStage::send_failed);
  CHECK(pair(rep, "node-2", "node-3").detail == "HTTP 502 peer_unreachable");
  CHECK(pair(rep, "node-3", "node-1").stage == PairStage::not_received);
  CHECK(pair(rep, "node-1", "node-3").stage == PairStage::result_lost);
  CHECK(pair(rep, "node-2", "node-1").stage == PairStage::not_delivered);
  CHECK(pair(rep, "node-2", "node-1").detail.find("no result from node-2") == 0);
  for (auto& p : rep.pairs)
    if (p.involves("node-4")) {
      CHECK(p.stage == PairStage::not_discovered);
      CHECK(p.detail == "node-4 did not answer discovery");
    }
  CHECK(rep.delivered_pairs == 1);  // node-3 -> node-2
  CHECK(rep.expected_pairs == 12);
  auto j = rep.to_json()["phase_a"];
  CHECK(j["pairs"][0]["stage"] == "command not delivered");
  CHECK(j["missing"] == json::array({"node-4"}));
}

TEST_CASE("phase A settle: a pair is settled once its answer is final", "[phase_a]") {
  auto pl = plan();
  auto& p = pl.pairs[0];
  SessionResults r;
  Dispatch refused;
  refused.http_status = 404;
  refused.error = "HTTP 404 unknown agent";
  CHECK(phase_a_pair_settled(p, refused, r));
  CHECK_FALSE(phase_a_pair_settled(p, accepted(), r));
  r.by_request[p.request_id] = send_result(p, true);
  CHECK_FALSE(phase_a_pair_settled(p, accepted(), r));  // the receipt is still to come
  r.receipts[{p.dst, p.request_id}] = receipt(p, p.marker, agent(p.src));
  CHECK(phase_a_pair_settled(p, accepted(), r));
  r.receipts.clear();
  r.by_request[p.request_id] = send_result(p, false);
  CHECK(phase_a_pair_settled(p, accepted(), r));
}

TEST_CASE("command dispatch: no answer, 429 and 5xx are retried and other answers are final", "[phase_a]") {
  auto with = [](int status, std::string error) {
    Dispatch d;
    d.http_status = status;
    d.error = std::move(error);
    return d;
  };
  CHECK_FALSE(dispatch_retryable(accepted()));
  CHECK(dispatch_retryable(with(0, "connection refused")));
  CHECK(dispatch_retryable(with(429, "HTTP 429 busy")));
  CHECK(dispatch_retryable(with(503, "HTTP 503 queue full")));
  CHECK_FALSE(dispatch_retryable(with(404, "HTTP 404 unknown agent")));
  CHECK_FALSE(dispatch_retryable(with(400, "HTTP 400 bad request")));
}
