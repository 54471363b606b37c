#include "orchestrator/lifecycle/deploy.h"

#include "core/enum_names.h"
#include "orchestrator/control/api_access.h"

#include <atomic>
#include <charconv>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/parallel_for.h"
#include "core/utc_time.h"
#include "orchestrator/control/ssh_remote.h"
#include "probes/rest_client.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {


std::string utc_iso() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{}.{:03d}Z", format_utc(t, "%Y-%m-%dT%H:%M:%S"), static_cast<int>(ms));
}

bool json_true(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

long json_long(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<long>() : -1;
}

double secs_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The phase run/deploy.state records (see deploy.h, steps 2-4).
enum class JournalPhase { none, switching, switched, done, rolled_back };

constexpr std::pair<JournalPhase, std::string_view> kJournalPhases[] = {
    {JournalPhase::none, "none"}, {JournalPhase::switching, "switching"}, {JournalPhase::switched, "switched"},
    {JournalPhase::done, "done"}, {JournalPhase::rolled_back, "rolled-back"}};

std::string_view to_string(JournalPhase p) { return name_in(kJournalPhases, p, "none"); }

// What a host's journal says; an unknown word is kept for messages and
// treated as finished (nothing to roll back).
struct Journal {
  std::string run, phase_text;
  JournalPhase phase = JournalPhase::none;
  std::vector<std::string> files, fresh;
  bool unfinished() const { return phase == JournalPhase::switching || phase == JournalPhase::switched; }
  bool is_fresh(const std::string& p) const { return std::find(fresh.begin(), fresh.end(), p) != fresh.end(); }
};

Journal parse_journal(const std::string& text) {
  Journal j;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("run=", 0) == 0) j.run = line.substr(4);
    else if (line.rfind("phase=", 0) == 0) j.phase_text = line.substr(6);
    else if (line.rfind("file=", 0) == 0) j.files.push_back(line.substr(5));
    else if (line.rfind("fresh=", 0) == 0) j.fresh.push_back(line.substr(6));
  }
  j.phase = value_in(kJournalPhases, j.phase_text).value_or(JournalPhase::none);
  return j;
}

// Sets the journal's phase (atomic rewrite); a no-op without a journal.
std::string set_phase_cmd(const std::string& state, JournalPhase phase) {
  return "S=" + shell_quote(state) + "; [ -f \"$S\" ] || exit 0; sed " +
         shell_quote("s/^phase=.*/phase=" + std::string(to_string(phase)) + "/") + " \"$S\" > \"$S.tmp\" && mv -f \"$S.tmp\" \"$S\"";
}

// Restores every journalled file from .prev, removes the fresh ones. Prints
// "rolled-back runner=present|absent", or "nothing <phase>" when the journal
// shows no unfinished switch.
std::string rollback_script(const HostLayout& l) {
  auto phase = [](JournalPhase p) { return shell_quote(to_string(p)); };
  return "set -u\nS=" + shell_quote(l.state_file) +
         "\nrunner() { if [ -f " + shell_quote(l.runner_binary) + " ]; then echo present; else echo absent; fi; }\n"
         "if [ ! -f \"$S\" ]; then echo \"nothing none runner=$(runner)\"; exit 0; fi\n"
         "phase=$(sed -n 's/^phase=//p' \"$S\" | head -n 1)\n"
         "case \"$phase\" in " + phase(JournalPhase::switching) + "|" + phase(JournalPhase::switched) +
         ") ;; *) echo \"nothing $phase runner=$(runner)\"; exit 0 ;; esac\n"
         "fail=0\n"
         "while IFS= read -r line; do\n"
         "  case \"$line\" in\n"
         "    file=*) f=${line#file=}\n"
         "      if [ -f \"$f.prev\" ]; then cp -p \"$f.prev\" \"$f.rollback\" && mv -f \"$f.rollback\" \"$f\" || fail=1\n"
         "      else echo \"missing $f.prev\" >&2; fail=1; fi ;;\n"
         "    fresh=*) f=${line#fresh=}; rm -f \"$f\" \"$f.new\" ;;\n"
         "  esac\n"
         "done < \"$S\"\n"
         "[ \"$fail\" = 0 ] || exit 1\n" +
         set_phase_cmd(l.state_file, JournalPhase::rolled_back) + " || exit 1\n"
         "echo \"rolled-back runner=$(runner)\"\n";
}

// Backups, journal, atomic moves: see deploy.h step 2.
std::string switch_script(const HostLayout& l, const std::string& run_id, const std::vector<const ManagedFile*>& files) {
  std::string s = "set -eu\nS=" + shell_quote(l.state_file) + "\nmkdir -p " + shell_quote(l.run_dir) + "\nrm -f \"$S.list\"\n: > \"$S.list\"\n";
  for (auto* f : files) {
    auto p = shell_quote(f->remote_path);
    s += "[ -f " + shell_quote(f->remote_path + ".new") + " ] || { echo " + shell_quote("staged file missing: " + f->remote_path + ".new") +
         " >&2; exit 1; }\n";
    s += "if [ -e " + p + " ]; then cp -p " + p + " " + shell_quote(f->remote_path + ".prev") + "; echo " + shell_quote("file=" + f->remote_path) +
         " >> \"$S.list\"; else rm -f " + shell_quote(f->remote_path + ".prev") + "; echo " + shell_quote("fresh=" + f->remote_path) +
         " >> \"$S.list\"; fi\n";
  }
  s += "{ echo " + shell_quote("run=" + run_id) + "; echo " + shell_quote("phase=" + std::string(to_string(JournalPhase::switching))) +
       "; echo \"at=$(date -u +%Y-%m-%dT%H:%M:%SZ)\"; cat \"$S.list\"; } > \"$S.tmp\"\n"
       "mv -f \"$S.tmp\" \"$S\"\nrm -f \"$S.list\"\n";
  for (auto* f : files) s += "mv -f " + shell_quote(f->remote_path + ".new") + " " + shell_quote(f->remote_path) + "\n";
  s += set_phase_cmd(l.state_file, JournalPhase::switched) + " || exit 1\necho switched\n";
  return s;
}

// Per-host phase timings (HostReport::phases): next() closes the running phase.
struct PhaseClock {
  HostReport* rep = nullptr;
  std::optional<DeployPhase> phase;
  Clock::time_point since = Clock::now();
  void next(DeployPhase p) {
    close();
    phase = p;
    since = Clock::now();
  }
  void close() {
    if (phase) rep->phases.emplace_back(*phase, secs_since(since));
    phase.reset();
  }
};

