// Counters from real-shaped diagnostics (spec gates-and-proofs.md §2.2–§2.5):
// the JSON paths and fallbacks, and fail-closed reading — an error body, a
// null block or a missing path is unknown with a reason, never 0.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "gates/counters.h"
#include "tests/unit/gate_fixtures.h"

namespace fs = std::filesystem;
using namespace x0x::gates;
using nlohmann::json;

using x0x::testing::gate_fixture;
using x0x::testing::ok;

namespace {

RawSnapshot snapshot(json gossip, json connectivity) { return {ok(std::move(gossip)), ok(std::move(connectivity))}; }

RawSnapshot spec_snapshot() { return snapshot(gate_fixture("spec-gossip.json"), gate_fixture("spec-connectivity.json")); }

double v(const NodeCounters& c, const std::string& name) {
  INFO(name);
  REQUIRE(c.values.count(name));
  REQUIRE(c.values.at(name).has_value());
  return *c.values.at(name);
}

bool unknown(const NodeCounters& c, const std::string& name) { return c.values.count(name) && !c.values.at(name); }

}  // namespace

TEST_CASE("gossip counters come from the x0xd JSON paths", "[gates][counters]") {
  NodeCounters c = extract_counters(spec_snapshot(), "post");
  CHECK(c.gossip_ok);
  CHECK(c.connectivity_ok);
  CHECK(c.problems.empty());
  CHECK(v(c, "dispatcher_completed") == 11364);
  CHECK(v(c, "dispatcher_timed_out") == 0);
  CHECK(v(c, "pubsub_workers") == 8);
  CHECK(v(c, "recv_pump_dropped_full") == 0);
  CHECK(v(c, "recv_pump_latest_depth") == 0);
  CHECK(v(c, "recv_pump_max_depth") == 37);
  CHECK(v(c, "recv_pump_produced_total") == 11364);
  CHECK(v(c, "recv_pump_dequeued_total") == 11364);
  CHECK(v(c, "per_peer_timeout_count") == 3);
  CHECK(v(c, "message_kind_anti_entropy") == 301);
  CHECK(v(c, "message_kind_eager") == 8841);
  CHECK(v(c, "message_kind_ihave") == 2210);
  CHECK(v(c, "message_kind_iwant") == 12);
  CHECK(v(c, "outbound_budget_exhausted") == 0);
  CHECK(v(c, "suppressed_peers_size") == 1);
  CHECK(v(c, "peer_scores_total") == 1);
  CHECK(v(c, "known_peer_topic_pairs") == 1);
  CHECK(v(c, "peer_scores_eager_eligible") == 0);
  CHECK(v(c, "peer_scores_lazy") == 0);
  CHECK(v(c, "peer_scores_excluded") == 0);
  CHECK(v(c, "peer_scores_topics_total") == 1);
  CHECK(v(c, "suppressed_topics_total") == 1);
  CHECK(v(c, "suppressed_topic_top_count") == 1);
  CHECK(c.text.at("suppressed_topics_top3") == "a1b2c3d4e5f60718:1");
  CHECK(v(c, "pubsub_cache_topics") == 1);
  CHECK(v(c, "pubsub_cache_msg_count") == 40);
  CHECK(v(c, "pubsub_cache_total_bytes") == 163840);
  CHECK(v(c, "pubsub_cache_oldest_age_secs_max") == 118);
  CHECK(v(c, "pubsub_cache_evicted_by_age") == 10);
  CHECK(v(c, "pubsub_cache_evicted_by_bytes") == 0);
  CHECK(v(c, "pubsub_cache_evicted_by_count") == 0);
  // Every name the helpers list is present, known or not.
  for (auto* names : {&gossip_counters(), &connectivity_counters()})
    for (auto& n : *names) CHECK(c.values.count(n) == 1);
}

