// The gossip engine's timers and send accounting, with a recording transport
// instead of the mesh: IHAVE batches leave after lazy_flush, GRAFT+IWANT after
// graft_timeout, and a batch names every topic it announces.
#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/blake3.h"
#include "node/deadline_timer.h"
#include "node/gossip.h"

using namespace x0x::node;
using namespace std::chrono_literals;
using wire::FrameType;

namespace {

Identity test_identity() {
  Identity id;
  id.machine = KeyPair::generate();
  id.agent = KeyPair::generate();
  id.machine_id = derive_machine_id(id.machine.pk);
  id.agent_id = derive_agent_id(id.agent.pk);
  return id;
}

struct Sent {
  Clock::time_point at;
  std::string peer;
  FrameType type;
  std::string body;
  SendMeta meta;
};

// Records what gossip sends; thread-safe, with a condition to wait on.
class Recorder {
 public:
  GossipSend sender() {
    return [this](const std::string& peer, FrameType t, std::string body, SendMeta meta) {
      {
        std::lock_guard lk(mu_);
        sent_.push_back({Clock::now(), peer, t, std::move(body), std::move(meta)});
      }
      cv_.notify_all();
      return true;
    };
  }
  std::vector<Sent> of(FrameType t) {
    std::lock_guard lk(mu_);
    std::vector<Sent> out;
    for (auto& s : sent_)
      if (s.type == t) out.push_back(s);
    return out;
  }
  // Waits until `n` frames of type t were sent; false at the deadline.
  bool wait_count(FrameType t, std::size_t n, std::chrono::milliseconds limit) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] {
      return static_cast<std::size_t>(std::count_if(sent_.begin(), sent_.end(), [&](auto& s) { return s.type == t; })) >= n;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sent> sent_;
};

GossipTuning one_eager(std::chrono::milliseconds lazy_flush, std::chrono::milliseconds graft_timeout) {
  GossipTuning t;
  t.eager_target = 1;  // with two peers: one eager, one lazy
  t.lazy_flush = lazy_flush;
  t.graft_timeout = graft_timeout;
  t.anti_entropy_interval = 3600s;  // keep digests out of the recordings
  t.housekeeping = 10s;             // so only a wake can bring a deadline forward
  return t;
}

InboundFrame ihave_from(const std::string& peer, const wire::MsgId& id, const std::string& topic) {
  InboundFrame f;
  f.type = FrameType::ihave;
  f.body = wire::encode_ihave({{id, topic}});
  f.peer_machine_id = peer;
  return f;
}

wire::MsgId msg_id(std::uint8_t n) {
  wire::MsgId id{};
  id.fill(n);
  return id;
}

const std::string kPeerA(64, 'a'), kPeerB(64, 'b');

}  // namespace

TEST_CASE("gossip: an IHAVE batch is held for lazy_flush after its first entry, and tick says when that is") {
  auto id = test_identity();
  Recorder rec;
  Gossip g(rec.sender(), id, one_eager(50ms, 250ms), [](auto&, auto&) {});
  std::vector<Clock::time_point> wakes;
  g.set_wake([&](Clock::time_point due) { wakes.push_back(due); });
  g.on_peer_up(kPeerA);
  g.on_peer_up(kPeerB);
  auto t0 = Clock::now();
  g.tick(t0);  // the driver's first tick plans the next one
  auto before = Clock::now();
  g.publish("t", "hello");
  auto after = Clock::now();
  REQUIRE(rec.of(FrameType::pub).size() == 1);
  auto lazy_peer = rec.of(FrameType::pub)[0].peer == kPeerA ? kPeerB : kPeerA;
  CHECK(g.pending_sends() == 1);
  // The driver planned housekeeping later than the flush: it is woken for it.
  REQUIRE(wakes.size() == 1);
  CHECK(wakes[0] >= before + 50ms);
  CHECK(wakes[0] <= after + 50ms);

  auto next = g.tick(before + 49ms);
  CHECK(rec.of(FrameType::ihave).empty());  // not yet: the batch is still open
  CHECK(next <= after + 50ms);
  g.publish("t", "second, same batch");
  CHECK(wakes.size() == 1);  // no new wake: the flush is already planned
  g.tick(after + 50ms);
  auto ihave = rec.of(FrameType::ihave);
  REQUIRE(ihave.size() == 1);
  CHECK(ihave[0].peer == lazy_peer);
  CHECK(wire::decode_ihave(ihave[0].body).size() == 2);
  CHECK(g.pending_sends() == 0);
}

