// Which signed DMs this node has accepted, and from when it accepts any. A DM
// signed outside the freshness window (its ts_ms against our clock) is stale;
// one whose request id was seen is a duplicate — after a restart too: every
// accepted id is appended to a file in the data dir and read back at start,
// so a captured DM replayed to a restarted node is not delivered again.
//
// Memory is bounded: past max_remembered the oldest ids are forgotten and the
// floor rises to their timestamp (nothing signed at or before it is accepted),
// so forgetting never reopens a replay. The file is appended without fsync: it
// survives the process (a crash, a kill, a restart), not a power cut.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>

#include "node/wire.h"

namespace x0x::node {

struct DmReplayOptions {
  std::chrono::milliseconds window{600'000};  // accepted: |now - ts_ms| <= window
  std::size_t max_remembered = 65'536;
};

class DmReplayGuard {
 public:
  // Loads what `file` remembers (missing: nothing; a torn last record is
  // ignored). Throws std::runtime_error naming the file if it cannot be opened
  // for appending.
  DmReplayGuard(std::filesystem::path file, DmReplayOptions opts);
  ~DmReplayGuard();
  DmReplayGuard(const DmReplayGuard&) = delete;
  DmReplayGuard& operator=(const DmReplayGuard&) = delete;

  enum class Verdict { fresh, duplicate, stale };
  // Records a fresh DM. Thread-safe.
  Verdict check(const wire::MsgId& id, std::uint64_t ts_ms, std::uint64_t now_ms);

  std::size_t remembered() const;
  std::uint64_t floor_ms() const;

 private:
  void load();
  void append(const wire::MsgId& id, std::uint64_t ts_ms);
  void compact();

  std::filesystem::path file_;
  DmReplayOptions opts_;
  mutable std::mutex mu_;
  std::map<wire::MsgId, std::uint64_t> seen_;       // id -> ts_ms
  std::multimap<std::uint64_t, wire::MsgId> by_ts_;  // for forgetting the oldest
  std::uint64_t floor_ms_ = 0;
  int fd_ = -1;
  std::size_t records_in_file_ = 0;
};

}  // namespace x0x::node