TEST_CASE("connectivity scalars and transport derivations", "[gates][counters]") {
  json conn = gate_fixture("spec-connectivity.json");
  NodeCounters c = extract_counters(snapshot(gate_fixture("spec-gossip.json"), conn), "post");
  CHECK(v(c, "data_tx_depth") == 0);
  CHECK(v(c, "data_tx_capacity") == 50000);
  CHECK(v(c, "data_tx_high_water_count") == 0);
  CHECK(v(c, "gso_bundle_send_total") == 0);
  CHECK(v(c, "gso_bundle_partial_send") == 0);
  CHECK(v(c, "transport_peer_count") == 1);
  CHECK(v(c, "transport_connected_count") == 1);
  CHECK(v(c, "transport_rtt_ms_max") == 84);
  CHECK(v(c, "transport_packet_loss_ppm_max") == 0);
  CHECK(c.text.at("transport_peers_top3") == "<64hex>(rtt=84ms,loss=0ppm,idle=80ms)");

  // Ranked by loss desc, RTT desc, peer id asc; ppm is floor(rate × 1e6); unknowns render "?".
  json row = conn["per_peer_transport"][0];
  auto peer = [&](std::string id, json rtt, json loss, bool connected, bool idle) {
    json r = row;
    r["peer_id"] = id;
    r["rtt_ms"] = rtt;
    r["packet_loss_rate"] = loss;
    r["connected"] = connected;
    if (!idle) r.erase("idle_for_ms");
    return r;
  };
  conn["per_peer_transport"] = json::array({peer("aaaaaaaaaaaaaaaa01", 20, 0.0, true, true),
                                            peer("bbbbbbbbbbbbbbbb02", 2100, 0.0051234, true, false),
                                            peer("cccccccccccccccc03", nullptr, nullptr, false, true),
                                            peer("dddddddddddddddd04", 300, 0.0051234, true, true),
                                            peer("eeeeeeeeeeeeeeee05", 40, 0.0, false, true)});
  c = extract_counters(snapshot(gate_fixture("spec-gossip.json"), conn), "post");
  CHECK(v(c, "transport_peer_count") == 5);
  CHECK(v(c, "transport_connected_count") == 3);
  CHECK(v(c, "transport_rtt_ms_max") == 2100);
  CHECK(v(c, "transport_packet_loss_ppm_max") == 5123);
  CHECK(c.text.at("transport_peers_top3") ==
        "bbbbbbbbbbbb(rtt=2100ms,loss=5123ppm);dddddddddddd(rtt=300ms,loss=5123ppm,idle=80ms);"
        "eeeeeeeeeeee(rtt=40ms,loss=0ppm,idle=80ms)");

  // Present but empty: 0, not unknown; not a list: unknown.
  conn["per_peer_transport"] = json::array();
  c = extract_counters(snapshot(gate_fixture("spec-gossip.json"), conn), "post");
  CHECK(v(c, "transport_rtt_ms_max") == 0);
  CHECK(c.text.at("transport_peers_top3").empty());
  conn["per_peer_transport"] = json::object();
  c = extract_counters(snapshot(gate_fixture("spec-gossip.json"), conn), "post");
  CHECK(unknown(c, "transport_peer_count"));
  CHECK(unknown(c, "transport_rtt_ms_max"));
  CHECK(c.unknown_why.at("transport_peer_count") == "connectivity post: per_peer_transport is not a list");
}

TEST_CASE("data_tx missing or null stays unknown, never 0", "[gates][counters]") {
  json conn = gate_fixture("spec-connectivity.json");
  conn["data_tx"]["data_tx_high_water_count"] = nullptr;
  NodeCounters c = extract_counters(snapshot(gate_fixture("spec-gossip.json"), conn), "post");
  CHECK(c.connectivity_ok);
  CHECK(unknown(c, "data_tx_high_water_count"));
  CHECK(v(c, "data_tx_capacity") == 50000);
  CHECK(c.unknown_why.at("data_tx_high_water_count") == "connectivity post: data_tx.data_tx_high_water_count is null");
  conn.erase("data_tx");
  conn.erase("gso");
  c = extract_counters(snapshot(gate_fixture("spec-gossip.json"), conn), "pre");
  for (auto* n : {"data_tx_depth", "data_tx_capacity", "data_tx_high_water_count", "gso_bundle_send_total", "gso_bundle_partial_send"})
    CHECK(unknown(c, n));
  CHECK(c.problems == std::vector<std::string>{"connectivity pre: missing data_tx.data_tx_high_water_count"});
}

