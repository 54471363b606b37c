// Nodes running four I/O threads under heavy publish and DM traffic while
// their connections are dropped and peers are killed and restarted: nothing
// crashes or hangs, and once the churn stops the mesh re-forms and delivers.
// Run it under ThreadSanitizer too (build-tsan): the connections' writes,
// closes and timers then run on four threads at once.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "core/encoding.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using nlohmann::json;

namespace {

struct Endpoint {
  std::string base, token;
};

// Sends until told to stop, counting answers; survives a node being down.
class TrafficLoop {
 public:
  TrafficLoop(std::vector<Endpoint> nodes, std::vector<std::string> agents)
      : nodes_(std::move(nodes)), agents_(std::move(agents)) {}
  ~TrafficLoop() { stop(); }

  void start() {
    for (std::size_t from = 0; from < nodes_.size(); ++from) {
      threads_.emplace_back([this, from] { publish_loop(from); });
      threads_.emplace_back([this, from] { dm_loop(from); });
    }
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }
  std::uint64_t publishes_ok() const { return publishes_ok_; }
  std::uint64_t dms_answered() const { return dms_answered_; }

 private:
  void publish_loop(std::size_t from) {
    std::string payload = base64_encode(std::string(2048, static_cast<char>('a' + from)));
    auto body = json{{"topic", "churn"}, {"payload", payload}}.dump();
    probes::RestClient c(nodes_[from].base, nodes_[from].token, 5s);
    while (!stop_) {
      try {
        if (c.post("/publish", body).status == 200) ++publishes_ok_;
      } catch (const probes::ProbeError&) {
        pause_while_down();  // the node is being restarted
      }
    }
  }
  void dm_loop(std::size_t from) {
    probes::RestClient c(nodes_[from].base, nodes_[from].token, 15s);
    std::size_t k = 0;
    while (!stop_) {
      auto to = (from + 1 + k++ % (nodes_.size() - 1)) % nodes_.size();
      auto body = json{{"agent_id", agents_[to]}, {"payload", base64_encode("dm " + std::to_string(k))}}.dump();
      try {
        c.post("/direct/send", body);  // any answer: 200, or 502/504 while the peer is away
        ++dms_answered_;
      } catch (const probes::ProbeError&) {
        pause_while_down();
      }
    }
  }
  void pause_while_down() {
    // Not a pacing sleep: a refused connection returns at once, so back off
    // a little instead of spinning on a node that is restarting.
    std::this_thread::sleep_for(20ms);
  }

  std::vector<Endpoint> nodes_;
  std::vector<std::string> agents_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> publishes_ok_{0}, dms_answered_{0};
};

std::size_t count_payload(const std::vector<probes::SseEvent>& events, const std::string& payload_b64) {
  std::size_t n = 0;
  for (auto& e : events)
    if (e.event == "message" && json::parse(e.data)["data"]["payload"] == payload_b64) ++n;
  return n;
}

}  // namespace

