#include "harness/soak_loop.h"

#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/core.h>
#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/contained_files.h"
#include "core/enum_names.h"
#include "core/exit_codes.h"
#include "core/utc_time.h"
#include "gates/soak_policy.h"
#include "gates/soak_window.h"
#include "harness/gate_run.h"
#include "harness/node_api.h"
#include "harness/snapshots.h"
#include "harness/soak_traffic.h"
#include "orchestrator/control/api_access.h"
#include "proofs/bundle_writer.h"
#include "proofs/soak_renderers.h"

namespace x0x::harness {

namespace fs = std::filesystem;
using nlohmann::json;
namespace soak = gates::soak;

namespace {
constexpr std::pair<SoakVariant, std::string_view> kVariants[] = {
    {SoakVariant::combined, "combined"}, {SoakVariant::fixed_roster, "fixed-roster"}, {SoakVariant::pubsub_pressure, "pubsub-pressure"}};
}  // namespace

std::string_view to_string(SoakVariant v) { return name_in(kVariants, v, "combined"); }
std::optional<SoakVariant> parse_soak_variant(std::string_view s) { return value_in(kVariants, s); }

std::string window_scenario(SoakVariant v) { return v == SoakVariant::pubsub_pressure ? "fanout_burst" : "baseline"; }

json SoakRunSettings::to_json() const {
  return {{"fleet", fleet_path},         {"network", network},           {"local_nodes", local_nodes},
          {"background_rate", background_rate}, {"discover_secs", discover_secs}, {"settle_secs", settle_secs},
          {"burst_messages", burst_messages}, {"burst_payload_bytes", burst_payload_bytes}, {"burst_delay_ms", burst_delay_ms}};
}

SoakRunSettings SoakRunSettings::from_json(const json& j) {
  if (!j.is_object()) throw std::runtime_error("\"run\": not an object");
  SoakRunSettings s;
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) throw std::runtime_error(std::string("\"run\".\"") + key + "\": missing");
    try {
      j.at(key).get_to(field);
    } catch (const json::exception&) {
      throw std::runtime_error(std::string("\"run\".\"") + key + "\": wrong type");
    }
  };
  get("fleet", s.fleet_path);
  get("network", s.network);
  get("local_nodes", s.local_nodes);
  get("background_rate", s.background_rate);
  get("discover_secs", s.discover_secs);
  get("settle_secs", s.settle_secs);
  get("burst_messages", s.burst_messages);
  get("burst_payload_bytes", s.burst_payload_bytes);
  get("burst_delay_ms", s.burst_delay_ms);
  return s;
}

namespace {

constexpr std::size_t kMaxSoakJson = 256u * 1024 * 1024;
constexpr const char* kInProgress = "in progress";
constexpr const char* kRecordsFile = "windows.jsonl";  // one slot record per line, appended

std::string window_rel(int index) { return fmt::format("windows/{:03d}", index); }

// The slot schedule: slot k (1-based) starts at started + (k−1)·interval.
double slot_start(const soak::SoakConfig& c, int k) { return c.started_unix + (k - 1) * c.interval_secs; }
int total_slots(const soak::SoakConfig& c) { return c.warmup_windows + c.target_windows; }

soak::SoakWindow new_window(const soak::SoakConfig& c, int k, const std::string& scenario, int epoch) {
  soak::SoakWindow w;
  w.index = k;
  w.slot_unix = slot_start(c, k);
  w.warmup = k <= c.warmup_windows;
  w.scenario = scenario;
  w.fleet_epoch = epoch;
  w.node_order = c.nodes;
  return w;
}

// Files of a window's own gate bundle, listed in the soak's manifest too.
void adopt_window_files(proofs::BundleWriter& bundle, int index) {
  auto root = bundle.dir() / window_rel(index);
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(root, ec))) return;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto st = it->symlink_status(ec);
    if (!fs::is_regular_file(st)) continue;
    auto rel = it->path().lexically_relative(bundle.dir()).string();
    if (rel.size() > 4 && rel.compare(rel.size() - 4, 4, ".tmp") == 0) continue;  // a manifest being replaced when killed
    try {
      bundle.adopt_file(rel);
    } catch (const std::exception&) {
      // vanished or hostile: verify will name it
    }
  }
}