TEST_CASE("per-topic suppression falls back from the by-topic map to the rows", "[gates][counters]") {
  json g = gate_fixture("spec-gossip.json");
  json row = g["pubsub_stages"]["suppressed_peers"][0];
  auto suppressed = [&](std::string topic, std::string peer) {
    json r = row;
    r["topic"] = topic;
    r["peer_id"] = peer;
    return r;
  };
  auto& stages = g["pubsub_stages"];
  // Map values are lists (distinct ids) or integers (clamped at 0); ties sort by topic.
  stages["suppressed_peers_by_topic"] = {{"t-b", json::array({"p1", "p2", "p1"})}, {"t-a", 2}, {"t-c", -4}, {"t-d", 5}, {"t-e", 1}};
  NodeCounters c = extract_counters(snapshot(g, gate_fixture("spec-connectivity.json")));
  CHECK(v(c, "suppressed_topics_total") == 4);
  CHECK(v(c, "suppressed_topic_top_count") == 5);
  CHECK(c.text.at("suppressed_topics_top3") == "t-d:5;t-a:2;t-b:2");
  CHECK(v(c, "suppressed_peers_size") == 1);  // the row count, not the map

  // An empty map falls back to the rows grouped by topic (distinct peers; rows missing a field skipped).
  stages["suppressed_peers_by_topic"] = json::object();
  json no_topic = suppressed("x", "p9");
  no_topic.erase("topic");
  stages["suppressed_peers"] = json::array({suppressed("t1", "p1"), suppressed("t1", "p2"), suppressed("t1", "p1"),
                                            suppressed("t2", "p3"), no_topic});
  c = extract_counters(snapshot(g, gate_fixture("spec-connectivity.json")));
  CHECK(v(c, "suppressed_peers_size") == 5);
  CHECK(v(c, "suppressed_topics_total") == 2);
  CHECK(v(c, "suppressed_topic_top_count") == 2);
  CHECK(c.text.at("suppressed_topics_top3") == "t1:2;t2:1");

  // Nothing suppressed: zeros and an empty top-3.
  stages["suppressed_peers"] = json::array();
  c = extract_counters(snapshot(g, gate_fixture("spec-connectivity.json")));
  CHECK(v(c, "suppressed_topics_total") == 0);
  CHECK(v(c, "suppressed_topic_top_count") == 0);
  CHECK(c.text.at("suppressed_topics_top3").empty());
}

TEST_CASE("peer score counts and the peer_scores_topics fallback", "[gates][counters]") {
  json g = gate_fixture("spec-gossip.json");
  json row = g["pubsub_stages"]["peer_scores"][0];
  auto score = [&](std::string topic, std::string role, json eager) {
    json r = row;
    r["topic"] = topic;
    r["role"] = role;
    r["eager_eligible"] = eager;
    return r;
  };
  g["pubsub_stages"]["peer_scores"] = json::array({score("t1", "eager", true), score("t1", "lazy", false), score("t2", "lazy", 1),
                                                   score("t3", "excluded", false), score("t3", "cooled", nullptr)});
  NodeCounters c = extract_counters(snapshot(g, gate_fixture("spec-connectivity.json")));
  CHECK(v(c, "peer_scores_total") == 5);
  CHECK(v(c, "peer_scores_eager_eligible") == 2);
  CHECK(v(c, "peer_scores_lazy") == 2);
  CHECK(v(c, "peer_scores_excluded") == 1);
  CHECK(v(c, "peer_scores_topics_total") == 1);  // the by-topic map has one key
  g["pubsub_stages"].erase("peer_scores_by_topic");
  c = extract_counters(snapshot(g, gate_fixture("spec-connectivity.json")));
  CHECK(v(c, "peer_scores_topics_total") == 3);  // distinct topics of the rows
}