TEST_CASE("mesh: with io_threads = 4, heavy publish and DM traffic survives connection drops and peer restarts") {
  const std::size_t n = 4;
  TestFleet fleet(n, "[lean]\nio_threads = 4\ndm_ack_timeout_ms = 3000\npeer_send_timeout_ms = 500\n");
  std::vector<Endpoint> endpoints;
  std::vector<std::string> agents;
  for (std::size_t i = 0; i < n; ++i) {
    endpoints.push_back({fleet.mesh().nodes()[i].api_base, fleet.mesh().nodes()[i].token});
    agents.push_back(fleet.agent_id(i));
    fleet.post(i, "/subscribe", {{"topic", "churn"}});
  }
  auto pids_before = std::vector<int>{};
  for (auto& node : fleet.mesh().nodes()) pids_before.push_back(node.pid);

  TrafficLoop traffic(endpoints, agents);
  traffic.start();
  // Churn while the traffic flows: node 1's connections to everyone are
  // dropped again and again (partition armed and cleared), node 3 is killed
  // (SIGKILL) and restarted, node 2 is stopped cleanly and restarted.
  std::vector<std::string> others_of_1;
  for (std::size_t i = 0; i < n; ++i)
    if (i != 1) others_of_1.push_back(fleet.agent_id(i));
  // Each phase lasts until the traffic has moved on by this much.
  auto wait_traffic = [&](std::uint64_t publishes) {
    auto pubs = traffic.publishes_ok() + publishes, dms = traffic.dms_answered() + 10;
    REQUIRE(eventually([&] { return traffic.publishes_ok() >= pubs && traffic.dms_answered() >= dms; }, 60s));
  };
  for (int round = 0; round < 4; ++round) {
    INFO("round " << round);
    wait_traffic(300);
    fleet.post(1, "/lean/faults", {{"partition", others_of_1}, {"lease_secs", 30}});
    REQUIRE(eventually([&] { return fleet.peers(1) == 0; }, 15s));
    wait_traffic(300);
    fleet.client(1).del("/lean/faults");
    fleet.mesh().kill_node(3);
    wait_traffic(300);
    fleet.mesh().restart_node(3);
    wait_traffic(300);
    fleet.mesh().restart_node(2);
    // Drop node 1's connections once more while node 2 is still joining.
    fleet.post(1, "/lean/faults", {{"partition", others_of_1}, {"lease_secs", 30}});
    wait_traffic(100);
    fleet.client(1).del("/lean/faults");
  }
  wait_traffic(300);
  traffic.stop();
  INFO("publishes accepted " << traffic.publishes_ok() << ", DMs answered " << traffic.dms_answered());
  CHECK(traffic.dms_answered() > 0);

  // No crash: the nodes never restarted by the test kept their processes.
  auto& nodes = fleet.mesh().nodes();
  CHECK(nodes[0].running);
  CHECK(nodes[0].pid == pids_before[0]);
  CHECK(nodes[1].running);
  CHECK(nodes[1].pid == pids_before[1]);
  CHECK(fleet.mesh().running_count() == n);
  // Converge again: a full mesh.
  REQUIRE(eventually([&] {
    for (std::size_t i = 0; i < n; ++i)
      if (fleet.peers(i) != n - 1) return false;
    return true;
  }, 30s));

  // And deliver: a fresh topic (restarted nodes lost their subscriptions),
  // one message from every node to every node, exactly once, and all DMs.
  std::vector<probes::SseCollector*> events, inbox;
  for (std::size_t i = 0; i < n; ++i) {
    fleet.post(i, "/subscribe", {{"topic", "after-churn"}});
    events.push_back(&fleet.stream(i, "/events"));
    inbox.push_back(&fleet.stream(i, "/direct/events"));
  }
  std::vector<std::string> payloads;
  for (std::size_t i = 0; i < n; ++i) {
    payloads.push_back(base64_encode("after churn from " + std::to_string(i)));
    CHECK(fleet.post(i, "/publish", {{"topic", "after-churn"}, {"payload", payloads.back()}})["ok"] == true);
  }
  for (std::size_t i = 0; i < n; ++i) {
    INFO("node " << i);
    CHECK(events[i]->wait_for([&](auto& ev) {
      for (auto& p : payloads)
        if (count_payload(ev, p) < 1) return false;
      return true;
    }, 20s));
  }
  for (std::size_t s = 0; s < n; ++s)
    for (std::size_t d = 0; d < n; ++d) {
      if (s == d) continue;
      auto r = fleet.post_raw(s, "/direct/send", {{"agent_id", fleet.agent_id(d)}, {"payload", base64_encode("final")}});
      INFO(s << "->" << d << " " << r.body);
      CHECK(r.status == 200);
    }
  for (std::size_t d = 0; d < n; ++d) {
    INFO("inbox " << d);
    CHECK(inbox[d]->wait_for([&](auto& ev) { return ev.size() >= n - 1; }, 15s));
  }
  // Duplicates would have arrived by now, with the DMs sent after the publishes.
  for (std::size_t i = 0; i < n; ++i)
    for (auto& p : payloads) CHECK(count_payload(events[i]->snapshot(), p) == 1);
  for (std::size_t i = 0; i < n; ++i) CHECK(fleet.get(i, "/health")["ok"] == true);
}