// Nodes whose diagnostics say they started less than an hour ago (§5 operator rule).
std::vector<std::string> recent_restarts(const std::vector<NodeApi>& apis, std::chrono::milliseconds timeout) {
  std::vector<std::string> out;
  for (auto& [node, snap] : take_snapshots(apis, timeout)) {
    auto s = soak::accounting_sample(snap);
    if (s && s->uptime_secs && *s->uptime_secs < 3600)
      out.push_back(fmt::format("{} (up {:.0f} min)", node, *s->uptime_secs / 60.0));
  }
  return out;
}

// Written after every slot, in O(1) however long the soak: the slot's record
// appended to windows.jsonl and its row to timeline.csv, the window's gate
// bundle listed in the manifest by its own manifest, soak.log appended line by
// line. soak.json, summary.md, report.html and junit.xml are rendered whole at
// the start and the end (complete, interrupted or crashed); a resumed soak
// reads the records back.
class SoakRun {
 public:
  SoakRun(const SoakRequest& rq, const std::function<void(const std::string&)>& progress) : rq_(rq), progress_(progress) {}

  SoakOutcome run() {
    SoakOutcome out;
    out.dir = rq_.soak_dir;
    if (!open(out)) return out;
    try {
      loop();
    } catch (const std::exception& e) {
      crash_ = e.what();
      say("CRASH: " + crash_);
    }
    traffic_.reset();
    return finish(out);
  }

 private:
  bool interrupted() const { return rq_.interrupted && rq_.interrupted->load(); }

  void say(const std::string& line) {
    auto stamped = fmt::format("{} {}", utc_stamp(), line);
    auto redacted = bundle_ ? bundle_->redactor().apply(stamped) : stamped;
    std::lock_guard lk(say_mu_);  // a window's scenario may report from its worker threads
    if (log_) log_ << redacted << "\n" << std::flush;
    if (progress_) progress_(redacted);
  }
  std::string redacted(const std::string& text) const { return bundle_ ? bundle_->redactor().apply(text) : text; }

  // A new soak: the bundle and its schedule. A resumed one: its state read
  // back, the slots it missed recorded, the window it was in abandoned.
  bool open(SoakOutcome& out) {
    config_ = rq_.config;
    epoch_ = rq_.fleet_epoch;
    if (rq_.resume) {
      bundle_ = std::make_unique<proofs::BundleWriter>(rq_.soak_dir, proofs::BundleWriter::Reopen{});
      auto st = load_soak_state(rq_.soak_dir);
      config_ = st.config;
      windows_ = std::move(st.windows);
      gaps_ = st.gaps;
      warnings_ = st.warnings;
      epoch_ = std::max(epoch_, st.fleet_epoch);
      log_.open(rq_.soak_dir / "soak.log", std::ios::app);
      bridge_resume_gap();
    } else {
      config_.started_unix = unix_now();
      bundle_ = std::make_unique<proofs::BundleWriter>(
          rq_.soak_dir, "soak",
          json{{"run_id", utc_stamp()}, {"gate", config_.gate}, {"variant", config_.variant}, {"argv", rq_.argv},
               {"fleet", rq_.run.fleet_path}, {"local_fleet", rq_.local_mesh != nullptr}});
      bundle_->write_text("gate.toml", rq_.profile.text);
      bundle_->write_text("inventory.toml", orchestrator::render_fleet_toml(rq_.fleet));
      log_.open(rq_.soak_dir / "soak.log", std::ios::trunc);
      write_file_atomically(rq_.soak_dir / kRecordsFile, "");
      write_file_atomically(rq_.soak_dir / "timeline.csv", timeline_csv({}));
      write_document("running");
    }
    auto access = orchestrator::make_api_access(rq_.fleet, {rq_.accept_new_host_keys});
    try {
      apis_ = open_node_apis(rq_.fleet, *access);
    } catch (const std::exception& e) {
      crash_ = std::string("cannot reach every node's API: ") + e.what();
      say(crash_);
      warnings_.push_back(redacted("crashed: " + crash_));
      log_.flush();
      write_document("interrupted");
      checkpoint();
      bundle_->finish(kExitCrash);
      out.exit_code = kExitCrash;
      out.crash = crash_;
      return false;
    }
    access_ = std::move(access);
    for (auto& a : apis_) bundle_->redactor().add_secret(a.token);
    say(fmt::format("soak {} ({}) on {} nodes ({}): {} windows of {:.0f} s after {} warm-up; bundle {}{}", config_.gate,
                    config_.variant, rq_.fleet.hosts.size(), rq_.local_mesh ? "local fleet" : rq_.run.fleet_path,
                    config_.target_windows, config_.interval_secs, config_.warmup_windows, rq_.soak_dir.string(),
                    rq_.resume ? fmt::format(", resumed at window {}", windows_.size() + 1) : ""));
    check_recent_restarts();
    if (rq_.run.background_rate > 0) {
      try {
        traffic_ = std::make_unique<SoakTraffic>(apis_, rq_.run.background_rate, rq_.scenario.request_timeout);
        say(fmt::format("background PubSub traffic: {} msg/s between windows on {}", rq_.run.background_rate, SoakTraffic::kTopic));
      } catch (const std::exception& e) {
        warn(std::string("background traffic could not start: ") + e.what());
      }
    }
    checkpoint();
    return true;
  }