TEST_CASE("an HTTP 503 error body makes every gossip counter unmeasurable, not zero", "[gates][counters]") {
  RawSnapshot s = spec_snapshot();
  s.gossip.http_status = 503;
  s.gossip.body = gate_fixture("gossip-503.json");
  NodeCounters c = extract_counters(s, "post");
  CHECK_FALSE(c.gossip_ok);
  CHECK(c.connectivity_ok);
  for (auto& n : gossip_counters()) {
    INFO(n);
    CHECK(unknown(c, n));
    CHECK(c.unknown_why.at(n) == "gossip post: HTTP 503: gossip runtime not initialized");
  }
  CHECK(c.problems == std::vector<std::string>{"gossip post: HTTP 503: gossip runtime not initialized"});
  CHECK(v(c, "data_tx_capacity") == 50000);

  // The same body with 200 still is not a snapshot.
  s.gossip.http_status = 200;
  c = extract_counters(s, "pre");
  CHECK_FALSE(c.gossip_ok);
  CHECK(unknown(c, "dispatcher_timed_out"));
  CHECK(c.problems == std::vector<std::string>{"gossip pre: ok is false: gossip runtime not initialized"});
}

TEST_CASE("a failed fetch, a non-object body or a null block make the side unmeasurable", "[gates][counters]") {
  RawSnapshot s = spec_snapshot();
  s.gossip = RawFetch{};
  s.gossip.error = "connect to 127.0.0.1:1: Connection refused";
  NodeCounters c = extract_counters(s, "pre");
  CHECK_FALSE(c.gossip_ok);
  CHECK(c.problems.at(0) == "gossip pre: not fetched: connect to 127.0.0.1:1: Connection refused");

  s = spec_snapshot();
  s.gossip.body = json::array({1, 2});
  CHECK(extract_counters(s, "post").problems.at(0) == "gossip post: body is not a JSON object");

  s = spec_snapshot();
  s.gossip.body["dispatcher"] = nullptr;
  c = extract_counters(s, "post");
  CHECK_FALSE(c.gossip_ok);
  CHECK(unknown(c, "dispatcher_timed_out"));
  CHECK(unknown(c, "recv_pump_dropped_full"));  // the whole side, not only the null block
  CHECK(unknown(c, "suppressed_peers_size"));
  CHECK(c.problems.at(0) == "gossip post: dispatcher is null");

  s = spec_snapshot();
  s.gossip.body.erase("recv_pump");
  CHECK(extract_counters(s, "post").problems.at(0) == "gossip post: missing recv_pump");

  s = spec_snapshot();
  s.connectivity.http_status = 503;
  s.connectivity.body = {{"ok", false}, {"error", "network not initialized"}};
  c = extract_counters(s, "post");
  CHECK(c.gossip_ok);
  CHECK_FALSE(c.connectivity_ok);
  for (auto& n : connectivity_counters()) CHECK(unknown(c, n));
  CHECK(c.problems == std::vector<std::string>{"connectivity post: HTTP 503: network not initialized"});
  // Without a side label the problem still says which endpoint.
  CHECK(extract_counters(s).problems == std::vector<std::string>{"connectivity: HTTP 503: network not initialized"});
}

