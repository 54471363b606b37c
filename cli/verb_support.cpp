#include "cli/verb_support.h"

#include <unistd.h>

#include <fmt/core.h>

#include <fstream>
#include <sstream>

#include "core/encoding.h"

namespace x0x::cli {

namespace fs = std::filesystem;

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }
}  // namespace

StopSignals::StopSignals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

const std::atomic<bool>& StopSignals::flag() { return g_stop; }

std::string unwritable(const std::string& flag, const std::string& path) {
  if (path.empty() || path == "-") return "";
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) return flag + " " + path + ": is a directory";
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) return flag + " " + path + ": no such directory " + dir.string();
  if (fs::exists(p, ec) ? ::access(p.c_str(), W_OK) != 0 : ::access(dir.c_str(), W_OK) != 0)
    return flag + " " + path + ": not writable";
  return "";
}

std::vector<std::string> output_problems(const std::string& json_path, const std::string& junit_path) {
  std::vector<std::string> out;
  for (auto& why : {unwritable("--json", json_path), unwritable("--junit", junit_path)})
    if (!why.empty()) out.push_back(why);
  if (json_path == "-" && junit_path == "-") out.push_back("--json - and --junit -: only one of them can go to stdout");
  return out;
}

std::FILE* human_stream(const std::string& json_path, const std::string& junit_path) {
  return json_path == "-" || junit_path == "-" ? stderr : stdout;
}

std::function<void(const std::string&)> line_printer(std::FILE* out) {
  return [out](const std::string& line) {
    fmt::print(out, "{}\n", line);
    std::fflush(out);
  };
}

bool write_output(std::FILE* human, const std::string& verb, const std::string& flag, const std::string& path, const std::string& text) {
  if (path.empty()) return true;
  if (path == "-") {
    fmt::print(stdout, "{}", text);
    std::fflush(stdout);
    return true;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (out) return true;
  fmt::print(human, "x0xctl {}: {} {}: cannot write\n", verb, flag, path);
  return false;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::optional<long> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t used = 0;
  long n = 0;
  try {
    n = std::stol(text, &used);
  } catch (...) {
    return std::nullopt;
  }
  auto unit = text.substr(used);
  long mult = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (mult == 0 || n <= 0) return std::nullopt;
  return n * mult;
}

void update_latest_link(const fs::path& bundle_dir) {
  std::error_code ec;
  auto parent = bundle_dir.has_parent_path() ? bundle_dir.parent_path() : fs::path(".");
  auto link = parent / "latest";
  auto st = fs::symlink_status(link, ec);
  if (fs::exists(st) && !fs::is_symlink(st)) return;  // somebody's file or folder: not ours to replace
  auto tmp = parent / (".latest-" + random_hex(4));
  fs::create_symlink(bundle_dir.filename(), tmp, ec);
  if (ec) return;
  fs::rename(tmp, link, ec);  // atomic: a reader sees the old or the new target
  if (ec) fs::remove(tmp, ec);
}

}  // namespace x0x::cli
