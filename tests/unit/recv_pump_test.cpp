#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "node/recv_pump.h"

using namespace x0x::node;
using wire::FrameType;
using wire::Stream;

namespace {
InboundFrame frame(FrameType t, std::string peer = std::string(64, 'a')) {
  InboundFrame f;
  f.type = t;
  f.body = std::string(1, 'x');
  f.peer_machine_id = std::move(peer);
  return f;
}
}  // namespace

TEST_CASE("recv pump: PubSub try-push drops when full and accounts for every frame") {
  RecvPump pump(4, 4, 4);
  int enq = 0, dropped = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = pump.push(frame(FrameType::pub));
    (r == RecvQueue::Push::enqueued ? enq : dropped)++;
  }
  CHECK(enq == 4);
  CHECK(dropped == 6);
  auto j = pump.to_json();
  CHECK(j["pubsub"]["produced_total"] == 10);
  CHECK(j["pubsub"]["enqueued_total"] == 4);
  CHECK(j["pubsub"]["dropped_full"] == 6);
  CHECK(j["pubsub"]["produced_total"].get<int>() ==
        j["pubsub"]["enqueued_total"].get<int>() + j["pubsub"]["dropped_full"].get<int>());
  CHECK(j["per_peer"][std::string(64, 'a')]["pubsub_dropped_full"] == 6);
  for (int i = 0; i < 4; ++i) REQUIRE(pump.queue(Stream::pubsub).pop(std::chrono::milliseconds(10)));
  j = pump.to_json();
  CHECK(j["pubsub"]["dequeued_total"] == 4);
  CHECK(j["pubsub"]["latest_depth"] == 0);
  CHECK(j["pubsub"]["max_depth"] == 4);
}

TEST_CASE("recv pump: recoverable PubSub frames are shed above 90% to keep room for data") {
  RecvPump pump(10, 4, 4);
  for (int i = 0; i < 9; ++i) REQUIRE(pump.push(frame(FrameType::pub)) == RecvQueue::Push::enqueued);
  CHECK(pump.push(frame(FrameType::ihave)) == RecvQueue::Push::shed_priority);
  CHECK(pump.push(frame(FrameType::pub)) == RecvQueue::Push::enqueued);
  auto c = pump.queue(Stream::pubsub).counters();
  CHECK(c.shed_priority == 1);
  CHECK(c.dropped_full == 0);
}

TEST_CASE("recv pump: membership and bulk never drop — the producer waits for space") {
  RecvPump pump(4, 2, 2);
  REQUIRE(pump.push(frame(FrameType::ping)) == RecvQueue::Push::enqueued);
  REQUIRE(pump.push(frame(FrameType::ping)) == RecvQueue::Push::enqueued);
  bool woken = false;
  CHECK(pump.push(frame(FrameType::ping), [&] { woken = true; }) == RecvQueue::Push::must_wait);
  CHECK_FALSE(woken);
  REQUIRE(pump.queue(Stream::membership).pop(std::chrono::milliseconds(10)));
  CHECK(woken);
  CHECK(pump.push(frame(FrameType::ping)) == RecvQueue::Push::enqueued);
  auto c = pump.queue(Stream::membership).counters();
  CHECK(c.dropped_full == 0);
  CHECK(c.produced == 3);  // the refused attempt is counted once, when it lands
}

TEST_CASE("recv pump: a closed queue refuses and counts dropped_closed") {
  RecvPump pump(4, 4, 4);
  pump.close();
  CHECK(pump.push(frame(FrameType::dm)) == RecvQueue::Push::closed);
  CHECK(pump.queue(Stream::bulk).counters().dropped_closed == 1);
  CHECK_FALSE(pump.queue(Stream::bulk).pop(std::chrono::milliseconds(1)));
}