TEST_CASE("a missing gated path is unknown with a problem naming it", "[gates][counters]") {
  RawSnapshot s = spec_snapshot();
  s.gossip.body["dispatcher"]["pubsub"].erase("timed_out");
  s.gossip.body["pubsub_stages"]["republish_per_peer_timeout"] = "three";
  s.gossip.body["recv_pump"]["pubsub"].erase("max_depth");  // not gated: unknown, no problem
  NodeCounters c = extract_counters(s, "post");
  CHECK(c.gossip_ok);
  CHECK(unknown(c, "dispatcher_timed_out"));
  CHECK(unknown(c, "per_peer_timeout_count"));
  CHECK(unknown(c, "recv_pump_max_depth"));
  CHECK(v(c, "dispatcher_completed") == 11364);
  CHECK(c.problems == std::vector<std::string>{"gossip post: missing dispatcher.pubsub.timed_out",
                                               "gossip post: pubsub_stages.republish_per_peer_timeout is not a number (\"three\")"});
  CHECK(c.unknown_why.at("recv_pump_max_depth") == "gossip post: missing recv_pump.pubsub.max_depth");

  s = spec_snapshot();
  s.gossip.body["pubsub_stages"].erase("suppressed_peers");
  s.gossip.body["pubsub_stages"].erase("peer_scores");
  c = extract_counters(s, "post");
  CHECK(unknown(c, "suppressed_peers_size"));
  CHECK(unknown(c, "peer_scores_total"));
  CHECK(unknown(c, "known_peer_topic_pairs"));
  CHECK(c.problems == std::vector<std::string>{"gossip post: missing pubsub_stages.suppressed_peers",
                                               "gossip post: missing pubsub_stages.peer_scores"});
  CHECK(v(c, "suppressed_topics_total") == 1);  // the by-topic map is still there
}

TEST_CASE("deltas: post minus pre, unknown if either side is, monotonic clamped with a reset flag", "[gates][counters]") {
  RawSnapshot pre = spec_snapshot(), post = spec_snapshot();
  post.gossip.body["dispatcher"]["pubsub"]["timed_out"] = 4;
  post.gossip.body["dispatcher"]["pubsub"]["completed"] = 11464;
  post.gossip.body["recv_pump"]["pubsub"]["latest_depth"] = 0;
  pre.gossip.body["recv_pump"]["pubsub"]["latest_depth"] = 9;                 // a gauge may go down
  post.gossip.body["recv_pump"]["pubsub"]["produced_total"] = 11000;          // a monotonic counter went back: restart
  post.connectivity.body["data_tx"]["data_tx_high_water_count"] = nullptr;    // unknown on one side
  NodeCounters a = extract_counters(pre, "pre"), b = extract_counters(post, "post");
  NodeDeltas d = compute_deltas(a, b);
  CHECK(d.delta.at("dispatcher_timed_out") == 4);
  CHECK(d.delta.at("dispatcher_completed") == 100);
  CHECK(d.delta.at("recv_pump_latest_depth") == -9);
  CHECK(d.delta.at("recv_pump_produced_total") == 0);
  CHECK(d.counter_reset);
  CHECK_FALSE(d.delta.at("data_tx_high_water_count").has_value());
  CHECK(d.delta.at("data_tx_capacity") == 0);
  CHECK(d.per_peer_timeout_ratio == 0.0);  // 0 new per-peer timeouts
  CHECK(d.drop_ratio == 0.0);

  NodeCounters c = extract_counters(spec_snapshot(), "pre"), e = extract_counters(spec_snapshot(), "post");
  CHECK_FALSE(compute_deltas(c, e).counter_reset);
}

TEST_CASE("known_peer_topic_pairs is the larger side's score rows, written into both", "[gates][counters]") {
  RawSnapshot pre = spec_snapshot(), post = spec_snapshot();
  json row = pre.gossip.body["pubsub_stages"]["peer_scores"][0];
  pre.gossip.body["pubsub_stages"]["peer_scores"] = json::array({row, row, row, row});
  post.gossip.body["pubsub_stages"]["peer_scores"] = json::array();  // transiently empty during a rebuild
  NodeCounters a = extract_counters(pre, "pre"), b = extract_counters(post, "post");
  NodeDeltas d = compute_deltas(a, b);
  CHECK(*a.values.at("known_peer_topic_pairs") == 4);
  CHECK(*b.values.at("known_peer_topic_pairs") == 4);
  CHECK(d.delta.at("known_peer_topic_pairs") == 0);
  CHECK(d.suppression_ratio == 0.25);  // 1 suppressed / max(4, 0)
}