  void warn(const std::string& w) {
    auto text = redacted(w);
    for (auto& existing : warnings_)
      if (existing == text) return;
    warnings_.push_back(text);
    say("WARNING: " + w);
  }

  void check_recent_restarts() {
    if (rq_.local_mesh) {
      say("the fleet was started for this soak: the warm-up window" + std::string(config_.warmup_windows == 1 ? "" : "s") +
          " let it settle and do not count");
      return;
    }
    auto recent = recent_restarts(apis_, rq_.scenario.request_timeout);
    if (!recent.empty())
      warn(fmt::format("restarted within the last hour: {}; a soak of record should start on a fleet that has been up "
                       "for an hour (the warm-up window covers only its first interval)",
                       fmt::join(recent, ", ")));
  }

  void bridge_resume_gap() {
    double now = unix_now();
    double last = windows_.empty() ? config_.started_unix : std::max(windows_.back().end_unix, windows_.back().start_unix);
    json slots = json::array();
    if (!windows_.empty() && windows_.back().state == soak::WindowState::missing && windows_.back().note == kInProgress) {
      auto& w = windows_.back();
      w.state = soak::WindowState::interrupted;
      w.verdict.reset();
      w.note = "the orchestrator stopped during this window (killed, crashed or rebooted): not counted; the accounting bridges its span";
      adopt_window_files(*bundle_, w.index);  // its own manifest never completed: each file as it is
      slots.push_back(w.index);
      record(w, true);
    }
    // Slots whose whole period passed while nothing ran.
    while (static_cast<int>(windows_.size()) < total_slots(config_)) {
      int k = static_cast<int>(windows_.size()) + 1;
      if (now < slot_start(config_, k + 1)) break;
      auto w = new_window(config_, k, window_scenario(rq_.variant), epoch_);
      w.state = soak::WindowState::skipped;
      w.note = "the orchestrator was not running (killed or the machine rebooted)";
      windows_.push_back(w);
      slots.push_back(k);
      record(w, true);
    }
    gaps_.push_back({{"from_unix", last}, {"to_unix", now}, {"slots", slots},
                     {"why", rq_.local_mesh ? "orchestrator not running; resumed on a fresh local fleet (epoch " + std::to_string(epoch_) + ")"
                                            : "orchestrator not running; resumed"}});
    write_document("running");  // the gap and the epoch, before anything else runs
    say(fmt::format("resumed after {:.0f} s without an orchestrator; {} slot(s) not run", now - last, slots.size()));
  }

