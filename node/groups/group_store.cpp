#include "node/groups/group_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/encoding.h"

namespace x0x::node::groups {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {
constexpr unsigned kMode = 0600;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(p.string() + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void append_text(const fs::path& p, const std::string& text) {
  int fd = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, kMode);
  if (fd < 0) throw std::runtime_error(p.string() + ": cannot append: " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error(p.string() + ": cannot append: " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

std::string records_text(const std::vector<CommitRecord>& records, std::size_t from) {
  std::string out;
  for (auto i = from; i < records.size(); ++i) {
    out += record_text(records[i]);
    out += '\n';
  }
  return out;
}

// Group ids name files: only the 64-hex ids groups are created with.
void require_file_safe(const std::string& gid) {
  if (!is_hex(gid, 64)) throw std::runtime_error("group id is not 64 hex characters: refusing to name a file after it");
}
}  // namespace

GroupStore::GroupStore(fs::path dir) : dir_(std::move(dir)) {
  legacy_file_ = dir_;
  legacy_file_ += ".json";
}

fs::path GroupStore::snapshot_path(const std::string& gid) const { return dir_ / (gid + ".json"); }
fs::path GroupStore::log_path(const std::string& gid) const { return dir_ / (gid + ".commits"); }

GroupStore::Loaded GroupStore::load() {
  Loaded out;
  if (!fs::exists(dir_)) {
    if (!fs::exists(legacy_file_)) return out;
    auto doc = json::parse(read_text(legacy_file_), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) throw std::runtime_error(legacy_file_.string() + ": not a groups state file");
    try {
      for (auto& j : doc.at("groups")) {
        auto g = group_from_json(j);
        written_[g.id].rewrite_log = true;
        out.groups[g.id] = std::move(g);
      }
      out.invites = doc.value("invites", json::array());
    } catch (const std::exception& e) {
      throw std::runtime_error(legacy_file_.string() + ": " + e.what());
    }
    legacy_pending_ = true;
    return out;
  }
  for (auto& entry : fs::directory_iterator(dir_)) {
    auto path = entry.path();
    if (path.extension() != ".json" || path.filename() == "invites.json" || !entry.is_regular_file()) continue;
    auto text = read_text(path);
    Group g;
    try {
      auto j = json::parse(text);
      g = group_from_json(j);
      require_file_safe(g.id);
      if (path.stem() != g.id) throw std::runtime_error("holds group " + g.id.substr(0, 16) + ", not the one it is named after");
    } catch (const std::exception& e) {
      throw std::runtime_error(path.string() + ": " + e.what());
    }
    Written w;
    w.snapshot = std::move(text);
    auto log = log_path(g.id);
    if (fs::exists(log)) {
      std::istringstream lines(read_text(log));
      std::string line, err;
      while (std::getline(lines, line)) {
        auto rec = lines.eof() ? std::nullopt : record_from_json(json::parse(line, nullptr, false), err);
        if (!rec || rec->commit.revision != (g.commits.empty() ? rec->commit.revision : g.commits.back().commit.revision + 1)) {
          w.rewrite_log = true;  // a torn or foreign tail: the whole records before it are kept
          break;
        }
        rec->text = line;  // what record_text wrote
        materialize_roster(*rec, g.commits.empty() ? Roster{} : g.commits.back().roster);
        g.commits.push_back(std::move(*rec));
      }
    }
    if (!g.commits.empty()) {
      auto& last = g.commits.back();
      if (last.commit.revision != g.head.revision || last.commit.state_hash != g.head.state_hash) {
        g.head = {last.commit.revision, last.commit.state_hash};
        g.roster = last.roster;
      }
      w.last_state_hash = last.commit.state_hash;
    }
    w.records = g.commits.size();
    written_[g.id] = std::move(w);
    out.groups[g.id] = std::move(g);
  }
  auto invites = dir_ / "invites.json";
  if (fs::exists(invites)) {
    invites_ = read_text(invites);
    auto j = json::parse(invites_, nullptr, false);
    if (j.is_discarded() || !j.is_array()) throw std::runtime_error(invites.string() + ": not an invite list");
    out.invites = std::move(j);
  }
  return out;
}

void GroupStore::save_group(const Group& g, Written& w) {
  require_file_safe(g.id);
  const auto& c = g.commits;
  bool replaced = w.records > c.size() || (w.records > 0 && c[w.records - 1].commit.state_hash != w.last_state_hash);
  if (w.rewrite_log || replaced) {
    write_file_atomically(log_path(g.id), records_text(c, 0), kMode);
    w.rewrite_log = false;
  } else if (w.records < c.size()) {
    append_text(log_path(g.id), records_text(c, w.records));
  }
  w.records = c.size();
  w.last_state_hash = c.empty() ? "" : c.back().commit.state_hash;
  auto text = group_snapshot_json(g).dump();
  if (text != w.snapshot) {
    write_file_atomically(snapshot_path(g.id), text, kMode);
    w.snapshot = std::move(text);
  }
}

void GroupStore::save(const std::map<std::string, Group>& groups, const json& invites) {
  if (!fs::exists(dir_)) {
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all);
  }
  for (auto& [gid, g] : groups) {
    auto [w, fresh] = written_.try_emplace(gid);
    if (fresh) w->second.rewrite_log = true;  // not loaded nor written by this store: whatever is on disk is replaced
    save_group(g, w->second);
  }
  for (auto it = written_.begin(); it != written_.end();) {
    if (groups.count(it->first)) {
      ++it;
      continue;
    }
    fs::remove(snapshot_path(it->first));
    fs::remove(log_path(it->first));
    it = written_.erase(it);
  }
  auto text = invites.dump();
  if (text != invites_) {
    write_file_atomically(dir_ / "invites.json", text, kMode);
    invites_ = std::move(text);
  }
  if (legacy_pending_) {
    fs::remove(legacy_file_);
    legacy_pending_ = false;
  }
}

}  // namespace x0x::node::groups
