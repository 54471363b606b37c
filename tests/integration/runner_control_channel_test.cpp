// The runner's control channel against a hostile mesh peer (issue 12): real
// lean nodes and a real x0x-test-runner on loopback. Node 0 is the
// orchestrator's anchor (the only agent runner 1 is configured to trust), node 1
// carries the runner under test, node 2 is the attacker (any mesh peer: it uses
// its own node's REST API to DM commands and hops to the runner), node 3 is a
// third party (and, made stale, a black hole).
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "harness/runner_session.h"
#include "probes/rest_client.h"
#include "runners/control_protocol.h"
#include "runners/runner.h"
#include "tests/support/files.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kAnchor = 0, kRunner = 1, kAttacker = 2, kThird = 3;

// The results (x0xtest|res| DMs) that reached one node's agent.
std::vector<runners::Result> results_in(const std::vector<probes::SseEvent>& events) {
  std::vector<runners::Result> out;
  for (auto& e : events) {
    if (e.event != "direct_message") continue;
    auto data = json::parse(e.data, nullptr, false);
    if (!data.is_object() || !data.contains("payload")) continue;
    auto bytes = base64_decode(data["payload"].get<std::string>());
    if (!bytes || bytes->rfind(runners::kResPrefix, 0) != 0) continue;
    try {
      auto m = runners::decode_dm(*bytes);
      if (m.result) out.push_back(*m.result);
    } catch (const std::exception&) {
    }
  }
  return out;
}

struct ControlChannelFleet {
  TestFleet fleet{4, {}, /*runners=*/true};
  probes::SseCollector *anchor_dms = nullptr, *attacker_dms = nullptr, *third_dms = nullptr;
  std::string runner_agent, runner_node;

  enum class Trust { anchor_listed, first_discover };

  explicit ControlChannelFleet(std::string command_timeout_secs = "30", Trust trust = Trust::anchor_listed) {
    auto& mesh = fleet.mesh();
    // Runner 1 trusts the anchor only (the local fleet's default trusts every node of
    // it): listed, or as the sender of the first discover (no list).
    mesh.stop_runner(kRunner);
    mesh.start_runner(kRunner, {{"X0X_RUNNER_TRUSTED_AGENTS", trust == Trust::anchor_listed ? fleet.agent_id(kAnchor) : ""},
                                {"X0X_RUNNER_COMMAND_TIMEOUT_SECS", command_timeout_secs}});
    runner_agent = fleet.agent_id(kRunner);
    runner_node = mesh.nodes()[kRunner].name;
    anchor_dms = &fleet.stream(kAnchor, "/direct/events");
    attacker_dms = &fleet.stream(kAttacker, "/direct/events");
    third_dms = &fleet.stream(kThird, "/direct/events");
    // The orchestrator's discover on the topic, then a noop_ack by DM (its
    // /direct/events attached), each repeated until answered.
    bool discovered = eventually([&] {
      runners::Command d = command("discover", json::object());
      d.target_node = "*";
      fleet.post(kAnchor, "/publish",
                 {{"topic", runners::kDiscoverTopic}, {"payload", base64_encode(runners::encode_topic_command(d))}});
      return wait_result(anchor_dms, 2s, [&](const runners::Result& r) {
        return r.kind == "discover_reply" && r.command_id == d.command_id;
      }).has_value();
    }, 30s);
    REQUIRE(discovered);
    bool ready = eventually([&] { return ping(2s).has_value(); }, 20s);
    REQUIRE(ready);
  }

  runners::Command command(std::string action, json params, std::string id = runners::make_uuid4()) const {
    runners::Command c;
    c.command_id = id;
    c.target_node = runner_node;
    c.action = std::move(action);
    c.anchor_aid = fleet.agent_id(kAnchor);
    params["request_id"] = id;
    params["anchor_aid"] = c.anchor_aid;
    c.params = std::move(params);
    return c;
  }

  // A DM from node `from` to runner 1's agent carrying `payload`; true when its node took it.
  bool dm(std::size_t from, const std::string& payload, const std::string& to = {}) {
    auto r = fleet.client(from).post(
        "/direct/send", json{{"agent_id", to.empty() ? runner_agent : to}, {"payload", base64_encode(payload)}}.dump());
    return r.ok();
  }
  bool send(std::size_t from, const runners::Command& c) { return dm(from, runners::encode_command_dm(c)); }