  void loop() {
    const auto scenario = window_scenario(rq_.variant);
    while (static_cast<int>(windows_.size()) < total_slots(config_) && !interrupted()) {
      int k = static_cast<int>(windows_.size()) + 1;
      double start = slot_start(config_, k), next = slot_start(config_, k + 1);
      if (!wait_until(start)) break;
      if (unix_now() >= next) {
        // Anchored to the wall clock: a window that overran costs the slots it
        // overlapped, not a shift of every later one.
        auto w = new_window(config_, k, scenario, epoch_);
        w.state = soak::WindowState::skipped;
        w.note = "the previous window overran this slot";
        windows_.push_back(w);
        say(fmt::format("window {:03d}: SKIPPED ({})", k, w.note));
        record(w, true);
        checkpoint();
        continue;
      }
      run_window(k, scenario);
    }
  }

  // Sleeps in short slices until `t` (wall clock), background traffic flowing; false if interrupted.
  bool wait_until(double t) {
    while (!interrupted()) {
      double left = t - unix_now();
      if (left <= 0) return true;
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(left, 0.2)));
    }
    return false;
  }

  void run_window(int k, const std::string& scenario) {
    auto w = new_window(config_, k, scenario, epoch_);
    w.start_unix = unix_now();
    w.state = soak::WindowState::missing;
    w.note = kInProgress;
    windows_.push_back(w);
    record(w, false);  // a kill from here on leaves the window marked as in progress
    say(fmt::format("window {:03d}{}: {} (slot {}{})", k, w.warmup ? " (warm-up)" : "", scenario, text_time(w.slot_unix),
                    w.start_unix - w.slot_unix > 1 ? fmt::format(", started {:.0f} s late", w.start_unix - w.slot_unix) : ""));

    GateRequest g;
    g.fleet = rq_.fleet;
    g.profile = rq_.profile;
    g.scenarios = {scenario};
    g.scenario = rq_.scenario;
    g.proof_dir = rq_.soak_dir / window_rel(k);
    g.network = rq_.run.network;
    g.argv = rq_.argv;
    g.accept_new_host_keys = rq_.accept_new_host_keys;
    g.local_mesh = rq_.local_mesh;
    g.interrupted = rq_.interrupted;
    g.settle_poll = rq_.settle_poll;
    GateOutcome outcome;
    {
      auto pause = traffic_ ? traffic_->pause() : SoakTraffic::Pause{};  // windows measure the scenario alone
      outcome = run_gate(g, [&](const std::string& line) { say(fmt::format("window {:03d}: {}", k, strip_stamp(line))); });
    }
    w.end_unix = unix_now();
    w.exit_code = outcome.exit_code;
    auto bundle = soak::read_window_bundle(g.proof_dir, config_.nodes);
    soak::fill_window(w, bundle);
    if (interrupted()) {
      w.state = soak::WindowState::interrupted;
      w.note = "abandoned on SIGINT/SIGTERM (faults reverted, bundle written): not counted";
    } else if (w.verdict && outcome.verdict.is_object()) {
      w.state = soak::WindowState::ran;
      w.note.clear();
    } else {
      w.state = soak::WindowState::missing;
      w.verdict.reset();
      w.note = redacted(outcome.crash.empty() ? (bundle.problem.empty() ? "no verdict" : bundle.problem) : outcome.crash);
    }
    windows_.back() = w;
    bundle_->adopt_bundle(window_rel(k));  // run_gate finished it, crash or not
    say(fmt::format("window {:03d}: {}{}", k,
                    w.state == soak::WindowState::ran ? std::string(gates::to_string(*w.verdict)) : std::string(soak::to_string(w.state)),
                    w.note.empty() ? "" : " (" + w.note + ")"));
    record(w, true);
    checkpoint();
  }

  static std::string text_time(double unix) { return format_utc(static_cast<std::time_t>(unix), "%H:%M:%SZ"); }
  // run_gate's lines carry their own stamp; the soak's log stamps once.
  static std::string strip_stamp(const std::string& line) {
    auto sp = line.find(' ');
    return sp == 16 ? line.substr(sp + 1) : line;  // "20261121T203546Z "
  }

  // The slot's record appended to windows.jsonl (the last record of an index
  // wins on resume); a final one also appends its timeline row.
  void record(const soak::SoakWindow& w, bool final) {
    append_line(kRecordsFile, soak::window_json(w, nullptr, std::nullopt).dump());
    if (!final) return;
    auto result = soak::evaluate_soak(config_, windows_);  // classes may need every window; the accounting is cheap
    auto i = windows_.size() - 1;
    auto row = soak::window_json(windows_[i], &result.accounting[i], result.classes[i]);
    row["dir"] = window_rel(windows_[i].index);
    auto csv = timeline_csv(json::array({row}));
    append_line("timeline.csv", csv.substr(csv.find('\n') + 1), false);
  }

  void append_line(const char* rel, const std::string& text, bool newline = true) {
    std::ofstream out(rq_.soak_dir / rel, std::ios::app | std::ios::binary);
    out << text << (newline ? "\n" : "");
    out.flush();
    if (!out) throw std::runtime_error((rq_.soak_dir / rel).string() + ": cannot append");
  }

  std::string timeline_csv(const json& windows) const {
    json doc = {{"config", soak::config_json(config_)}, {"windows", windows}};
    return rq_.variant == SoakVariant::pubsub_pressure ? proofs::render_pubsub_pressure_timeline_csv(doc)
                                                       : proofs::render_soak_timeline_csv(doc);
  }

  void checkpoint() {
    for (auto* rel : {kRecordsFile, "timeline.csv", "soak.log", "soak.json"}) bundle_->adopt_file(rel);
    bundle_->checkpoint();
  }

  // soak.json and every rendering, whole (the start and the end of a run).
  json write_document(const std::string& state) {
    auto result = soak::evaluate_soak(config_, windows_);
    auto doc = soak_document(config_, rq_.run, windows_, result, gaps_, warnings_, state, epoch_);
    doc["saved_unix"] = unix_now();
    write_file_atomically(rq_.soak_dir / "soak.json", redacted(doc.dump(2)) + "\n");
    bundle_->adopt_file("soak.json");
    if (state != "running" || windows_.empty())
      for (auto& [name, body] : proofs::render_soak_all(doc)) {
        write_file_atomically(rq_.soak_dir / name, redacted(body));
        bundle_->adopt_file(name);
      }
    return doc;
  }

  SoakOutcome finish(SoakOutcome& out) {
    bool stopped = interrupted() || !crash_.empty();
    std::string state = stopped ? "interrupted" : "complete";
    if (!crash_.empty()) warnings_.push_back(redacted("crashed: " + crash_));
    auto result = soak::evaluate_soak(config_, windows_);
    auto verdict = result.overall_pass ? "GO" : "NO-GO";
    if (stopped)
      say(fmt::format("soak INTERRUPTED after {} of {} slots (the windows so far give {}): not a verdict on the fleet",
                      windows_.size(), total_slots(config_), verdict));
    else
      say(fmt::format("soak verdict {} ({} counted windows)", verdict, config_.target_windows));
    log_.flush();
    auto doc = write_document(state);
    out.exit_code = stopped ? kExitCrash : result.overall_pass ? kExitPass : kExitFail;
    out.crash = crash_;
    out.junit = proofs::render_soak_junit(doc);
    out.soak = std::move(doc);
    checkpoint();
    bundle_->finish(out.exit_code);
    return out;
  }

  const SoakRequest& rq_;
  std::function<void(const std::string&)> progress_;
  soak::SoakConfig config_;
  std::vector<soak::SoakWindow> windows_;
  json gaps_ = json::array(), warnings_ = json::array();
  int epoch_ = 0;
  std::string crash_;
  std::ofstream log_;
  std::mutex say_mu_;
  std::unique_ptr<proofs::BundleWriter> bundle_;
  std::unique_ptr<orchestrator::ApiAccess> access_;
  std::vector<NodeApi> apis_;
  std::unique_ptr<SoakTraffic> traffic_;
};

}  // namespace