std::string format_phases(const HostReport& r) {
  std::string out;
  for (auto& [phase, secs] : r.phases) out += fmt::format("{}{} {:.2f}s", out.empty() ? "" : ", ", to_string(phase), secs);
  return out;
}

// One artefact in one machine's cache: the first worker that needs it uploads
// it while the others (same machine) wait on `mu`, then link it.
struct CacheSlot {
  std::mutex mu;
  bool ready = false;
};

struct Work {
  const Host* host = nullptr;
  HostLayout layout;
  std::unique_ptr<ServiceManager> sm;
  std::vector<ManagedFile> files;
  Journal journal;
  bool node_running = false, runner_running = false, serving = false;
  std::string plan_error;
  HostReport* report = nullptr;
  std::vector<std::string> warnings;  // see Deployer::warn
};

struct GateResult {
  bool ok = false;
  std::string detail;
  std::string version;
};

class Deployer {
 public:
  Deployer(const Fleet& fleet, const DeployOptions& o, const DeployProgress& progress, const DeployPlanHook& on_plan)
      : fleet_(fleet), o_(o), progress_(progress), on_plan_(on_plan) {}

  DeployReport run();

 private:
  void note(const std::string& host, const std::string& what);
  std::unique_ptr<RemoteHost> connect(const Host& h);
  void probe(Work& w);
  void deploy_host(Work& w, int wave);
  void materialise(Work& w);
  // "uploaded", "shared with another host of this machine" or "already in the host's cache".
  std::string ensure_cached(RemoteHost& r, const Work& w, const ManagedFile& f);
  void stage_files(RemoteHost& r, Work& w, const std::vector<const ManagedFile*>& rendered,
                   const std::vector<const ManagedFile*>& artefacts);
  bool interrupted() const { return o_.interrupted && o_.interrupted(); }
  GateResult gate(RemoteHost& r, Work& w, const std::string& expect_version, bool require_peers, bool with_runner,
                  long runner_log_offset, bool strict);
  // Rolls back an unfinished switch on the host (journal-driven). Returns the
  // outcome as {result, detail}.
  std::pair<DeployResult, std::string> rollback(RemoteHost& r, Work& w, const std::string& previous_version);
  // Bytes in a remote file; 0 when it does not exist. Throws when it cannot tell.
  long file_size(RemoteHost& r, const std::string& path);
  // The journal as the host has it now (none when there is none). Throws
  // RemoteError when the host cannot be asked: that is never "nothing switched".
  Journal read_journal(RemoteHost& r, const Work& w);
  // A problem that does not decide the host's result: logged now, appended
  // to its detail at the end ("; WARNING: …").
  void warn(Work& w, const std::string& what);
  bool others_up(const std::string& self);
  void set_up(const std::string& name, bool up);
  bool runner_managed() const { return rep_.runner.has_value(); }

  const Fleet& fleet_;
  const DeployOptions& o_;
  const DeployProgress& progress_;
  const DeployPlanHook& on_plan_;
  DeployReport rep_;
  std::vector<Work> work_;
  std::mutex mu_;
  std::ofstream log_;
  Clock::time_point t0_ = Clock::now();
  std::set<std::string> up_;
  std::atomic<int> failures_{0};
  std::string template_text_;
  fs::path files_dir_;
  std::mutex cache_mu_;
  std::map<std::string, std::shared_ptr<CacheSlot>> cache_;  // "address:ssh_port|cache path"
  std::atomic<std::size_t> uploads_{0};
};

void Deployer::note(const std::string& host, const std::string& what) {
  std::lock_guard lk(mu_);
  if (log_.is_open()) {
    log_ << utc_iso() << fmt::format(" +{:7.2f}s ", secs_since(t0_)) << (host.empty() ? "-" : host) << ": " << what << "\n";
    log_.flush();
  }
  if (progress_) progress_(host, what);
}

std::unique_ptr<RemoteHost> Deployer::connect(const Host& h) {
  if (o_.connect) return o_.connect(h, o_.accept_new_host_keys);
  SshTarget t = ssh_target_of(h, o_.accept_new_host_keys);
  t.connect_timeout = o_.connect_timeout;
  return ssh_connect(t);
}

bool Deployer::others_up(const std::string& self) {
  std::lock_guard lk(mu_);
  for (auto& n : up_)
    if (n != self) return true;
  return false;
}

void Deployer::set_up(const std::string& name, bool up) {
  std::lock_guard lk(mu_);
  if (up) up_.insert(name);
  else up_.erase(name);
}

long Deployer::file_size(RemoteHost& r, const std::string& path) {
  auto q = shell_quote(path);
  auto res = r.exec("if [ -e " + q + " ]; then stat -c %s " + q + "; else echo 0; fi", o_.command_timeout);
  auto out = one_line(res.out);
  long n = -1;
  auto [end, ec] = std::from_chars(out.data(), out.data() + out.size(), n);
  if (res.exit_code == 0 && ec == std::errc() && end == out.data() + out.size() && n >= 0) return n;
  throw std::runtime_error("cannot read the size of " + path + " (exit " + std::to_string(res.exit_code) +
                           "): " + one_line(res.err + " " + res.out, 200));
}

Journal Deployer::read_journal(RemoteHost& r, const Work& w) {
  auto q = shell_quote(w.layout.state_file);
  auto res = r.exec("if [ -f " + q + " ]; then cat " + q + "; else echo '--no-journal--'; fi", o_.command_timeout);
  if (res.exit_code != 0) throw RemoteError(w.host->name + ": reading " + w.layout.state_file + " failed: " + one_line(res.err));
  if (res.out.rfind("--no-journal--", 0) == 0) return {};
  return parse_journal(res.out);
}

void Deployer::warn(Work& w, const std::string& what) {
  note(w.host->name, "WARNING: " + what);
  w.warnings.push_back(what);
}