TEST_CASE("ratios: 0 over anything is 0, n over 0 is inf, unknown stays unknown", "[gates][counters]") {
  CHECK(ratio(0.0, 0.0) == 0.0);
  CHECK(ratio(0.0, 5.0) == 0.0);
  CHECK(ratio(3.0, 0.0) == kInf);
  CHECK(ratio(3.0, 12.0) == 0.25);
  CHECK_FALSE(ratio(std::nullopt, 1.0).has_value());
  CHECK_FALSE(ratio(1.0, std::nullopt).has_value());
  CHECK(render(kInf) == "inf");
  CHECK(render(kInf, 3) == "inf");
  CHECK(render(std::nullopt) == "unknown");
  CHECK(render(7.0) == "7");
  CHECK(render(0.31, 3) == "0.310");
  CHECK(render(95.25) == "95.25");
  CHECK(render(0.0) == "0");

  // Through compute_deltas: per-peer timeouts with no completions are +inf.
  RawSnapshot pre = spec_snapshot(), post = spec_snapshot();
  post.gossip.body["pubsub_stages"]["republish_per_peer_timeout"] = 9;
  post.gossip.body["recv_pump"]["pubsub"]["dropped_full"] = 2;
  post.gossip.body["recv_pump"]["pubsub"]["produced_total"] = 11368;
  NodeCounters a = extract_counters(pre, "pre"), b = extract_counters(post, "post");
  NodeDeltas d = compute_deltas(a, b);
  CHECK(d.per_peer_timeout_ratio == kInf);
  CHECK(d.drop_ratio == 0.5);
  // 1 suppressed row over no score rows on either side: +inf.
  pre.gossip.body["pubsub_stages"]["peer_scores"] = json::array();
  post.gossip.body["pubsub_stages"]["peer_scores"] = json::array();
  a = extract_counters(pre, "pre"), b = extract_counters(post, "post");
  CHECK(compute_deltas(a, b).suppression_ratio == kInf);
}

TEST_CASE("diagnostics captured from a real lean node read completely", "[gates][counters]") {
  json gpre = gate_fixture("lean-gossip-pre.json"), gpost = gate_fixture("lean-gossip-post.json");
  NodeCounters pre = extract_counters(snapshot(gpre, gate_fixture("lean-connectivity-pre.json")), "pre");
  NodeCounters post = extract_counters(snapshot(gpost, gate_fixture("lean-connectivity-post.json")), "post");
  CHECK(pre.problems.empty());
  CHECK(post.problems.empty());
  CHECK(post.gossip_ok);
  CHECK(post.connectivity_ok);
  NodeDeltas d = compute_deltas(pre, post);
  double completed = gpost["dispatcher"]["pubsub"]["completed"].get<double>() - gpre["dispatcher"]["pubsub"]["completed"].get<double>();
  REQUIRE(completed > 0);  // the capture saw traffic
  CHECK(d.delta.at("dispatcher_completed") == completed);
  CHECK(d.delta.at("dispatcher_timed_out") == 0);
  CHECK(d.delta.at("recv_pump_dropped_full") == 0);
  CHECK(d.delta.at("data_tx_high_water_count") == 0);
  CHECK(d.per_peer_timeout_ratio == 0.0);
  CHECK(d.suppression_ratio == 0.0);
  CHECK_FALSE(d.counter_reset);
  CHECK(v(post, "peer_scores_total") == gpost["pubsub_stages"]["peer_scores"].size());
  CHECK(v(post, "pubsub_cache_msg_count") == gpost["pubsub_stages"]["topic_caches"][0]["cache"]["msg_count"].get<double>());
  CHECK(v(post, "transport_peer_count") == 2);
  // Every counter of §2.2/§2.3 is known on a healthy lean node.
  for (auto* names : {&gossip_counters(), &connectivity_counters()})
    for (auto& n : *names) {
      INFO(n);
      CHECK(post.values.at(n).has_value());
    }
}
