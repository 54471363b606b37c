// The groups' persistent state in the data dir, written in proportion to what
// changed: per group a snapshot (<id>.json: metadata, roster, keys, messages)
// rewritten atomically when its text changed, and the commit chain as an
// append-only log (<id>.commits, one record per line). A commit record never
// changes once retained, so a save appends the new ones instead of rewriting
// every record (O(n²) bytes per save on an n-member group). Invites in
// invites.json. All files 0600 (group keys and invite secrets).
//
// The log is authoritative for the head: a crash between the append and the
// snapshot (or a torn last line) is reconciled at load to the last whole record,
// and anti-entropy fetches what is missing.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "node/groups/group_state.h"

namespace x0x::node::groups {

class GroupStore {
 public:
  explicit GroupStore(std::filesystem::path dir);

  struct Loaded {
    std::map<std::string, Group> groups;
    nlohmann::json invites = nlohmann::json::array();
  };
  // Reads the directory, or the single-file layout of earlier versions (groups.json
  // beside it, removed after the first save). Throws naming the file on a corrupt one.
  Loaded load();

  // Writes what differs from the last save: new commit records appended, changed
  // snapshots and invites rewritten, the files of groups no longer held removed.
  void save(const std::map<std::string, Group>& groups, const nlohmann::json& invites);

 private:
  struct Written {
    std::size_t records = 0;  // records in the log
    std::string last_state_hash;  // of its last record: a replaced chain is rewritten
    std::string snapshot;  // the snapshot text on disk
    bool rewrite_log = false;  // torn or unknown: write it whole next time
  };
  std::filesystem::path snapshot_path(const std::string& gid) const;
  std::filesystem::path log_path(const std::string& gid) const;
  void save_group(const Group& g, Written& w);

  std::filesystem::path dir_, legacy_file_;
  std::map<std::string, Written> written_;  // by group id
  std::string invites_;
  bool legacy_pending_ = false;
};

}  // namespace x0x::node::groups