TEST_CASE("gossip: an announced message that does not arrive is grafted after graft_timeout, not before") {
  auto id = test_identity();
  Recorder rec;
  Gossip g(rec.sender(), id, one_eager(50ms, 250ms), [](auto&, auto&) {});
  std::vector<Clock::time_point> wakes;
  g.set_wake([&](Clock::time_point due) { wakes.push_back(due); });
  g.on_peer_up(kPeerA);
  auto t0 = Clock::now();
  g.tick(t0);
  auto before = Clock::now();
  g.handle(ihave_from(kPeerA, msg_id(7), "t"));
  REQUIRE(wakes.size() == 1);
  CHECK(wakes[0] >= before + 250ms);
  auto next = g.tick(before + 249ms);
  CHECK(rec.of(FrameType::graft).empty());
  CHECK(next <= Clock::now() + 250ms);
  g.tick(Clock::now() + 250ms);
  REQUIRE(rec.of(FrameType::graft).size() == 1);
  auto iwant = rec.of(FrameType::iwant);
  REQUIRE(iwant.size() == 1);
  CHECK(iwant[0].peer == kPeerA);
  CHECK(wire::decode_ids(iwant[0].body) == std::vector<wire::MsgId>{msg_id(7)});
}

TEST_CASE("gossip: a mixed-topic IHAVE batch names every topic it carries for send timeouts and cooling") {
  auto id = test_identity();
  Recorder rec;
  auto tuning = one_eager(50ms, 250ms);
  tuning.eager_target = 1;
  Gossip g(rec.sender(), id, tuning, [](auto&, auto&) {});
  g.on_peer_up(kPeerA);
  g.on_peer_up(kPeerB);
  auto t0 = Clock::now();
  g.tick(t0);
  // Publish on topics until kPeerA is lazy for two of them.
  std::vector<std::string> lazy_topics;
  for (int i = 0; i < 64 && lazy_topics.size() < 2; ++i) {
    auto topic = "topic-" + std::to_string(i);
    auto pubs_before = rec.of(FrameType::pub).size();
    g.publish(topic, "x");
    auto pubs = rec.of(FrameType::pub);
    REQUIRE(pubs.size() == pubs_before + 1);
    if (pubs.back().peer == kPeerB) lazy_topics.push_back(topic);
  }
  REQUIRE(lazy_topics.size() == 2);
  g.tick(Clock::now() + 1s);
  std::vector<Sent> to_a;
  for (auto& s : rec.of(FrameType::ihave))
    if (s.peer == kPeerA) to_a.push_back(s);
  REQUIRE(to_a.size() == 1);
  CHECK(to_a[0].meta.track_timeout);
  // Both, once each; sorted apart because the lazy ones may be e.g. topic-7 and
  // topic-14, whose string order is not their publish order.
  auto topics = to_a[0].meta.topics;
  std::sort(topics.begin(), topics.end());
  std::sort(lazy_topics.begin(), lazy_topics.end());
  CHECK(topics == lazy_topics);

  // The mesh reports a late batch once per topic it names: five late batches
  // cool kPeerA for each of the topics, not only for the first.
  for (int i = 0; i < 5; ++i)
    for (auto& t : to_a[0].meta.topics) g.on_send_result(kPeerA, t, true);
  auto j = g.stages_json();
  std::vector<std::string> cooled;
  for (auto& row : j["suppressed_peers"]) cooled.push_back(row["topic"]);
  std::sort(cooled.begin(), cooled.end());
  std::vector<std::string> expected{x0x::topic_id16(lazy_topics[0]), x0x::topic_id16(lazy_topics[1])};
  std::sort(expected.begin(), expected.end());
  CHECK(cooled == expected);
}

