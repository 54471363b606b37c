#include "orchestrator/control/soak_lock.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/process.h"
#include "core/text.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_lock(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(p, ec)) || fs::file_size(p, ec) > 64 * 1024) return json();
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str(), nullptr, false);
}

}  // namespace

fs::path soak_lock_path(const fs::path& fleet_path) { return fs::path(fleet_path.string() + ".soak-lock"); }

SoakLock::SoakLock(const fs::path& fleet_path, const fs::path& soak_dir) : path_(soak_lock_path(fleet_path)) {
  std::error_code ec;
  json j = {{"pid", static_cast<long>(::getpid())}, {"soak_dir", fs::absolute(soak_dir, ec).string()}};
  try {
    write_file_atomically(path_, j.dump() + "\n");
    held_ = true;
  } catch (const std::exception&) {
    held_ = false;
  }
}

SoakLock::~SoakLock() {
  if (!held_) return;
  auto j = read_lock(path_);
  if (j.is_object() && j.value("pid", 0L) == static_cast<long>(::getpid())) {
    std::error_code ec;
    fs::remove(path_, ec);
  }
}

std::string soak_holding(const fs::path& fleet_path) {
  if (fleet_path.empty()) return "";
  auto j = read_lock(soak_lock_path(fleet_path));
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer()) return "";
  auto pid = j["pid"].get<long>();
  if (pid <= 0 || pid == static_cast<long>(::getpid()) || !process_alive(static_cast<int>(pid))) return "";
  return "soak " + printable(j.value("soak_dir", std::string("?"))) + " (pid " + std::to_string(pid) + ") holds " +
         fleet_path.string() + ": destructive acts wait until it ends (or stop it: SIGINT writes its summary)";
}

}  // namespace x0x::orchestrator
