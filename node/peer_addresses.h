// The addresses this node may dial — its bootstrap list and what peer exchange
// taught it — with a back-off per address and one dial budget for the node.
// A PEERS frame naming thousands of addresses costs a bounded set and a few
// dials a second; addresses that never answered are forgotten. Not
// thread-safe: the mesh calls it under its lock, with the time.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "node/metrics.h"

namespace x0x::node {

struct AddressBookLimits {
  std::size_t max_addresses = 1024;
  double dials_per_sec = 20;
  double dial_burst = 64;  // a node joining a fleet dials every member at once
  std::chrono::milliseconds first_retry{2000}, max_retry{60'000};
  unsigned forget_unanswered_after = 5;  // failed dials of an address that never answered
  unsigned forget_answered_after = 60;   // ...and of one that did (about an hour at max_retry)
};

class PeerAddressBook {
 public:
  explicit PeerAddressBook(AddressBookLimits limits = {}) : limits_(limits) {}

  enum class Learned { added, known, refused_full };
  // Bootstrap addresses are never forgotten and never refused for space.
  Learned learn(const std::string& addr, bool bootstrap, Clock::time_point now);

  // The addresses to dial now: due, not already being dialled, not skipped
  // (connected, ourselves, partitioned), within the budget; addresses that
  // answered or were vouched for first, then the oldest due.
  // They count as being dialled until answered() or dial_failed().
  std::vector<std::string> take_due(Clock::time_point now, const std::function<bool(const std::string&)>& skip);

  void answered(const std::string& addr);  // a handshake completed on it
  // The address a peer that completed a handshake announces: always kept (when
  // the set is full, an address nobody vouched for makes room) and dialled
  // ahead of such addresses, so a flood of junk cannot cost the node its real
  // peers' redials. Still a claim: it is forgotten like any address that never
  // answered our own dial.
  void learn_proven(const std::string& addr, Clock::time_point now);
  void dial_failed(const std::string& addr, Clock::time_point now);
  void lost(const std::string& addr, Clock::time_point now);  // an established link went down: dial again soon

  bool contains(const std::string& addr) const { return entries_.count(addr) != 0; }
  std::size_t size() const { return entries_.size(); }
  nlohmann::json stats_json() const;

 private:
  struct Entry {
    bool bootstrap = false, answered_once = false, dialing = false;
    bool vouched = false;  // announced by a peer that completed a handshake
    unsigned failures = 0;  // in a row
    Clock::time_point next_attempt{};
  };
  AddressBookLimits limits_;
  std::map<std::string, Entry> entries_;
  double tokens_ = -1;  // the dial budget; full on first use
  Clock::time_point refilled_{};
  std::uint64_t dials_ = 0, failures_ = 0, forgotten_ = 0, refused_full_ = 0, deferred_ = 0, evicted_ = 0;
};

}  // namespace x0x::node