// Real time: the node's driver (a DeadlineTimer on an io_context) must honour
// the configured values, not round them to a fixed tick period.
TEST_CASE("gossip: driven by its deadline timer, IHAVE leaves within lazy_flush and GRAFT after graft_timeout") {
  const auto lazy_flush = 50ms, graft_timeout = 250ms;
  const auto slack = 100ms;  // generous for a loaded machine; a 200 ms tick period misses it
  auto id = test_identity();
  Recorder rec;
  Gossip g(rec.sender(), id, one_eager(lazy_flush, graft_timeout), [](auto&, auto&) {});
  g.on_peer_up(kPeerA);
  g.on_peer_up(kPeerB);

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  DeadlineTimer timer(io, [&](Clock::time_point now) { return g.tick(now); });
  g.set_wake([&](Clock::time_point due) { timer.run_by(due); });
  std::thread loop([&] { io.run(); });
  timer.run_by(Clock::now());

  for (std::size_t k = 1; k <= 8; ++k) {
    INFO("publish " << k);
    auto start = Clock::now();
    g.publish("timed", "m" + std::to_string(k));
    REQUIRE(rec.wait_count(FrameType::ihave, k, 5s));
    auto took = rec.of(FrameType::ihave).back().at - start;
    CHECK(took >= lazy_flush - 1ms);
    CHECK(took <= lazy_flush + slack);
  }
  for (std::uint8_t k = 1; k <= 4; ++k) {
    INFO("announcement " << int(k));
    auto start = Clock::now();
    g.handle(ihave_from(kPeerA, msg_id(k), "timed"));
    REQUIRE(rec.wait_count(FrameType::iwant, k, 5s));
    auto took = rec.of(FrameType::iwant).back().at - start;
    CHECK(took >= graft_timeout);
    CHECK(took <= graft_timeout + slack);
    CHECK(rec.of(FrameType::graft).size() == k);
  }
  timer.stop();
  work.reset();
  io.stop();
  loop.join();
}

TEST_CASE("gossip: a cooled peer that the tree made lazy gets its recovery probe after the cooldown, and recovers") {
  auto id = test_identity();
  Recorder rec;
  auto tuning = one_eager(50ms, 250ms);
  tuning.cooling.cooldown = 100ms;
  Gossip g(rec.sender(), id, tuning, [](auto&, auto&) {});
  g.on_peer_up(kPeerA);
  g.on_peer_up(kPeerB);
  g.tick(Clock::now());
  g.publish("t", "first");
  auto pubs = rec.of(FrameType::pub);
  REQUIRE(pubs.size() == 1);
  const auto eager_peer = pubs[0].peer;
  // Five late sends cool the eager peer for "t"; cooling prunes it to lazy.
  for (int i = 0; i < 5; ++i) g.on_send_result(eager_peer, "t", true);
  auto suppressed = [&] { return g.stages_json()["suppressed_peers"].size(); };
  REQUIRE(suppressed() == 1);
  // While it cools, nothing is pushed to it eagerly.
  g.publish("t", "while cooling");
  for (auto& s : rec.of(FrameType::pub))
    if (s.body != pubs[0].body) CHECK(s.peer != eager_peer);
  // After the cooldown the next message probes it eagerly; a timely send ends the episode.
  g.tick(Clock::now() + 200ms);
  auto before = rec.of(FrameType::pub).size();
  g.publish("t", "probe");
  auto after = rec.of(FrameType::pub);
  REQUIRE(after.size() > before);
  bool probed = false;
  for (std::size_t i = before; i < after.size(); ++i) probed = probed || after[i].peer == eager_peer;
  CHECK(probed);
  g.on_send_result(eager_peer, "t", false);
  CHECK(suppressed() == 0);
}