  static std::optional<runners::Result> wait_result(probes::SseCollector* where, std::chrono::milliseconds limit,
                                                   const std::function<bool(const runners::Result&)>& pred) {
    std::optional<runners::Result> found;
    where->wait_for(
        [&](const std::vector<probes::SseEvent>& events) {
          for (auto& r : results_in(events))
            if (pred(r)) {
              found = r;
              return true;
            }
          return false;
        },
        limit);
    return found;
  }

  // A trusted noop_ack; its ack (details.control_channel: the runner's counters) within `limit`.
  std::optional<runners::Result> ping(std::chrono::milliseconds limit) {
    auto c = command("noop_ack", json::object(), "ping-" + random_hex(6));
    if (!send(kAnchor, c)) return std::nullopt;
    return wait_result(anchor_dms, limit, [&](const runners::Result& r) { return r.kind == "ack" && r.command_id == c.command_id; });
  }

  json counters() {
    auto ack = ping(10s);
    REQUIRE(ack);
    INFO(ack->details.dump());
    REQUIRE(ack->details.contains("control_channel"));
    return ack->details["control_channel"];
  }

  std::uintmax_t runner_log_size() {
    std::error_code ec;
    auto n = std::filesystem::file_size(fleet.mesh().nodes()[kRunner].runner_log_path, ec);
    return ec ? 0 : n;
  }

