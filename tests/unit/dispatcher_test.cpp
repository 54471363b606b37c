#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "node/dispatcher.h"

using namespace x0x::node;
using namespace std::chrono_literals;

namespace {
InboundFrame pub() {
  InboundFrame f;
  f.type = wire::FrameType::pub;
  f.peer_machine_id = std::string(64, 'c');
  return f;
}
template <class Pred>
bool eventually(Pred p, std::chrono::milliseconds limit = 5000ms) {
  auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (p()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return p();
}
}  // namespace

TEST_CASE("dispatcher: every dequeued frame is completed once by the worker pool") {
  RecvPump pump(1000, 10, 10);
  StallGate stall;
  std::atomic<int> handled{0};
  std::array<Dispatcher::StreamSetup, 3> setup{{{4, 1000ms}, {1, 1000ms}, {1, 1000ms}}};
  Dispatcher d(pump, [&](InboundFrame&) { handled++; }, setup, stall);
  d.start();
  for (int i = 0; i < 500; ++i) REQUIRE(pump.push(pub()) == RecvQueue::Push::enqueued);
  REQUIRE(eventually([&] { return d.counters(wire::Stream::pubsub).completed.load() == 500; }));
  CHECK(handled == 500);
  CHECK(d.counters(wire::Stream::pubsub).received == 500);
  CHECK(d.counters(wire::Stream::pubsub).timed_out == 0);
  auto j = d.to_json();
  CHECK(j["pubsub_workers"] == 4);
  pump.close();
  d.stop();
}

TEST_CASE("dispatcher: a stalled dispatcher times frames out once their watchdog runs out") {
  RecvPump pump(1000, 10, 10);
  StallGate stall;
  std::atomic<int> handled{0};
  std::array<Dispatcher::StreamSetup, 3> setup{{{1, 50ms}, {1, 1000ms}, {1, 1000ms}}};
  Dispatcher d(pump, [&](InboundFrame&) { handled++; }, setup, stall);
  d.start();
  stall.set(true);
  for (int i = 0; i < 3; ++i) pump.push(pub());
  REQUIRE(eventually([&] { return d.counters(wire::Stream::pubsub).timed_out.load() == 3; }));
  CHECK(handled == 0);
  stall.set(false);
  pump.push(pub());
  REQUIRE(eventually([&] { return d.counters(wire::Stream::pubsub).completed.load() == 1; }));
  CHECK(handled == 1);
  pump.close();
  d.stop();
}

TEST_CASE("dispatcher: a slow handler counts as timed_out, not completed") {
  RecvPump pump(10, 10, 10);
  StallGate stall;
  std::array<Dispatcher::StreamSetup, 3> setup{{{1, 20ms}, {1, 1000ms}, {1, 1000ms}}};
  Dispatcher d(pump, [&](InboundFrame&) { std::this_thread::sleep_for(40ms); }, setup, stall);
  d.start();
  pump.push(pub());
  REQUIRE(eventually([&] { return d.counters(wire::Stream::pubsub).timed_out.load() == 1; }));
  CHECK(d.counters(wire::Stream::pubsub).completed == 0);
  CHECK(d.counters(wire::Stream::pubsub).max_elapsed_ms >= 40);
  pump.close();
  d.stop();
}