// Read-only: installed hashes, the journal, service state, /health.
void Deployer::probe(Work& w) {
  auto& h = *w.host;
  auto& rep = *w.report;
  auto started = Clock::now();
  try {
    auto r = connect(h);
    // An installed file that is a hard link of the cache entry of its target
    // is that (verified) file: no need to hash 50 MB again.
    std::string cmd = "h() { if [ ! -f \"$1\" ]; then echo \"- $1\"; elif [ -n \"$2\" ] && [ \"$1\" -ef \"$3/$2\" ]; then "
                      "echo \"$2  $1\"; else sha256sum \"$1\" || echo \"? $1\"; fi; }\n";
    for (auto& f : w.files)
      cmd += "h " + shell_quote(f.remote_path) + " " + (f.rendered ? "''" : shell_quote(f.sha256)) + " " + shell_quote(w.layout.cache_dir) + "\n";
    cmd += "echo '--journal--'; cat " + shell_quote(w.layout.state_file) + " 2>/dev/null; true";
    auto res = r->exec(cmd, o_.command_timeout);
    if (res.exit_code != 0) throw RemoteError(h.name + ": reading installed files failed: " + one_line(res.err));
    auto split = res.out.find("--journal--\n");
    std::istringstream in(res.out.substr(0, split));
    std::string line;
    std::map<std::string, std::string> sums;
    while (std::getline(in, line)) {
      auto sp = line.find(' ');
      if (sp == std::string::npos) continue;
      auto sum = line.substr(0, sp);
      auto path = line.substr(line.find_first_not_of(" *", sp));
      sums[path] = (sum == "-" ? "" : sum);
    }
    for (auto& f : w.files) f.installed_sha256 = sums.count(f.remote_path) ? sums[f.remote_path] : "";
    if (split != std::string::npos) w.journal = parse_journal(res.out.substr(split + 12));
    bool installed = !w.files.front().installed_sha256.empty();
    if (installed) {
      auto st = w.sm->status(*r, Service::node);
      w.node_running = st.running;
      if (runner_managed()) w.runner_running = w.sm->status(*r, Service::runner).running;
    }
    if (w.node_running) {
      try {
        auto [ah, ap] = api_target(h);
        auto fwd = r->forward(ah, ap);
        probes::RestClient c("http://127.0.0.1:" + std::to_string(fwd->local_port()), "", 3s);
        std::string why;
        for (int attempt = 0; attempt < 2 && !w.serving; ++attempt) {
          try {
            auto resp = c.get("/health");
            auto j = json::parse(resp.body, nullptr, false);
            if (resp.status == 200 && j.is_object() && json_true(j, "ok")) {
              w.serving = true;
              if (j.contains("version") && j["version"].is_string()) rep.before_version = j["version"].get<std::string>();
            } else {
              why = fmt::format("HTTP {}: {}", resp.status, probes::detail::snippet(resp.body, 120));
            }
          } catch (const probes::ProbeError& e) {
            why = e.what();
          }
          if (!w.serving && attempt == 0) std::this_thread::sleep_for(500ms);
        }
        if (!w.serving) note(h.name, "plan: the node runs but /health does not answer ok: " + one_line(why, 200));
      } catch (const RemoteError& e) {
        note(h.name, std::string("plan: /health through the tunnel failed: ") + e.what());
      }
    }
    if (w.serving) set_up(h.name, true);
  } catch (const std::exception& e) {
    w.plan_error = e.what();
  }
  rep.phases.emplace_back(DeployPhase::probe, secs_since(started));
}

std::string Deployer::ensure_cached(RemoteHost& r, const Work& w, const ManagedFile& f) {
  auto path = w.layout.cache_dir + "/" + f.sha256;
  std::shared_ptr<CacheSlot> slot;
  {
    std::lock_guard lk(cache_mu_);
    auto& s = cache_[w.host->address + ":" + std::to_string(w.host->ssh_port) + "|" + path];
    if (!s) s = std::make_shared<CacheSlot>();
    slot = s;
  }
  std::lock_guard lk(slot->mu);
  if (slot->ready) return "shared with another host of this machine";
  // touch: a fresh mtime keeps it from being pruned (below) while this run links it.
  auto q = r.exec("mkdir -p " + shell_quote(w.layout.cache_dir) + " && chmod 700 " + shell_quote(w.layout.cache_dir) + " && if [ -f " +
                      shell_quote(path) + " ]; then touch -c " + shell_quote(path) + " && stat -c %s " + shell_quote(path) +
                      "; else echo absent; fi",
                  o_.command_timeout);
  if (q.exit_code != 0) throw std::runtime_error("preparing the artefact cache " + w.layout.cache_dir + ": " + one_line(q.err));
  if (one_line(q.out) == std::to_string(f.size)) {
    slot->ready = true;
    return "already in the host's cache";
  }
  r.upload(f.local, path, f.mode);
  ++uploads_;
  slot->ready = true;
  return "uploaded";
}

// One round trip: the artefacts hard-linked from the machine's cache (a copy,
// re-hashed, where a link is impossible), the small rendered files (config,
// env, scripts, units) written from base64 in the script, each as "<path>.new"
// and sha256-checked. Then unused cache entries older than an hour are pruned.
// Nothing live changes here.
void Deployer::stage_files(RemoteHost& r, Work& w, const std::vector<const ManagedFile*>& files,
                           const std::vector<const ManagedFile*>& artefacts) {
  std::string script = "set -e\numask 077\n";
  std::string names;
  for (auto* f : artefacts) {
    auto c = shell_quote(w.layout.cache_dir + "/" + f->sha256);
    auto n = shell_quote(f->remote_path + ".new");
    script += "rm -f " + n + "\nif ln " + c + " " + n + " 2>/dev/null; then echo " + shell_quote(f->sha256 + "  " + f->remote_path + ".new") +
              "; else cp " + c + " " + n + ".tmp && mv -f " + n + ".tmp " + n + " && sha256sum " + n + "; fi\n" +
              fmt::format("chmod {:o} {}\n", f->mode, n);
    names += (names.empty() ? "" : ", ") + f->key;
  }
  for (auto* f : files) {
    auto tmp = shell_quote(f->remote_path + ".new");
    script += "base64 -d > " + tmp + " <<'X0X_EOF'\n" + base64_encode(f->content) + "\nX0X_EOF\n";
    script += fmt::format("chmod {:o} {}\nsha256sum {}\n", f->mode, tmp, tmp);
    names += (names.empty() ? "" : ", ") + f->key;
  }
  script += "find " + shell_quote(w.layout.cache_dir) + " -maxdepth 1 -type f -links 1 -mmin +60 -delete 2>/dev/null || true\n";
  note(w.host->name, "staging " + names);
  auto res = r.exec("sh -s", o_.command_timeout, script);
  if (res.exit_code != 0) throw std::runtime_error("staging " + names + " failed: " + one_line(res.err));
  std::istringstream in(res.out);
  std::map<std::string, std::string> sums;
  std::string line;
  while (std::getline(in, line)) {
    auto sp = line.find("  ");
    if (sp != std::string::npos) sums[line.substr(sp + 2)] = line.substr(0, sp);
  }
  for (auto* list : {&artefacts, &files})
    for (auto* f : *list)
      if (sums[f->remote_path + ".new"] != f->sha256)
        throw std::runtime_error("staged " + f->remote_path + ".new does not match its sha256: not installed");
}

