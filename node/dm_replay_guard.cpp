#include "node/dm_replay_guard.h"

#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace x0x::node {

namespace {

// A record: the 16-byte request id and its ts_ms (big-endian). The floor is
// stored as a record with an all-0xff id.
constexpr std::size_t kRecord = 16 + 8;
constexpr std::size_t kMaxFileBytes = 64u * 1024 * 1024;

wire::MsgId floor_marker() {
  wire::MsgId id;
  id.fill(0xff);
  return id;
}

std::string record_of(const wire::MsgId& id, std::uint64_t ts) {
  wire::Writer w(kRecord);
  w.fixed(id);
  w.u64(ts);
  return std::move(w.data());
}

bool write_all(int fd, const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

DmReplayGuard::DmReplayGuard(std::filesystem::path file, DmReplayOptions opts) : file_(std::move(file)), opts_(opts) {
  load();
  compact();  // starts the file afresh from what is still worth remembering
}

DmReplayGuard::~DmReplayGuard() {
  if (fd_ >= 0) ::close(fd_);
}

void DmReplayGuard::load() {
  int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;  // nothing remembered yet
  std::string data;
  char buf[65536];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || data.size() + static_cast<std::size_t>(n) > kMaxFileBytes) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto marker = floor_marker();
  for (std::size_t off = 0; off + kRecord <= data.size(); off += kRecord) {  // a torn tail is skipped
    wire::Reader r(std::string_view(data).substr(off, kRecord));
    auto id = r.fixed<16>();
    auto ts = r.u64();
    if (id == marker) {
      floor_ms_ = std::max(floor_ms_, ts);
    } else if (seen_.emplace(id, ts).second) {
      by_ts_.emplace(ts, id);
    }
  }
  while (seen_.size() > opts_.max_remembered) {
    auto oldest = by_ts_.begin();
    floor_ms_ = std::max(floor_ms_, oldest->first);
    seen_.erase(oldest->second);
    by_ts_.erase(oldest);
  }
}

// Rewrites the file as the floor and the remembered ids (the project's one
// atomic replace), then appends to it.
void DmReplayGuard::compact() {
  std::string all = record_of(floor_marker(), floor_ms_);
  for (auto& [ts, id] : by_ts_) all += record_of(id, ts);
  write_file_atomically(file_, all, 0600);  // throws naming the file
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd_ < 0) throw std::runtime_error(file_.string() + ": cannot open the DM replay record: " + std::strerror(errno));
  records_in_file_ = 1 + by_ts_.size();
}

void DmReplayGuard::append(const wire::MsgId& id, std::uint64_t ts_ms) {
  // A failed append costs protection across a restart, not delivery now.
  if (fd_ >= 0 && write_all(fd_, record_of(id, ts_ms))) records_in_file_++;
}

DmReplayGuard::Verdict DmReplayGuard::check(const wire::MsgId& id, std::uint64_t ts_ms, std::uint64_t now_ms) {
  auto window = static_cast<std::uint64_t>(opts_.window.count());
  if ((ts_ms > now_ms ? ts_ms - now_ms : now_ms - ts_ms) > window) return Verdict::stale;
  std::lock_guard lk(mu_);
  if (seen_.count(id)) return Verdict::duplicate;
  if (ts_ms <= floor_ms_) return Verdict::stale;
  seen_.emplace(id, ts_ms);
  by_ts_.emplace(ts_ms, id);
  append(id, ts_ms);
  bool forgot = false;
  while (seen_.size() > opts_.max_remembered) {
    auto oldest = by_ts_.begin();
    floor_ms_ = std::max(floor_ms_, oldest->first);
    seen_.erase(oldest->second);
    by_ts_.erase(oldest);
    forgot = true;
  }
  if (forgot && records_in_file_ > 2 * seen_.size() + 4096) {
    try {
      compact();
    } catch (const std::exception&) {
      // keep appending to the old file; the next compaction tries again
    }
  }
  return Verdict::fresh;
}

std::size_t DmReplayGuard::remembered() const {
  std::lock_guard lk(mu_);
  return seen_.size();
}

std::uint64_t DmReplayGuard::floor_ms() const {
  std::lock_guard lk(mu_);
  return floor_ms_;
}

}  // namespace x0x::node
