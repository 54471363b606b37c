// A soak of record holds its fleet: while `x0xctl soak` runs against an
// inventory, every destructive act on that inventory (chaos faults and
// restarts, the gate's destructive scenarios) is refused, so a fault cannot
// land inside a certification run (spec gates-and-proofs.md §9.1 item 7). The
// lock is a file beside the inventory, `<fleet.toml>.soak-lock`, naming the
// soak's PID and bundle; a lock whose process is gone holds nothing.
#pragma once
#include <filesystem>
#include <string>

namespace x0x::orchestrator {

class SoakLock {
 public:
  // Writes the lock (best effort: an inventory in a read-only folder is not
  // locked, and `held()` says so).
  SoakLock(const std::filesystem::path& fleet_path, const std::filesystem::path& soak_dir);
  ~SoakLock();  // removes the lock if it is still ours
  SoakLock(const SoakLock&) = delete;
  SoakLock& operator=(const SoakLock&) = delete;
  bool held() const { return held_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool held_ = false;
};

std::filesystem::path soak_lock_path(const std::filesystem::path& fleet_path);

// "" when no live soak holds the inventory, else "soak <dir> (pid N) holds <fleet>".
std::string soak_holding(const std::filesystem::path& fleet_path);

}  // namespace x0x::orchestrator