void Deployer::materialise(Work& w) {
  auto dir = files_dir_ / w.host->name;
  fs::create_directories(dir);
  for (auto& f : w.files) {
    if (!f.rendered) continue;
    auto name = f.key;
    for (auto& c : name)
      if (c == ':') c = '-';
    f.local = dir / name;
    std::ofstream out(f.local, std::ios::binary | std::ios::trunc);
    out << f.content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + f.local.string());
  }
}

GateResult Deployer::gate(RemoteHost& r, Work& w, const std::string& expect_version, bool require_peers,
                          bool with_runner, long runner_log_offset, bool strict) {
  auto& h = *w.host;
  GateResult g;
  auto [ah, ap] = api_target(h);
  auto fwd = r.forward(ah, ap);
  probes::RestClient c("http://127.0.0.1:" + std::to_string(fwd->local_port()), "", 3s);
  auto health = [&](std::string& err) -> json {
    try {
      auto resp = c.get("/health");
      auto j = json::parse(resp.body, nullptr, false);
      if (resp.status != 200 || !j.is_object()) {
        err = fmt::format("/health: HTTP {}: {}", resp.status, probes::detail::snippet(resp.body, 120));
        return {};
      }
      if (!json_true(j, "ok")) {
        err = "/health: ok is not true";
        return {};
      }
      return j;
    } catch (const probes::ProbeError& e) {
      err = e.what();
      return {};
    }
  };
  auto node_log_tail = [&] {
    auto t = r.exec("tail -n 3 " + shell_quote(w.layout.node_log) + " 2>/dev/null", o_.command_timeout);
    return one_line(t.out, 400);
  };
  // 1. The API answers.
  std::string err;
  json hj;
  auto deadline = Clock::now() + o_.api_timeout;
  auto next_status = Clock::now() + 2s;
  int down_checks = 0;
  while (true) {
    hj = health(err);
    if (!hj.is_null()) break;
    if (Clock::now() >= deadline) {
      g.detail = fmt::format("API not up within {} s ({}); node log: {}", o_.api_timeout.count() / 1000, one_line(err, 160),
                             node_log_tail());
      return g;
    }
    if (Clock::now() >= next_status) {
      next_status = Clock::now() + 2s;
      auto st = w.sm->status(r, Service::node);
      down_checks = st.running ? 0 : down_checks + 1;
      if (down_checks >= 2) {
        g.detail = "node is not running (" + st.detail + "); node log: " + node_log_tail();
        return g;
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  // 2. The exact version (a mismatch is given 3 s: an old process may still answer).
  auto version_of = [](const json& j) { return j.contains("version") && j["version"].is_string() ? j["version"].get<std::string>() : std::string("?"); };
  if (!expect_version.empty()) {
    auto vdeadline = Clock::now() + 3s;
    while (version_of(hj) != expect_version && Clock::now() < vdeadline) {
      std::this_thread::sleep_for(150ms);
      auto j = health(err);
      if (!j.is_null()) hj = j;
    }
    if (version_of(hj) != expect_version) {
      g.version = version_of(hj);
      g.detail = "version " + g.version + " answers, expected exactly " + expect_version;
      return g;
    }
  }
  g.version = version_of(hj);
  // 3. The runner (started now that its node answers), peers, send-ready peers.
  if (with_runner) w.sm->restart(r, Service::runner);
  auto ldeadline = Clock::now() + o_.gate_timeout;
  bool runner_ready = !with_runner;
  long peers = -1, send_ready = -1;
  while (true) {
    auto j = health(err);
    if (!j.is_null()) {
      hj = j;
      peers = json_long(j, "peers");
      send_ready = json_long(j, "send_ready_peers");
    }
    std::string status = !j.is_null() && j.contains("status") && j["status"].is_string() ? j["status"].get<std::string>() : "";
    bool peers_ok = (!require_peers || (peers >= 1 && send_ready >= 1)) && (!strict || status != "degraded");
    if (!runner_ready) {
      auto t = r.exec("tail -c +" + std::to_string(runner_log_offset + 1) + " " + shell_quote(w.layout.runner_log) +
                          " 2>/dev/null | grep -c 'runner ready'",
                      o_.command_timeout);
      runner_ready = std::atol(t.out.c_str()) > 0;
      if (runner_ready) runner_ready = w.sm->status(r, Service::runner).running;
    }
    if (!j.is_null() && peers_ok && runner_ready) break;
    if (Clock::now() >= ldeadline) {
      std::string why;
      if (j.is_null()) why = "API stopped answering (" + one_line(err, 160) + ")";
      else if (!peers_ok) why = fmt::format("peers {} / send-ready peers {} (need >= 1 each), status {}", peers, send_ready, status);
      else {
        auto t = r.exec("tail -n 3 " + shell_quote(w.layout.runner_log) + " 2>/dev/null", o_.command_timeout);
        why = "runner not ready; runner log: " + one_line(t.out, 300);
      }
      g.detail = fmt::format("not healthy within {} s: {}", o_.gate_timeout.count() / 1000, why);
      return g;
    }
    std::this_thread::sleep_for(150ms);
  }
  // 4. The token on the host opens the API (read over SFTP, never printed).
  if (strict) {
    std::string token;
    try {
      token = r.read_file(w.layout.token, 4096);
    } catch (const RemoteError& e) {
      g.detail = std::string("api-token not readable: ") + e.what();
      return g;
    }
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    if (token.size() < 32) {
      g.detail = "api-token in " + w.layout.token + " is shorter than 32 characters";
      return g;
    }
    c.set_token(token);
    try {
      auto a = c.get("/agent");
      if (a.status != 200) {
        g.detail = fmt::format("GET /agent with the host's api-token: HTTP {}", a.status);
        return g;
      }
    } catch (const probes::ProbeError& e) {
      g.detail = std::string("GET /agent: ") + e.what();
      return g;
    }
  }
  g.ok = true;
  g.detail = fmt::format("{} {}, peers {}, send-ready {}{}", strict ? "healthy at" : "serving", g.version, peers, send_ready,
                         with_runner ? ", runner ready" : "");
  return g;
}

std::pair<DeployResult, std::string> Deployer::rollback(RemoteHost& r, Work& w, const std::string& previous_version) {
  auto& h = *w.host;
  Journal j = read_journal(r, w);
  if (!j.unfinished()) return {DeployResult::failed, "nothing was switched"};
  bool node_fresh = j.is_fresh(w.layout.node_binary);
  note(h.name, node_fresh ? "rolling back: no previous install, stopping and cleaning" : "rolling back to .prev");
  // A service manager that refuses here must not stop the files from being
  // restored; a lost connection (RemoteError) still ends the attempt.
  auto best_effort = [&](const std::string& what, const std::function<void()>& step) {
    try {
      step();
    } catch (const ServiceError& e) {
      warn(w, what + " during the rollback failed: " + one_line(e.what(), 300));
    }
  };
  best_effort("stopping the runner", [&] { w.sm->stop(r, Service::runner); });
  if (node_fresh) best_effort("removing the services", [&] { w.sm->remove(r); });
  auto res = r.exec("sh -s", o_.command_timeout, rollback_script(w.layout));
  if (res.exit_code != 0) return {DeployResult::failed, "rollback failed: " + one_line(res.err + " " + res.out)};
  bool units = false;
  for (auto& f : j.files)
    if (f.find("/systemd/") != std::string::npos || f.ends_with(".service")) units = true;
  for (auto& f : j.fresh)
    if (f.ends_with(".service")) units = true;
  if (node_fresh) {
    if (units) best_effort("reloading the service manager", [&] { w.sm->after_remove(r); });
    set_up(h.name, false);
    return {DeployResult::cleaned, "stopped and removed (there was no previous install)"};
  }
  w.sm->prepare(r, units);
  w.sm->restart(r, Service::node);
  bool runner_present = res.out.find("runner=present") != std::string::npos;
  auto g = gate(r, w, previous_version, false, runner_present && runner_managed(), file_size(r, w.layout.runner_log), false);
  if (!g.ok) {
    set_up(h.name, false);
    return {DeployResult::failed, "rolled back to .prev but it is not serving: " + g.detail};
  }
  w.report->after_version = g.version;
  return {DeployResult::rolled_back, "rolled back; serving " + g.version + " again"};
}

void Deployer::deploy_host(Work& w, int wave) {
  auto& h = *w.host;
  auto& rep = *w.report;
  auto t = Clock::now();
  rep.wave = wave;
  enum class Stage { before_switch, switching, switched } stage = Stage::before_switch;
  std::string expected = rep_.binary.version;
  std::string previous = rep.before_version;
  std::unique_ptr<RemoteHost> r;
  PhaseClock ph;
  ph.rep = &rep;
  auto finish = [&](DeployResult result, std::string detail, bool ok) {
    ph.close();
    for (auto& warning : w.warnings) detail += "; WARNING: " + warning;
    rep.result = result;
    rep.detail = std::move(detail);
    rep.ok = ok;
    rep.seconds = secs_since(t);
    if (!ok && rep.result != DeployResult::interrupted) ++failures_;
    note(h.name, fmt::format("{}: {} ({:.1f} s; {})", to_string(rep.result), rep.detail, rep.seconds, format_phases(rep)));
  };
  try {
    note(h.name, std::string(to_string(rep.action)) + " (wave " + std::to_string(wave) + "): connecting");
    ph.next(DeployPhase::connect);
    r = connect(h);
    if (w.journal.unfinished()) {
      ph.next(DeployPhase::rollback);
      note(h.name, "unfinished run " + w.journal.run + " found (phase " + w.journal.phase_text + "): rolling it back first");
      stage = Stage::switched;
      auto [res, det] = rollback(*r, w, "");
      note(h.name, "earlier run: " + std::string(to_string(res)) + ": " + det);
      stage = Stage::before_switch;
      previous = rep.after_version;  // what serves now
      rep.after_version.clear();
      // What is installed now.
      for (auto& f : w.files) {
        auto s = r->exec("sha256sum " + shell_quote(f.remote_path) + " 2>/dev/null | cut -d' ' -f1", o_.command_timeout);
        f.installed_sha256 = one_line(s.out);
      }
      if (w.files.front().installed_sha256.empty()) previous.clear();
    }
    std::vector<const ManagedFile*> changed;
    std::string dirs = "mkdir -p " + shell_quote(w.layout.bin_dir) + " " + shell_quote(w.layout.etc_dir) + " " + shell_quote(w.layout.data_dir) + " " +
                       shell_quote(w.layout.run_dir) + " " + shell_quote(w.layout.log_dir) + " && chmod 700 " + shell_quote(w.layout.data_dir);
    for (auto& f : w.files) {
      dirs += " && mkdir -p " + shell_quote(fs::path(f.remote_path).parent_path().string()) + " && rm -f " + shell_quote(f.remote_path + ".new");
      if (f.changed() || o_.force) changed.push_back(&f);
    }
    ph.next(DeployPhase::upload);
    auto mk = r->exec(dirs, o_.command_timeout);
    if (mk.exit_code != 0) throw std::runtime_error("preparing " + w.layout.root + ": " + one_line(mk.err));
    bool units_changed = false;
    std::vector<const ManagedFile*> small, artefacts;
    for (auto* f : changed) {
      if (f->key.rfind("unit:", 0) == 0) units_changed = true;
      (f->rendered ? small : artefacts).push_back(f);
    }
    for (auto* f : artefacts) {
      auto t_up = Clock::now();
      auto how = ensure_cached(*r, w, *f);
      note(h.name, fmt::format("{} ({} MB, sha256 {}): {} ({:.2f} s)", f->key, (f->size + 500000) / 1000000,
                               f->sha256.substr(0, 12), how, secs_since(t_up)));
    }
    ph.next(DeployPhase::stage);
    if (!small.empty() || !artefacts.empty()) stage_files(*r, w, small, artefacts);
    if (interrupted()) {
      std::string staged;
      for (auto* f : changed) staged += " " + shell_quote(f->remote_path + ".new");
      auto rm = r->exec("rm -f" + staged, o_.command_timeout);
      if (rm.exit_code != 0) warn(w, "removing the staged .new files failed: " + one_line(rm.err));
      finish(DeployResult::interrupted, "interrupted before install: nothing changed", false);
      return;
    }
    ph.next(DeployPhase::switch_files);
    // The token before and after: a change means the node made a new one
    // (its data_dir moved). Absent before a first install; anything else is logged.
    std::string token_before;
    try {
      token_before = r->read_file(w.layout.token, 4096);
    } catch (const RemoteError& e) {
      if (rep.action != DeployAction::install)
        note(h.name, std::string("api-token not readable before the install, a token change cannot be seen: ") + e.what());
    }
    note(h.name, fmt::format("installing {} file(s) (.prev kept)", changed.size()));
    stage = Stage::switching;
    auto sw = r->exec("sh -s", o_.command_timeout, switch_script(w.layout, rep_.run_id, changed));
    if (sw.exit_code != 0 || sw.out.find("switched") == std::string::npos) {
      // set -e stopped it: either before the journal (nothing live changed) or
      // during the moves (the journal says so and rollback restores).
      throw std::runtime_error("install script failed: " + one_line(sw.err + " " + sw.out));
    }
    stage = Stage::switched;
    ph.next(DeployPhase::restart);
    w.sm->prepare(*r, units_changed);
    long runner_offset = runner_managed() ? file_size(*r, w.layout.runner_log) : 0;
    note(h.name, "restarting (" + w.sm->kind() + ")");
    if (runner_managed()) w.sm->stop(*r, Service::runner);
    w.sm->restart(*r, Service::node);
    ph.next(DeployPhase::gate);
    bool need_peers = others_up(h.name);
    note(h.name, std::string("health gate: version ") + expected + (need_peers ? ", peers >= 1" : " (no other host up: peers not required)") +
                     (runner_managed() ? ", runner ready" : ""));
    auto g = gate(*r, w, expected, need_peers, runner_managed(), runner_offset, true);
    if (g.ok) {
      auto done = r->exec(set_phase_cmd(w.layout.state_file, JournalPhase::done), o_.command_timeout);
      if (done.exit_code != 0)
        warn(w, w.layout.state_file + " could not be marked done (exit " + std::to_string(done.exit_code) + ": " +
                    one_line(done.err + " " + done.out, 200) + "); the next run will roll this host back first");
      std::string token_after;
      try {
        token_after = r->read_file(w.layout.token, 4096);
      } catch (const RemoteError& e) {
        warn(w, std::string("api-token not readable after the install: ") + e.what());
      }
      if (!token_before.empty() && !token_after.empty() && token_after != token_before)
        warn(w, "api-token changed (did the data root move?)");
      rep.after_version = g.version;
      set_up(h.name, true);
      finish(DeployResult::healthy, g.detail, true);
      return;
    }
    note(h.name, "health gate failed: " + g.detail);
    ph.next(DeployPhase::rollback);
    auto [res, det] = rollback(*r, w, previous);
    finish(res, g.detail + "; " + det, false);
    return;
  } catch (const std::exception& e) {
    bool transport = dynamic_cast<const RemoteError*>(&e) != nullptr;
    std::string why = e.what();
    if (stage == Stage::before_switch) {
      finish(DeployResult::failed, (transport ? "connection lost before install, nothing changed: " : "before install, nothing changed: ") + why,
             false);
      return;
    }
    note(h.name, "failed after install began: " + why);
    ph.next(DeployPhase::rollback);
    // Roll back: on the same connection if it still works, else on a new one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (attempt == 1 || transport || !r) {
          note(h.name, fmt::format("reconnecting to roll back (attempt {}/2)", attempt + 1));
          r = connect(h);
        }
        auto [res, det] = rollback(*r, w, previous);
        finish(res, one_line(why, 200) + "; " + det, false);
        return;
      } catch (const std::exception& e2) {
        if (attempt == 1) {
          finish(DeployResult::unknown,
                 "connection lost after install began (" + one_line(why, 160) + "); reconnect failed (" + one_line(e2.what(), 160) +
                     "): state unknown, the next run rolls it back first",
                 false);
          return;
        }
        transport = true;
      }
    }
  }
}