json soak_document(const soak::SoakConfig& config, const SoakRunSettings& run, const std::vector<soak::SoakWindow>& windows,
                   const soak::SoakResult& result, const json& gaps, const json& warnings, const std::string& state, int fleet_epoch) {
  json doc = {{"kind", "soak"},
              {"schema", 1},
              {"tool_version", std::string("x0xctl ") + X0X_TOOLKIT_VERSION},
              {"config", soak::config_json(config)},
              {"run", run.to_json()},
              {"state", state},
              {"fleet_epoch", fleet_epoch}};
  std::string word = result.overall_pass ? "GO" : "NO-GO";
  if (state == "complete") {
    doc["verdict"] = word;
  } else {
    doc["verdict"] = "INTERRUPTED";
    doc["partial_verdict"] = word;
  }
  json ws = json::array();
  for (std::size_t i = 0; i < windows.size(); ++i) {
    auto j = soak::window_json(windows[i], i < result.accounting.size() ? &result.accounting[i] : nullptr,
                               i < result.classes.size() ? std::optional(result.classes[i]) : std::nullopt);
    j["dir"] = window_rel(windows[i].index);
    ws.push_back(std::move(j));
  }
  doc["windows"] = std::move(ws);
  auto r = soak::result_json(result);
  doc["policy"] = r.value("policy", json::object());
  doc["rules"] = r.value("rules", json::array());
  doc["gaps"] = gaps;
  doc["warnings"] = warnings;
  return doc;
}