  bool has_contact(const std::string& agent) {
    auto list = fleet.get(kRunner, "/contacts");
    for (auto& c : list["contacts"])
      if (c.value("agent_id", "") == agent) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("runner control channel: a command from an untrusted peer is answered with an error, counted, and never run") {
  ControlChannelFleet f;
  const std::string victim_contact(64, 'a');
  auto evil = f.command("contact_add", {{"agent_id", victim_contact}, {"trust_level", "Trusted"}}, "evil-1");
  evil.anchor_aid = f.fleet.agent_id(kAttacker);
  evil.params["anchor_aid"] = evil.anchor_aid;
  REQUIRE(f.send(kAttacker, evil));

  auto answer = f.wait_result(f.attacker_dms, 15s, [](const runners::Result& r) { return r.command_id == "evil-1"; });
  REQUIRE(answer);
  INFO(answer->to_json().dump());
  CHECK(answer->kind == "error");
  REQUIRE(answer->outcome.is_object());
  CHECK_THAT(answer->outcome["error"].get<std::string>(), Catch::Contains("unauthorised"));

  // The same command published on the legacy control topic: the publisher is the attacker.
  auto published = f.command("contact_add", {{"agent_id", victim_contact}, {"trust_level", "Trusted"}}, "evil-2");
  f.fleet.post(kAttacker, "/publish",
               {{"topic", runners::kControlTopic}, {"payload", base64_encode(runners::encode_topic_command(published))}});
  auto answer2 = f.wait_result(f.attacker_dms, 15s, [](const runners::Result& r) { return r.command_id == "evil-2"; });
  REQUIRE(answer2);
  CHECK(answer2->kind == "error");

  // Never run: no contact, and the counter says why.
  auto c = f.counters();
  CHECK(c["commands_refused_untrusted"] == 2);
  CHECK(c["commands_accepted"].get<int>() >= 1);  // the fixture's own discover and pings
  CHECK_FALSE(f.has_contact(victim_contact));
}

TEST_CASE("runner control channel: an attacker sending the real command's id first does not pre-empt it") {
  ControlChannelFleet f;
  const std::string attackers_contact(64, 'b'), real_contact(64, 'c');
  // The attacker's copy names the anchor as its reply address, as a forger would.
  auto fake = f.command("contact_add", {{"agent_id", attackers_contact}, {"trust_level", "Known"}}, "real-42");
  REQUIRE(f.send(kAttacker, fake));
  // The runner has handled the attacker's copy (answered it, wherever) before the real one comes.
  auto handled = [](const runners::Result& r) { return r.command_id == "real-42"; };
  bool answered = eventually([&] {
    return f.wait_result(f.attacker_dms, 100ms, handled) || f.wait_result(f.anchor_dms, 100ms, handled);
  }, 15s);
  REQUIRE(answered);

  auto real = f.command("contact_add", {{"agent_id", real_contact}, {"trust_level", "Known"}}, "real-42");
  REQUIRE(f.send(kAnchor, real));
  // The real command's own result: its contact, not a replay of the attacker's.
  auto got = f.wait_result(f.anchor_dms, 15s, [&](const runners::Result& r) {
    return r.command_id == "real-42" && r.details.value("agent_id", "") == real_contact;
  });
  for (auto& r : results_in(f.anchor_dms->snapshot()))
    if (r.command_id == "real-42") UNSCOPED_INFO("the anchor got " << r.to_json().dump());
  REQUIRE(got);
  INFO(got->to_json().dump());
  CHECK(got->kind == "contact_add_result");
  CHECK(got->outcome == "ok");
  CHECK(got->details.value("agent_id", "") == real_contact);
  CHECK(f.has_contact(real_contact));
  CHECK_FALSE(f.has_contact(attackers_contact));
}

TEST_CASE("runner control channel: results never go to a third party named by a command or a hop") {
  ControlChannelFleet f;
  const std::string third = f.fleet.agent_id(kThird);

  // 1. A stranger's command naming the third party as its anchor.
  auto evil = f.command("noop_ack", json::object(), "evil-redirect");
  evil.anchor_aid = third;
  evil.params["anchor_aid"] = third;
  REQUIRE(f.send(kAttacker, evil));
  REQUIRE(f.wait_result(f.attacker_dms, 15s, [](const runners::Result& r) { return r.command_id == "evil-redirect"; }));

  // 2. The trusted orchestrator's command naming the third party: the result comes to its sender.
  auto named = f.command("noop_ack", json::object(), "trusted-names-third");
  named.anchor_aid = third;
  named.params["anchor_aid"] = third;
  REQUIRE(f.send(kAnchor, named));
  auto ack = f.wait_result(f.anchor_dms, 15s, [](const runners::Result& r) { return r.command_id == "trusted-names-third"; });
  CHECK(ack);

  // 3. A hop from the attacker naming the third party as where to report, then a
  // legacy v0 test DM (reported to "the last anchor"): neither reaches the third party,
  // and the legacy report still goes to the trusted orchestrator.
  REQUIRE(f.dm(kAttacker, runners::encode_hop({"hop-redirect", "tag", third, "body"})));
  REQUIRE(f.dm(kAttacker, runners::encode_legacy_hop({"legacy-after-hop", "dig", "x"})));
  auto legacy = f.wait_result(f.anchor_dms, 15s, [](const runners::Result& r) {
    return r.kind == "received_dm" && r.request_id == "legacy-after-hop";
  });
  CHECK(legacy);

  // Everything above is handled once a later trusted ping is answered (one result queue, in order).
  auto c = f.counters();
  CHECK(c["hop_reports_refused"] == 1);
  auto to_third = results_in(f.third_dms->snapshot());
  for (auto& r : to_third) UNSCOPED_INFO("third party got " << r.to_json().dump());
  CHECK(to_third.empty());
}

TEST_CASE("runner control channel: 40 send_dm to a black hole do not delay a trusted noop_ack, and each ends by its timeout") {
  ControlChannelFleet f("8");
  // Node 3 keeps its connections and answers nothing: every DM to it waits for an ack that never comes.
  auto fault = f.fleet.client(kThird).post("/lean/faults", json{{"stale", true}, {"lease_secs", 120}}.dump());
  REQUIRE(fault.ok());
  const std::string hole = f.fleet.agent_id(kThird);
  std::vector<std::string> ids;
  const auto t0 = Clock::now();
  for (int i = 0; i < 40; ++i) {
    auto c = f.command("send_dm", {{"recipient_aid", hole}, {"payload_b64", base64_encode("into the hole")}},
                       "hole-" + std::to_string(i));
    ids.push_back(c.command_id);
    REQUIRE(f.send(kAnchor, c));
  }
  const auto ping_sent = Clock::now();
  auto ack = f.ping(10s);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - ping_sent);
  INFO("noop_ack answered after " << waited.count() << " ms with 40 black-hole send_dm outstanding");
  REQUIRE(ack);
  CHECK(waited < 3s);

  // Every black-hole command ends with its send_result by the 8 s command timeout (plus delivery).
  bool all_ended = f.anchor_dms->wait_for(
      [&](const std::vector<probes::SseEvent>& events) {
        std::size_t n = 0;
        for (auto& r : results_in(events))
          if (r.kind == "send_result" && r.command_id && r.command_id->rfind("hole-", 0) == 0) ++n;
        return n == ids.size();
      },
      30s);
  const auto took = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0);
  INFO("40 send_result in " << took.count() << " s");
  CHECK(all_ended);
  CHECK(took < 20s);
  for (auto& r : results_in(f.anchor_dms->snapshot()))
    if (r.kind == "send_result" && r.command_id && r.command_id->rfind("hole-", 0) == 0) CHECK_FALSE(r.ok());
  f.fleet.client(kThird).del("/lean/faults");
}