DeployReport Deployer::run() {
  rep_.dry_run = o_.dry_run;
  rep_.run_id = utc_stamp() + "-" + random_hex(3);
  // Artefacts and inputs: usage errors before anything else.
  rep_.network = fleet_.network;
  rep_.binary = inspect_artefact(o_.binary, o_.expect_version);
  if (!o_.runner.empty()) rep_.runner = inspect_artefact(o_.runner);
  // Stripped copies live only for this run.
  struct TempDir {
    fs::path path;
    ~TempDir() {
      std::error_code ec;
      if (!path.empty()) fs::remove_all(path, ec);
    }
  } strip_dir;
  if (o_.strip) {
    strip_dir.path = fs::temp_directory_path() / ("x0x-deploy-strip-" + rep_.run_id);
    rep_.binary = strip_artefact(rep_.binary, strip_dir.path / "node");
    if (rep_.runner) rep_.runner = strip_artefact(*rep_.runner, strip_dir.path / "runner");
  }
  std::string template_name;
  if (!o_.config_template.empty()) {
    std::ifstream in(o_.config_template);
    if (!in) throw DeployUsageError(o_.config_template.string() + ": cannot read the config template");
    std::stringstream ss;
    ss << in.rdbuf();
    template_text_ = ss.str();
    template_name = o_.config_template.string();
  }
  std::vector<const Host*> targets;
  if (o_.hosts.empty()) {
    for (auto& h : fleet_.hosts) targets.push_back(&h);
  } else {
    for (auto& n : o_.hosts) {
      auto* h = fleet_.find(n);
      if (!h) throw DeployUsageError("--hosts: '" + n + "' is not a host of " + fleet_.path.string());
      if (std::find(targets.begin(), targets.end(), h) == targets.end()) targets.push_back(h);
    }
    std::sort(targets.begin(), targets.end(), [&](const Host* a, const Host* b) { return a < b; });  // inventory order
  }
  for (auto* h : targets)
    if (h->transport != "ssh")
      throw DeployUsageError(fleet_.path.string() + ":" + std::to_string(h->line) + ": host (" + h->name +
                             ").transport: deploy needs ssh hosts, got \"" + h->transport + "\"");
  std::vector<std::pair<std::string, std::string>> notes;
  rep_.hosts.resize(targets.size());
  work_.resize(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto& w = work_[i];
    w.host = targets[i];
    w.layout = HostLayout::for_host(*w.host);
    try {
      w.sm = make_service_manager(*w.host, w.layout, o_.service);
      w.files = managed_files(fleet_, *w.host, w.layout, *w.sm, rep_.binary, rep_.runner, template_text_, template_name,
                              o_.log_level, o_.runner_trusted_agents);
    } catch (const std::invalid_argument& e) {
      throw DeployUsageError(fleet_.path.string() + ":" + std::to_string(w.host->line) + ": host (" + w.host->name + "): " + e.what());
    }
    w.report = &rep_.hosts[i];
    w.report->name = w.host->name;
    auto expected_token = (fs::path(w.layout.data_dir) / "api-token").string();
    if (!w.host->token_path.empty() && w.host->token_path != expected_token)
      notes.emplace_back(w.host->name, "note: inventory token_path " + w.host->token_path + " differs from the deployed data_dir's " +
                                           expected_token + "; the deployed layout wins");
  }
  // Work folder and log.
  bool temp_dir = o_.work_dir.empty();
  fs::path dir = temp_dir ? fs::temp_directory_path() / ("x0x-deploy-" + rep_.run_id) : o_.work_dir;
  if (!o_.dry_run) fs::create_directories(dir);
  files_dir_ = dir / "hosts";
  if (!temp_dir && !o_.dry_run) {
    log_.open(dir / "deploy.log", std::ios::app);
    if (!log_) throw DeployUsageError((dir / "deploy.log").string() + ": cannot write");
  }
  note("", fmt::format("run {}{}: binary {}{} (version {}, {} MB, sha256 {}){}", rep_.run_id,
                       fleet_.network.empty() ? "" : " on network " + fleet_.network, rep_.binary.path.string(),
                       rep_.binary.source.empty() ? "" : " (stripped from " + rep_.binary.source.string() + ")", rep_.binary.version,
                       (rep_.binary.size + 500000) / 1000000, rep_.binary.sha256.substr(0, 16),
                       rep_.runner ? fmt::format(", runner {} (sha256 {})", rep_.runner->path.string(), rep_.runner->sha256.substr(0, 16))
                                   : std::string(", no runner")));
  for (auto& [host, what] : notes) note(host, what);
  // Plan (read-only, parallel).
  note("", fmt::format("plan: probing {} host(s)", work_.size()));
  parallel_for(work_.size(), o_.parallel, [&](std::size_t i) { probe(work_[i]); });
  std::vector<Work*> to_deploy;
  int plan_errors = 0;
  for (auto& w : work_) {
    auto& rep = *w.report;
    if (!w.plan_error.empty()) {
      ++plan_errors;
      rep.action = DeployAction::none;
      rep.result = DeployResult::failed;
      rep.detail = "preflight: " + w.plan_error;
      continue;
    }
    std::string changes;
    for (auto& f : w.files)
      if (f.changed()) changes += (changes.empty() ? "" : ", ") + f.key;
    rep.changes = changes.empty() ? "unchanged" : changes;
    bool installed = !w.files.front().installed_sha256.empty();
    std::string why_restart;
    if (!w.node_running) why_restart = "node not running";
    else if (!w.serving) why_restart = "node not answering /health";
    else if (rep.before_version != rep_.binary.version) why_restart = "running " + rep.before_version;
    else if (runner_managed() && !w.runner_running) why_restart = "runner not running";
    if (!installed) rep.action = DeployAction::install;
    else if (!changes.empty()) rep.action = DeployAction::upgrade;
    else if (w.journal.unfinished()) rep.action = DeployAction::upgrade;
    else if (!why_restart.empty() || o_.force) rep.action = DeployAction::restart;
    else rep.action = DeployAction::skip;
    if (w.journal.unfinished()) rep.changes += "; unfinished run " + w.journal.run + " will be rolled back first";
    if (rep.action == DeployAction::restart) rep.changes += o_.force && why_restart.empty() ? " (--force)" : " (" + why_restart + ")";
    note(w.host->name, "plan: " + std::string(to_string(rep.action)) + ": " + rep.changes +
                        (rep.before_version.empty() ? std::string() : ", running " + rep.before_version));
    if (rep.action == DeployAction::skip) {
      rep.result = DeployResult::unchanged;
      rep.ok = true;
      rep.after_version = rep.before_version;
      rep.detail = "already at " + rep.before_version + " and serving";
    } else {
      rep.result = o_.dry_run ? DeployResult::planned : DeployResult::not_attempted;
      to_deploy.push_back(&w);
    }
  }
  auto sizes = parse_waves(o_.waves, to_deploy.size());
  std::size_t k = 0;
  for (std::size_t wi = 0; wi < sizes.size(); ++wi) {
    rep_.waves.emplace_back();
    for (std::size_t j = 0; j < sizes[wi]; ++j, ++k) {
      rep_.waves.back().push_back(to_deploy[k]->host->name);
      to_deploy[k]->report->wave = static_cast<int>(wi + 1);
    }
  }
  note("", fmt::format("plan: {} to deploy in {} wave(s), {} unchanged, {} preflight failure(s)", to_deploy.size(), sizes.size(),
                       work_.size() - to_deploy.size() - plan_errors, plan_errors));
  if (plan_errors) {
    rep_.stopped = true;
    rep_.stop_reason = fmt::format("preflight failed on {} host(s): nothing was changed", plan_errors);
  }
  if (o_.dry_run || plan_errors) {
    rep_.seconds = secs_since(t0_);
    if (temp_dir) fs::remove_all(dir);
    return rep_;
  }
  if (on_plan_) on_plan_(rep_);
  for (auto& w : to_deploy) materialise(*w);
  // Waves.
  k = 0;
  for (std::size_t wi = 0; wi < sizes.size(); ++wi) {
    std::vector<Work*> wave(to_deploy.begin() + static_cast<long>(k), to_deploy.begin() + static_cast<long>(k + sizes[wi]));
    k += sizes[wi];
    if (interrupted()) break;
    note("", fmt::format("wave {}/{}{}: {} host(s)", wi + 1, sizes.size(), wi == 0 ? " (canary)" : "", wave.size()));
    parallel_for(wave.size(), o_.parallel, [&](std::size_t i) {
      if (failures_ > o_.max_fail || interrupted()) return;  // stays not-attempted
      deploy_host(*wave[i], static_cast<int>(wi + 1));
    });
    if (interrupted()) break;
    if (failures_ > o_.max_fail) {
      rep_.stopped = k < to_deploy.size() || std::any_of(wave.begin(), wave.end(), [](Work* w) { return w->report->result == DeployResult::not_attempted; });
      rep_.stop_reason = fmt::format("{} failure(s) in wave {} > --max-fail {}: rollout stopped", failures_.load(), wi + 1, o_.max_fail);
      note("", rep_.stop_reason);
      break;
    }
  }
  if (interrupted()) {
    int not_started = 0;
    for (auto& h : rep_.hosts) not_started += h.result == DeployResult::not_attempted || h.result == DeployResult::interrupted;
    rep_.interrupted = rep_.stopped = true;
    rep_.stop_reason = fmt::format("interrupted: {} host(s) not started or stopped before install; the hosts in flight finished or rolled back",
                                   not_started);
    note("", rep_.stop_reason);
  }
  for (auto& h : rep_.hosts)
    if (h.result == DeployResult::not_attempted) h.detail = rep_.interrupted ? "interrupted before this host started" : "rollout stopped before this host";
  rep_.uploads = uploads_;
  rep_.seconds = secs_since(t0_);
  note("", fmt::format("done in {:.1f} s: {}", rep_.seconds, rep_.passed() ? "all targeted hosts healthy at " + rep_.binary.version : "FAILED"));
  if (temp_dir) fs::remove_all(dir);
  return rep_;
}

}  // namespace