namespace {

// windows.jsonl over what soak.json holds: by index, the last record wins (a
// window's "in progress" record is followed by its final one). A torn last
// line (killed while appending) is ignored; a bad line elsewhere is an error.
void read_records(const fs::path& dir, std::vector<soak::SoakWindow>& windows) {
  std::string text;
  try {
    text = contained::read_file(dir, kRecordsFile, kMaxSoakJson);
  } catch (const contained::ContainedError&) {
    throw;
  } catch (const std::exception&) {
    return;  // a soak written before the records file: soak.json has every window
  }
  std::map<int, soak::SoakWindow> by_index;
  for (auto& w : windows) by_index[w.index] = w;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    bool last = in.peek() == std::char_traits<char>::eof();
    auto j = json::parse(line, nullptr, false);
    try {
      if (j.is_discarded()) throw std::runtime_error("not JSON");
      auto w = soak::window_from_json(j);
      by_index[w.index] = std::move(w);
    } catch (const std::exception& e) {
      if (last) break;  // torn by a kill mid-append
      throw std::runtime_error(std::string(kRecordsFile) + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  windows.clear();
  for (auto& [index, w] : by_index) {
    if (index != static_cast<int>(windows.size()) + 1)
      throw std::runtime_error(std::string(kRecordsFile) + ": window " + std::to_string(index) + " follows window " +
                               std::to_string(windows.size()) + " (a slot is missing)");
    windows.push_back(std::move(w));
  }
}

}  // namespace

SoakState load_soak_state(const fs::path& dir) {
  auto path = (dir / "soak.json").string();
  std::string text;
  try {
    text = contained::read_file(dir, "soak.json", kMaxSoakJson);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("kind", "") != "soak") throw std::runtime_error(path + ": not a soak state (\"kind\": \"soak\")");
  SoakState st;
  try {
    st.config = soak::config_from_json(j.at("config"));
    st.run = SoakRunSettings::from_json(j.value("run", json()));
    auto v = parse_soak_variant(st.config.variant);
    if (!v) throw std::runtime_error("\"config\".\"variant\": unknown " + st.config.variant);
    st.variant = *v;
    for (auto& w : j.at("windows")) st.windows.push_back(soak::window_from_json(w));
    read_records(dir, st.windows);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  st.gaps = j.value("gaps", json::array());
  st.warnings = j.value("warnings", json::array());
  st.fleet_epoch = j.value("fleet_epoch", 0);
  st.state = j.value("state", "");
  return st;
}

SoakOutcome run_soak(const SoakRequest& request, const std::function<void(const std::string&)>& progress) {
  return SoakRun(request, progress).run();
}

}  // namespace x0x::harness