TEST_CASE("runner control channel: a flood of 5,000 commands from a peer stays bounded in results and log size") {
  ControlChannelFleet f;
  const auto log_before = f.runner_log_size();
  constexpr int kFlood = 5000, kThreads = 8;
  std::atomic<int> accepted{0};
  const auto t0 = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        auto client = f.fleet.client(kAttacker);
        for (int i = t; i < kFlood; i += kThreads) {
          auto c = f.command("noop_ack", json::object(), "flood-" + std::to_string(i));
          c.anchor_aid = f.fleet.agent_id(kAttacker);
          auto r = client.post("/direct/send", json{{"agent_id", f.runner_agent},
                                                    {"payload", base64_encode(runners::encode_command_dm(c))}}.dump());
          if (r.ok()) ++accepted;
        }
      });
    for (auto& th : threads) th.join();
  }
  const double flood_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  INFO(accepted.load() << " of " << kFlood << " command DMs taken by the attacker's node in " << flood_secs << " s");
  REQUIRE(accepted > kFlood * 9 / 10);

  // The runner has read the flood once a trusted ping sent behind it is answered,
  // and that answer is prompt: the flood does not clog the queues.
  const auto ping_sent = Clock::now();
  auto pong = f.ping(30s);
  const auto ping_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - ping_sent).count();
  INFO("a trusted noop_ack after the flood was answered in " << ping_ms << " ms");
  REQUIRE(pong);
  CHECK(ping_ms < 3000);

  // Answers to the attacker: its burst plus its rate, not one per command.
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto answered = results_in(f.attacker_dms->snapshot()).size();
  INFO(answered << " answers to the attacker in " << secs << " s");
  CHECK(answered <= static_cast<std::size_t>(50 + 5 * secs + 10));
  // Log lines: throttled, not one (or three) per command.
  const auto grown = f.runner_log_size() - log_before;
  INFO("runner log grew by " << grown << " bytes");
  CHECK(grown < 64 * 1024);

  // Every command DM the runner got is counted as refused or rate limited, none run.
  json c;
  bool counted = eventually([&] {
    c = f.counters();
    return c["commands_refused_untrusted"].get<int>() + c["frames_rate_limited"].get<int>() >= accepted.load();
  }, 60s);
  INFO(c.dump());
  CHECK(counted);
  CHECK(c["commands_accepted"].get<int>() < 20);  // the fixture's discover and pings only
}

TEST_CASE("runner control channel: with no list, the first orchestrator to discover is trusted and another one is told it is refused") {
  ControlChannelFleet f("30", ControlChannelFleet::Trust::first_discover);  // the anchor's discover came first
  auto c = f.counters();
  CHECK(c["trust_mode"] == "trust_on_first_discover");
  CHECK(c["pinned_orchestrator"] == f.fleet.agent_id(kAnchor));

  // A second orchestrator (our own session code, anchored on node 2) cannot discover it.
  auto& other = f.fleet.mesh().nodes()[kAttacker];
  harness::SessionOptions so;
  so.anchor_base_url = other.api_base;
  so.anchor_token = other.token;
  so.nodes = {f.runner_node};
  so.discover = 4s;
  std::vector<std::string> said;
  harness::RunnerSession session(so, [&](const std::string& line) { said.push_back(line); });
  session.discover();
  CHECK(session.missing() == std::vector<std::string>{f.runner_node});
  auto refused = session.bus().snapshot().refused_by;
  CHECK(refused.count(f.runner_node) == 1);
  bool told = std::any_of(said.begin(), said.end(), [&](auto& l) { return l.find("refuses this anchor") != std::string::npos; });
  CHECK(told);
  // The first orchestrator still drives it.
  CHECK(f.ping(5s));
}
