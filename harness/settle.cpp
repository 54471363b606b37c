#include "harness/settle.h"

#include <thread>

#include "gates/quiescence.h"
#include "harness/snapshots.h"

namespace x0x::harness {

using Clock = std::chrono::steady_clock;

std::map<std::string, gates::RawSnapshot> settle_window(const std::vector<NodeApi>& nodes, const SettleOptions& opts,
                                                        gates::WindowSettle& record) {
  record = {};
  record.recorded = true;
  record.min_secs = opts.bounds.min_secs;
  record.max_secs = opts.bounds.max_secs;
  const auto t0 = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto interrupted = [&] { return opts.interrupted && opts.interrupted->load(); };
  int quiet_in_a_row = 0;
  std::map<std::string, gates::RawSnapshot> snaps;
  decltype(record.pending) before;  // the previous poll's
  while (true) {
    auto poll_started = Clock::now();
    snaps = take_snapshots(nodes, opts.request_timeout);
    record.polls++;
    before = std::move(record.pending);
    record.pending.clear();
    for (auto& [node, snap] : snaps)
      if (auto why = gates::pending_work(snap); !why.empty()) record.pending[node] = std::move(why);
    quiet_in_a_row = record.pending.empty() ? quiet_in_a_row + 1 : 0;
    if (quiet_in_a_row >= 2 && elapsed() >= opts.bounds.min_secs) {
      record.settled = true;
      break;
    }
    if (elapsed() >= opts.bounds.max_secs || interrupted()) {
      // Named: the nodes pending on the last two polls. A healthy node that
      // had one frame in its queue at the last instant (a digest, on a loaded
      // machine) is not stuck; unless that leaves no one to name.
      decltype(record.pending) stuck;
      for (auto& [node, why] : record.pending)
        if (before.count(node)) stuck[node] = why;
      if (!stuck.empty()) record.pending = std::move(stuck);
      break;
    }
    // The next poll at the poll interval, and not after max (nor before min when already quiet).
    auto next = poll_started + opts.poll;
    auto limit = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts.bounds.max_secs));
    if (quiet_in_a_row >= 2)  // quiet, waiting for min: the last poll just before min counts
      next = std::max(next, t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts.bounds.min_secs)));
    next = std::min(next, limit);
    while (Clock::now() < next && !interrupted()) std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), next - Clock::now()));
  }
  record.waited_secs = elapsed();
  return snaps;
}

}  // namespace x0x::harness
