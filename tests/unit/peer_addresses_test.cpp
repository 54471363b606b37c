#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "node/peer_addresses.h"

using namespace x0x::node;
using namespace std::chrono_literals;

namespace {
auto never_skip = [](const std::string&) { return false; };
std::string addr(int i) { return "127.0.0.1:" + std::to_string(10000 + i); }
}  // namespace

TEST_CASE("peer addresses: the set is bounded, bootstrap addresses always fit") {
  PeerAddressBook book({.max_addresses = 3});
  auto t = Clock::now();
  for (int i = 0; i < 5; ++i) book.learn(addr(i), false, t);
  CHECK(book.size() == 3);
  CHECK(book.learn(addr(9), false, t) == PeerAddressBook::Learned::refused_full);
  CHECK(book.learn(addr(0), false, t) == PeerAddressBook::Learned::known);
  CHECK(book.learn("127.0.0.1:1", true, t) == PeerAddressBook::Learned::added);
  CHECK(book.stats_json()["refused_full"] == 3);
}

TEST_CASE("peer addresses: dials stay within the budget, the rest wait for it") {
  PeerAddressBook book({.max_addresses = 1000, .dials_per_sec = 10, .dial_burst = 5});
  auto t = Clock::now();
  for (int i = 0; i < 100; ++i) book.learn(addr(i), false, t);
  CHECK(book.take_due(t, never_skip).size() == 5);   // the burst
  CHECK(book.take_due(t, never_skip).empty());       // nothing left this instant
  CHECK(book.take_due(t + 1s, never_skip).size() == 5);  // 10/s refills, capped at the burst
  CHECK(book.take_due(t + 1100ms, never_skip).size() == 1);
}

TEST_CASE("peer addresses: a failing address backs off exponentially and is forgotten if it never answered") {
  PeerAddressBook book({.max_addresses = 10, .dials_per_sec = 1000, .dial_burst = 1000, .first_retry = 1000ms,
                        .max_retry = 8000ms, .forget_unanswered_after = 4, .forget_answered_after = 100});
  auto t = Clock::now();
  book.learn(addr(1), false, t);
  book.learn(addr(2), true, t);  // bootstrap: kept whatever happens
  std::vector<Clock::duration> waits;
  for (int round = 0; round < 3; ++round) {
    auto due = book.take_due(t, never_skip);
    REQUIRE(due.size() == 2);
    for (auto& a : due) book.dial_failed(a, t);
    // Not due again right away; due within the jittered back-off (1 s, 2 s, 4 s ±25 %).
    CHECK(book.take_due(t + 700ms * (1 << round), never_skip).empty());
    t += 1250ms * (1 << round) + 1ms;
  }
  auto due = book.take_due(t, never_skip);
  REQUIRE(due.size() == 2);
  for (auto& a : due) book.dial_failed(a, t);
  CHECK_FALSE(book.contains(addr(1)));  // four failures, never answered
  CHECK(book.contains(addr(2)));
  CHECK(book.stats_json()["forgotten"] == 1);
}

TEST_CASE("peer addresses: an address being dialled or skipped is not handed out, and a lost link is dialled again at once") {
  PeerAddressBook book;
  auto t = Clock::now();
  book.learn(addr(1), false, t);
  book.learn(addr(2), false, t);
  auto due = book.take_due(t, [](const std::string& a) { return a == addr(2); });  // connected already
  REQUIRE(due == std::vector<std::string>{addr(1)});
  CHECK(book.take_due(t + 10s, [](const std::string& a) { return a == addr(2); }).empty());  // still dialling
  book.answered(addr(1));
  book.dial_failed(addr(1), t);  // a later failure after it had answered: backs off, not forgotten
  book.lost(addr(1), t + 1s);
  CHECK(book.take_due(t + 1s, never_skip).size() == 2);
}

TEST_CASE("peer addresses: a proven peer's address always fits, pushing out an address that never answered") {
  PeerAddressBook book({.max_addresses = 3});
  auto t = Clock::now();
  book.learn(addr(1), true, t);  // bootstrap
  book.learn(addr(2), false, t);
  book.learn(addr(3), false, t);
  for (auto& a : book.take_due(t, never_skip)) a == addr(3) ? book.dial_failed(a, t) : book.answered(a);
  CHECK(book.learn(addr(9), false, t) == PeerAddressBook::Learned::refused_full);  // junk from peer exchange: no room
  book.learn_proven(addr(9), t);  // a peer that completed a handshake announces it
  CHECK(book.contains(addr(9)));
  CHECK_FALSE(book.contains(addr(3)));  // the one that never answered made room
  CHECK(book.contains(addr(1)));
  CHECK(book.contains(addr(2)));
  CHECK(book.size() == 3);
}