namespace {

constexpr std::pair<DeployAction, std::string_view> kActions[] = {
    {DeployAction::none, "-"},           {DeployAction::install, "install"}, {DeployAction::upgrade, "upgrade"},
    {DeployAction::restart, "restart"}, {DeployAction::skip, "skip"}};
constexpr std::pair<DeployResult, std::string_view> kResults[] = {
    {DeployResult::planned, "planned"},   {DeployResult::not_attempted, "not-attempted"}, {DeployResult::healthy, "healthy"},
    {DeployResult::unchanged, "unchanged"}, {DeployResult::failed, "failed"},             {DeployResult::rolled_back, "rolled-back"},
    {DeployResult::cleaned, "cleaned"},   {DeployResult::unknown, "unknown"},             {DeployResult::interrupted, "interrupted"}};
constexpr std::pair<DeployPhase, std::string_view> kPhases[] = {
    {DeployPhase::probe, "probe"},   {DeployPhase::connect, "connect"}, {DeployPhase::upload, "upload"},
    {DeployPhase::stage, "stage"},   {DeployPhase::switch_files, "switch"}, {DeployPhase::restart, "restart"},
    {DeployPhase::gate, "gate"},     {DeployPhase::rollback, "rollback"}};

template <class E, std::size_t N>
std::string_view name_of(const std::pair<E, std::string_view> (&table)[N], E v) {
  for (auto& [e, s] : table)
    if (e == v) return s;
  return "?";
}

template <class E, std::size_t N>
std::optional<E> value_of(const std::pair<E, std::string_view> (&table)[N], std::string_view s) {
  for (auto& [e, name] : table)
    if (name == s) return e;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(DeployAction a) { return name_of(kActions, a); }
std::string_view to_string(DeployResult r) { return name_of(kResults, r); }
std::string_view to_string(DeployPhase p) { return name_of(kPhases, p); }
std::optional<DeployAction> deploy_action_from_string(std::string_view s) { return value_of(kActions, s); }
std::optional<DeployResult> deploy_result_from_string(std::string_view s) { return value_of(kResults, s); }
std::optional<DeployPhase> deploy_phase_from_string(std::string_view s) { return value_of(kPhases, s); }

bool DeployReport::passed() const {
  if (stopped && !dry_run) return false;
  for (auto& h : hosts) {
    if (dry_run) {
      if (h.result == DeployResult::failed) return false;
    } else if (!h.ok) {
      return false;
    }
  }
  return true;
}

json DeployReport::to_json() const {
  auto art = [](const Artefact& a) {
    json j{{"path", a.path.string()}, {"sha256", a.sha256}, {"size", a.size}, {"version", a.version}};
    if (!a.source.empty()) j["stripped_from"] = a.source.string();
    return j;
  };
  json hosts_j = json::array();
  for (auto& h : hosts) {
    json phases = json::object();
    for (auto& [phase, secs] : h.phases) phases[std::string(to_string(phase))] = std::round(secs * 100) / 100;
    hosts_j.push_back({{"name", h.name}, {"wave", h.wave}, {"action", to_string(h.action)}, {"changes", h.changes}, {"result", to_string(h.result)},
                       {"detail", h.detail}, {"seconds", std::round(h.seconds * 100) / 100}, {"before_version", h.before_version},
                       {"after_version", h.after_version}, {"ok", h.ok}, {"phases", phases}});
  }
  return {{"deploy",
           {{"run_id", run_id},
            {"dry_run", dry_run},
            {"verdict", passed() ? "pass" : "fail"},
            {"seconds", std::round(seconds * 100) / 100},
            {"stopped", stopped},
            {"interrupted", interrupted},
            {"stop_reason", stop_reason},
            {"network", network.empty() ? json(nullptr) : json(network)},
            {"uploads", uploads},
            {"binary", art(binary)},
            {"runner", runner ? art(*runner) : json(nullptr)},
            {"waves", waves},
            {"hosts", hosts_j}}}};
}

std::string format_plan(const DeployReport& p) {
  std::string out = fmt::format("Deploy plan {}{}: {}{} (version {}){}\n", p.run_id, p.network.empty() ? "" : " (network " + p.network + ")",
                                p.binary.path.string(), p.binary.source.empty() ? "" : " stripped from " + p.binary.source.string(),
                                p.binary.version, p.runner ? " + runner " + p.runner->path.string() : std::string());
  std::size_t w = 4;
  for (auto& h : p.hosts) w = std::max(w, h.name.size());
  out += fmt::format("  {:<{}}  {:>4}  {:<8}  {:<12}  {}\n", "host", w, "wave", "action", "running", "changes");
  for (auto& h : p.hosts)
    out += fmt::format("  {:<{}}  {:>4}  {:<8}  {:<12}  {}\n", h.name, w, h.wave ? std::to_string(h.wave) : "-", to_string(h.action),
                       h.before_version.empty() ? "-" : h.before_version, h.result == DeployResult::failed ? h.detail : h.changes);
  for (std::size_t i = 0; i < p.waves.size(); ++i) {
    std::string names;
    for (auto& n : p.waves[i]) names += (names.empty() ? "" : ", ") + n;
    out += fmt::format("  wave {}{}: {}\n", i + 1, i == 0 ? " (canary)" : "", names);
  }
  if (p.waves.empty()) out += "  nothing to deploy\n";
  return out;
}

std::string format_results(const DeployReport& r) {
  std::size_t w = 4;
  for (auto& h : r.hosts) w = std::max(w, h.name.size());
  std::string out = fmt::format("{:<{}}  {:>4}  {:<8}  {:<13}  {:>6}  {}\n", "host", w, "wave", "action", "result", "secs", "detail");
  for (auto& h : r.hosts)
    out += fmt::format("{:<{}}  {:>4}  {:<8}  {:<13}  {:>6.1f}  {}\n", h.name, w, h.wave ? std::to_string(h.wave) : "-", to_string(h.action),
                       to_string(h.result), h.seconds, h.detail);
  int ok = 0;
  for (auto& h : r.hosts) ok += h.ok;
  out += fmt::format("{}/{} hosts healthy at {}{} in {:.1f} s, {} artefact upload(s){}\n", ok, r.hosts.size(), r.binary.version,
                     r.stopped ? " (" + r.stop_reason + ")" : std::string(), r.seconds, r.uploads,
                     r.passed() ? "" : " — FAILED");
  return out;
}

DeployReport run_deploy(const Fleet& fleet, const DeployOptions& opts, const DeployProgress& progress,
                        const DeployPlanHook& on_plan) {
  if (opts.binary.empty()) throw DeployUsageError("--binary is required");
  if (opts.max_fail < 0) throw DeployUsageError("--max-fail must be >= 0");
  try {
    parse_waves(opts.waves, 100);
  } catch (const std::invalid_argument& e) {
    throw DeployUsageError(e.what());
  }
  Deployer d(fleet, opts, progress, on_plan);
  return d.run();
}

}  // namespace x0x::orchestrator
