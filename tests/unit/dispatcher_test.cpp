#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
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
  // Counted by the watchdog at 20 ms; the elapsed time once the handler returns.
  REQUIRE(eventually([&] { return d.counters(wire::Stream::pubsub).max_elapsed_ms.load() >= 40; }));
  CHECK(d.counters(wire::Stream::pubsub).completed == 0);
  CHECK(d.counters(wire::Stream::pubsub).timed_out == 1);
  pump.close();
  d.stop();
}

TEST_CASE("dispatcher: a handler stuck past its watchdog is counted timed_out when the watchdog runs out, and only once") {
  RecvPump pump(10, 10, 10);
  StallGate stall;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> inside{0}, returned{0};
  std::array<Dispatcher::StreamSetup, 3> setup{{{1, 50ms}, {1, 1000ms}, {1, 1000ms}}};
  Dispatcher d(pump, [&](InboundFrame& f) {
    if (f.body == "stuck") {
      inside++;
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return release; });
    }
    returned++;
  }, setup, stall);
  d.start();
  auto release_handler = [&] {
    {
      std::lock_guard lk(mu);
      release = true;
    }
    cv.notify_all();
  };
  // Released on every way out, so a failed REQUIRE cannot leave d's worker stuck.
  struct Guard {
    std::function<void()> f;
    ~Guard() { f(); }
  } guard{release_handler};
  InboundFrame stuck = pub();
  stuck.body = "stuck";
  pump.push(stuck);
  auto& c = d.counters(wire::Stream::pubsub);
  // Counted while the handler is still inside: received no longer exceeds
  // completed + timed_out once the watchdog has given up on the frame.
  REQUIRE(eventually([&] { return c.timed_out.load() == 1; }));
  CHECK(inside == 1);
  CHECK(returned == 0);
  CHECK(c.received == 1);
  CHECK(c.completed == 0);
  release_handler();
  REQUIRE(eventually([&] { return returned.load() == 1; }));
  pump.push(pub());  // the worker is free again; this one completes
  REQUIRE(eventually([&] { return c.completed.load() == 1; }));
  CHECK(c.timed_out == 1);  // the late return of the stuck handler counted nothing
  CHECK(c.received == 2);
  CHECK(c.received == c.completed + c.timed_out);
  pump.close();
  d.stop();
}

TEST_CASE("dispatcher: received is counted with the dequeue, so an empty queue and received == completed + timed_out means nothing is pending") {
  RecvPump pump(100000, 10, 10);
  StallGate stall;
  std::atomic<std::uint64_t> handled{0};
  std::array<Dispatcher::StreamSetup, 3> setup{{{1, 10000ms}, {1, 1000ms}, {1, 1000ms}}};
  Dispatcher d(pump, [&](InboundFrame&) { handled++; }, setup, stall);
  d.start();
  std::atomic<std::uint64_t> pushed{0};
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < 200000; ++i) {
      if (pump.push(pub()) == RecvQueue::Push::enqueued) pushed++;
      if (i % 64 == 0) std::this_thread::yield();
    }
    done = true;
  });
  auto& q = pump.queue(wire::Stream::pubsub);
  auto& c = d.counters(wire::Stream::pubsub);
  std::uint64_t false_quiet = 0, quiet = 0, backwards = 0;
  while (!done || handled.load() < pushed.load()) {
    // The reader's order (diagnostics.cpp): pushed, queue depth, outcomes, received.
    auto p = pushed.load();
    auto depth = q.depth();
    auto outcomes = c.completed.load() + c.timed_out.load();
    auto got = c.received.load();
    if (got < outcomes) ++backwards;
    if (depth == 0 && got == outcomes) {
      ++quiet;
      // Quiet: every frame pushed before the depth read has been handled.
      if (handled.load() < p) ++false_quiet;
    }
  }
  producer.join();
  INFO("quiet readings: " << quiet);
  CHECK(false_quiet == 0);
  CHECK(backwards == 0);
  pump.close();
  d.stop();
}

TEST_CASE("dispatcher: recv_depth.latest is the queue's depth now, also behind a stalled worker") {
  RecvPump pump(100, 10, 10);
  StallGate stall;
  std::array<Dispatcher::StreamSetup, 3> setup{{{1, 10000ms}, {1, 1000ms}, {1, 1000ms}}};
  Dispatcher d(pump, [&](InboundFrame&) {}, setup, stall);
  d.start();
  pump.push(pub());
  REQUIRE(eventually([&] { return d.counters(wire::Stream::pubsub).completed.load() == 1; }));
  CHECK(d.to_json()["recv_depth"]["pubsub"]["latest"] == 0);
  stall.set(true);
  pump.push(pub());
  REQUIRE(eventually([&] { return d.counters(wire::Stream::pubsub).received.load() == 2; }));
  // One frame is held by the stalled worker; three queue behind it with no
  // dequeue after them.
  for (int i = 0; i < 3; ++i) pump.push(pub());
  auto j = d.to_json();
  CHECK(j["recv_depth"]["pubsub"]["latest"] == 3);
  CHECK(pump.to_json()["pubsub"]["latest_depth"] == 3);
  CHECK(j["pubsub"]["received"].get<int>() > j["pubsub"]["completed"].get<int>() + j["pubsub"]["timed_out"].get<int>());
  stall.set(false);
  REQUIRE(eventually([&] { return d.counters(wire::Stream::pubsub).completed.load() == 5; }));
  j = d.to_json();
  CHECK(j["recv_depth"]["pubsub"]["latest"] == 0);
  CHECK(j["pubsub"]["received"] == 5);
  pump.close();
  d.stop();
}
