#include "runners/runner.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/encoding.h"
#include "runners/phase_b_actions.h"
#include "core/log_escape.h"
#include "runners/retry_policy.h"

namespace x0x::runners {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n\f\v");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n\f\v");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool param_truthy(const json& params, const char* key) {
  auto it = params.find(key);
  return it != params.end() && json_truthy(*it);
}

// A daemon reply body as JSON; an empty body is {}; non-JSON → {"status", "reason"}.
json body_json(const probes::HttpResponse& r) { return reply_json(r.status, r.body); }

// The level names of the reference runner (Python logging).
class UpperLevelFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view name;
    switch (msg.level) {
      case spdlog::level::trace: name = "TRACE"; break;
      case spdlog::level::debug: name = "DEBUG"; break;
      case spdlog::level::info: name = "INFO"; break;
      case spdlog::level::warn: name = "WARNING"; break;
      case spdlog::level::err: name = "ERROR"; break;
      case spdlog::level::critical: name = "CRITICAL"; break;
      default: name = "OFF"; break;
    }
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<UpperLevelFlag>(); }
};

}  // namespace

// ---------------------------------------------------------------- configuration

bool is_truthy(std::string_view v) {
  auto s = lower(trim(v));
  return s == "1" || s == "true" || s == "yes" || s == "on";
}

namespace {
// The whole text as a positive integer, or 0 when it is not one.
int positive_int(const std::string& s) {
  int value = 0;
  std::size_t pos = 0;
  try {
    value = std::stoi(s, &pos);
  } catch (...) {
    return 0;
  }
  return pos == s.size() && value > 0 ? value : 0;
}
}  // namespace

std::optional<int> parse_raw_quic_ack_ms(std::string_view v) {
  auto s = lower(trim(v));
  if (s.empty()) return kDefaultResultRawQuicAckMs;
  if (s == "none" || s == "off" || s == "false" || s == "0") return std::nullopt;
  int value = positive_int(s);
  if (value == 0)
    throw ConfigError("X0X_RESULT_RAW_QUIC_ACK_MS / --result-raw-quic-ack-ms: expected a positive integer "
                      "(milliseconds) or none/off/false/0, got \"" + std::string(v) + "\"");
  return value;
}

std::chrono::milliseconds parse_command_timeout(std::string_view v) {
  auto s = trim(v);
  if (s.empty()) return std::chrono::seconds(kDefaultCommandTimeoutSecs);
  int value = positive_int(std::string(s));
  if (value == 0 || value > 3600)
    throw ConfigError("X0X_RUNNER_COMMAND_TIMEOUT_SECS / --command-timeout-secs: expected seconds (1-3600), got \"" +
                      std::string(v) + "\"");
  return std::chrono::seconds(value);
}

spdlog::level::level_enum parse_log_level(std::string_view v) {
  auto s = lower(trim(v));
  if (s.empty() || s == "info") return spdlog::level::info;
  if (s == "debug") return spdlog::level::debug;
  if (s == "trace") return spdlog::level::trace;
  if (s == "warning" || s == "warn") return spdlog::level::warn;
  if (s == "error") return spdlog::level::err;
  if (s == "critical" || s == "fatal") return spdlog::level::critical;
  throw ConfigError("LOG_LEVEL / --log-level: unknown level \"" + std::string(v) +
                    "\" (DEBUG, INFO, WARNING, ERROR, CRITICAL)");
}

std::string resolve_token(std::string_view value, std::string* source) {
  std::string v = trim(value);
  if (v.empty()) throw ConfigError("X0X_API_TOKEN / --api-token: empty");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path path(v);
  bool regular = fs::is_regular_file(path, ec);
  if (regular) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      if (in.bad()) throw ConfigError("X0X_API_TOKEN: cannot read token file " + v);
      auto tok = trim(ss.str());
      if (tok.empty()) throw ConfigError("X0X_API_TOKEN: token file " + v + " is empty");
      if (source) *source = "file " + v;
      return tok;
    }
  }
  if (v.find('/') != std::string::npos) {
    std::string why;
    if (regular) why = std::strerror(EACCES);
    else if (fs::exists(path, ec)) why = "not a regular file";
    else why = "no such file";
    throw ConfigError("X0X_API_TOKEN / --api-token: token file " + v + " cannot be read (" + why +
                      "); set it to the daemon's api-token path, e.g. <data_dir>/api-token");
  }
  if (source) *source = "literal value";
  return v;
}

RunnerConfig resolve_config(const ConfigInputs& flags,
                            const std::function<std::optional<std::string>(const char*)>& env) {
  auto pick = [&](const std::optional<std::string>& flag, const char* var) -> std::optional<std::string> {
    if (flag) return flag;
    return env(var);
  };
  RunnerConfig cfg;
  if (auto v = pick(flags.node_name, "NODE_NAME"); v && !trim(*v).empty()) {
    cfg.node_name = trim(*v);
  } else {
    struct utsname u {};
    if (::uname(&u) == 0) cfg.node_name = u.nodename;
    if (cfg.node_name.empty()) throw ConfigError("NODE_NAME / --node-name: not set and no host name");
  }
  if (auto v = pick(flags.api_base, "X0X_API_BASE"); v && !trim(*v).empty()) cfg.api_base = trim(*v);
  while (cfg.api_base.size() > 1 && cfg.api_base.back() == '/') cfg.api_base.pop_back();
  if (cfg.api_base.rfind("http://", 0) != 0 && cfg.api_base.rfind("https://", 0) != 0)
    throw ConfigError("X0X_API_BASE / --api-base: expected http://host:port, got \"" + cfg.api_base + "\"");

  auto tok = pick(flags.api_token, "X0X_API_TOKEN");
  cfg.token = resolve_token(tok && !trim(*tok).empty() ? *tok : std::string(kDefaultTokenPath), &cfg.token_source);

  if (auto v = pick(flags.log_level, "LOG_LEVEL")) cfg.log_level = parse_log_level(*v);
  cfg.no_pubsub_after_discover = flags.no_pubsub_after_discover;
  if (!cfg.no_pubsub_after_discover)
    if (auto v = env("X0X_NO_PUBSUB_AFTER_DISCOVER")) cfg.no_pubsub_after_discover = is_truthy(*v);
  if (auto v = pick(flags.result_raw_quic_ack_ms, "X0X_RESULT_RAW_QUIC_ACK_MS"))
    cfg.result_raw_quic_ack_ms = parse_raw_quic_ack_ms(*v);
  if (auto v = pick(flags.trusted_agents, "X0X_RUNNER_TRUSTED_AGENTS")) {
    try {
      cfg.trusted_agents = parse_trusted_agents(*v);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(e.what());
    }
  }
  if (auto v = pick(flags.command_timeout_secs, "X0X_RUNNER_COMMAND_TIMEOUT_SECS"))
    cfg.command_timeout = parse_command_timeout(*v);
  return cfg;
}

void setup_logging(const std::string& node_name, spdlog::level::level_enum level) {
  std::string node;
  for (char c : node_name) {
    if (c == '%') node += "%%";
    else node += c;
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto fmtr = std::make_unique<spdlog::pattern_formatter>();
  fmtr->add_flag<UpperLevelFlag>('*').add_flag<EscapedMessageFlag>('&').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %* runner[" + node + "] %&");
  sink->set_formatter(std::move(fmtr));
  auto logger = std::make_shared<spdlog::logger>("runner", sink);
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

std::string make_uuid4() {
  auto b = random_bytes(16);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  auto h = to_hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::uint64_t unix_ms_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// ---------------------------------------------------------------- ResultQueue / RecentIds

ResultQueue::ResultQueue(std::size_t capacity, std::chrono::milliseconds max_age)
    : capacity_(capacity), max_age_(max_age) {}

ResultQueue::PushReport ResultQueue::push(Item item) {
  PushReport rep;
  {
    std::lock_guard lk(mu_);
    const std::uint64_t now = item.result.ts_ms;
    const auto age = static_cast<std::uint64_t>(max_age_.count());
    if (now > age) {
      auto before = items_.size();
      std::erase_if(items_, [&](const Item& i) { return i.result.ts_ms + age < now; });
      rep.pruned_stale = before - items_.size();
    }
    if (items_.size() >= capacity_ && !items_.empty()) {
      items_.pop_front();
      rep.dropped_oldest = 1;
    }
    if (items_.size() >= capacity_) {
      rep.dropped_new = true;
      return rep;
    }
    items_.push_back(std::move(item));
  }
  cv_.notify_one();
  return rep;
}

std::optional<ResultQueue::Item> ResultQueue::pop(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  if (!cv_.wait_for(lk, timeout, [&] { return !items_.empty() || closed_; })) return std::nullopt;
  if (items_.empty()) return std::nullopt;
  Item it = std::move(items_.front());
  items_.pop_front();
  return it;
}

void ResultQueue::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::size_t ResultQueue::size() const {
  std::lock_guard lk(mu_);
  return items_.size();
}

std::vector<ResultQueue::Item> ResultQueue::snapshot() const {
  std::lock_guard lk(mu_);
  return {items_.begin(), items_.end()};
}

bool RecentIds::insert(const std::string& id) {
  std::lock_guard lk(mu_);
  if (set_.count(id)) return false;
  set_.insert(id);
  order_.push_back(id);
  while (order_.size() > capacity_) {
    set_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

void RecentResults::put(const std::string& command_id, const Result& r) {
  std::lock_guard lk(mu_);
  if (results_.insert_or_assign(command_id, r).second) order_.push_back(command_id);
  while (order_.size() > capacity_) {
    results_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<Result> RecentResults::get(const std::string& command_id) {
  std::lock_guard lk(mu_);
  auto it = results_.find(command_id);
  if (it == results_.end()) return std::nullopt;
  return it->second;
}

// ---------------------------------------------------------------- Runner

Runner::Runner(RunnerConfig cfg)
    : cfg_(std::move(cfg)),
      trust_(cfg_.trusted_agents, ""),
      limiter_(cfg_.rate_limited_senders_max),
      // A few lines per 10 s whatever a stranger sends; a summary counts the rest.
      noisy_log_(20, std::chrono::seconds(10)),
      seen_commands_(cfg_.dedup_capacity),
      // A repeat comes within a command timeout of the first: a few dozen results
      // suffice, and a state-commits read on a big group can be hundreds of KB.
      recent_results_(64),
      results_(cfg_.result_queue_max, cfg_.result_max_age),
      // Answers to strangers: a small queue of their own (drop-oldest when full).
      stranger_results_(64, cfg_.result_max_age) {}

Runner::~Runner() {
  stop();
  if (events_) events_->stop();
  if (direct_) direct_->stop();
  {
    std::lock_guard lk(tasks_mu_);
    tasks_closed_ = true;
  }
  tasks_cv_.notify_all();
  results_.close();
  stranger_results_.close();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  for (auto& t : senders_)
    if (t.joinable()) t.join();
}

void Runner::stop() {
  {
    std::lock_guard lk(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
}

bool Runner::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lk(stop_mu_);
  return !stop_cv_.wait_for(lk, d, [&] { return stopping_.load(); });
}

bool Runner::bootstrap() {
  probes::RestClient rest(cfg_.api_base, cfg_.token, std::min<std::chrono::milliseconds>(cfg_.rest_timeout, 5s));
  const auto policy = daemon_ready_policy(cfg_.bootstrap_timeout);
  std::string last_error;
  // One readiness check: /health says ok, then /agent names a 64-hex agent id.
  auto check = [&](int attempt) {
    AttemptOutcome outcome = AttemptOutcome::retry;
    try {
      auto h = rest.get("/health");
      json hb = body_json(h);
      if (!h.ok() || !hb.is_object() || !json_truthy(hb.value("ok", json(false)))) {
        if (!h.ok()) outcome = classify_http_status(h.status);
        last_error = fmt::format("GET /health: HTTP {}: {}", h.status, probes::detail::snippet(h.body, 200));
      } else {
        auto a = rest.get("/agent");
        json ab = body_json(a);
        if (a.status == 401 || a.status == 403) {
          outcome = AttemptOutcome::final_failure;
          last_error = fmt::format("GET /agent: HTTP {}: the daemon rejected the API token ({})", a.status,
                                   cfg_.token_source);
        } else if (!a.ok() || !ab.is_object()) {
          if (!a.ok()) outcome = classify_http_status(a.status);
          last_error = fmt::format("GET /agent: HTTP {}: {}", a.status, probes::detail::snippet(a.body, 200));
        } else if (!ab.contains("agent_id") || !ab["agent_id"].is_string() ||
                   !is_agent_id(ab["agent_id"].get<std::string>())) {
          last_error = "GET /agent: no 64-hex agent_id in " + probes::detail::snippet(a.body, 200);
        } else {
          agent_id_ = ab["agent_id"].get<std::string>();
          trust_.set_own_agent_id(agent_id_);
          if (auto it = ab.find("machine_id"); it != ab.end() && it->is_string()) machine_id_ = it->get<std::string>();
          spdlog::info("daemon {} ok: version={} peers={} agent_id={} machine_id={}", cfg_.api_base,
                       hb.value("version", json("?")).dump(), hb.value("peers", json(nullptr)).dump(), agent_id_,
                       machine_id_);
          return AttemptOutcome::success;
        }
      }
    } catch (const probes::ProbeError& e) {
      last_error = e.what();
    }
    if (outcome != AttemptOutcome::retry) return outcome;
    if (attempt == 1)
      spdlog::warn("daemon not ready yet ({}); retrying for up to {} s", last_error,
                   cfg_.bootstrap_timeout.count() / 1000);
    else
      spdlog::debug("daemon not ready yet: {}", last_error);
    return outcome;
  };
  auto rep = policy.run(check, [this](std::chrono::milliseconds d) { return sleep_for(d); });
  switch (rep.end) {
    case RetryEnd::succeeded: return true;
    case RetryEnd::interrupted: return false;
    case RetryEnd::final_failure: throw ConfigError(fmt::format("daemon at {}: {}", cfg_.api_base, last_error));
    case RetryEnd::exhausted: break;
  }
  throw ConfigError(fmt::format("daemon at {} not ready after {} attempts in {} s: {}", cfg_.api_base, rep.attempts,
                                cfg_.bootstrap_timeout.count() / 1000, last_error));
}

int Runner::run() {
  spdlog::info("starting: api_base={} token from {} no_pubsub_after_discover={} result_raw_quic_ack_ms={}",
               cfg_.api_base, cfg_.token_source, cfg_.no_pubsub_after_discover,
               cfg_.result_raw_quic_ack_ms ? std::to_string(*cfg_.result_raw_quic_ack_ms) : "omitted");
  try {
    if (!bootstrap()) {
      spdlog::info("stopped during bootstrap");
      return 0;
    }
  } catch (const ConfigError& e) {
    spdlog::error("bootstrap failed: {}", e.what());
    return 2;
  }
  started_at_ms_ = unix_ms_now();

  for (std::size_t i = 0; i < std::max<std::size_t>(1, cfg_.senders); ++i) senders_.emplace_back([this] { sender_loop(); });
  senders_.emplace_back([this] { stranger_sender_loop(); });
  for (std::size_t i = 0; i < std::max<std::size_t>(1, cfg_.workers); ++i) workers_.emplace_back([this] { worker_loop(); });

  subs_client_ = std::make_unique<probes::RestClient>(cfg_.api_base, cfg_.token, cfg_.rest_timeout);
  probes::SseStream::Options eo;
  eo.base_url = cfg_.api_base;
  eo.path = "/events";
  eo.token = cfg_.token;
  eo.initial_backoff = 250ms;
  eo.max_backoff = 2000ms;
  auto dopt = eo;
  dopt.path = "/direct/events";
  events_ = std::make_unique<probes::SseStream>(
      eo, [this](const probes::SseEvent& e) { on_topic_event(e); },
      [this](bool up) {
        if (up) {
          spdlog::info("/events connected; (re)subscribing the discover and control topics");
          resubscribe(true);
        } else if (!stopping()) {
          spdlog::warn("/events disconnected; reconnecting");
        }
      });
  direct_ = std::make_unique<probes::SseStream>(
      dopt, [this](const probes::SseEvent& e) { on_direct_event(e); },
      [this](bool up) {
        if (up) spdlog::info("/direct/events connected");
        else if (!stopping()) spdlog::warn("/direct/events disconnected; reconnecting");
      });
  direct_->start();
  events_->start();

  Result ready;
  ready.kind = "runner_ready";
  ready.details = {{"started_at_ms", started_at_ms_}};
  enqueue(std::move(ready), "");
  spdlog::info("runner ready (node {}, agent {})", cfg_.node_name, short_id(agent_id_));
  if (trust_.mode() == TrustMode::allow_list)
    spdlog::info("commands accepted from {} trusted orchestrator agent(s) (X0X_RUNNER_TRUSTED_AGENTS) and this node's "
                 "own agent; command timeout {} s", trust_.allow_list_size(), cfg_.command_timeout.count() / 1000);
  else
    spdlog::warn("X0X_RUNNER_TRUSTED_AGENTS not set: the sender of the first discover will be the only trusted "
                 "orchestrator (with this node's own agent) until the runner restarts; command timeout {} s",
                 cfg_.command_timeout.count() / 1000);

  // Housekeeping: retry subscriptions that failed, apply PubSub mode changes,
  // and a summary of the control channel's counters every 10 s when they moved.
  int ticks = 0;
  while (sleep_for(2s)) {
    if (events_->connected()) resubscribe(false);
    if (++ticks % 5 == 0) log_control_summary();
  }
  log_control_summary();

  spdlog::info("stopping");
  events_->stop();
  direct_->stop();
  {
    std::lock_guard lk(tasks_mu_);
    tasks_closed_ = true;
  }
  tasks_cv_.notify_all();
  results_.close();
  stranger_results_.close();
  for (auto& t : workers_) t.join();
  workers_.clear();
  for (auto& t : senders_) t.join();
  senders_.clear();
  if (auto left = results_.size()) spdlog::warn("{} undelivered result(s) dropped at exit", left);
  spdlog::info("stopped");
  return 0;
}

// ---------------------------------------------------------------- subscriptions

void Runner::resubscribe(bool fresh_session) {
  std::lock_guard lk(subs_mu_);
  if (!subs_client_ || stopping()) return;
  auto& rest = *subs_client_;
  auto drop = [&](std::string& id, std::string_view topic) {
    if (id.empty()) return;
    try {
      auto r = rest.del("/subscribe/" + id);
      spdlog::debug("DELETE /subscribe/{} ({}): HTTP {}", id, topic, r.status);
    } catch (const probes::ProbeError& e) {
      spdlog::debug("DELETE /subscribe/{} ({}) failed: {}", id, topic, e.what());
    }
    id.clear();
  };
  auto add = [&](std::string& id, std::string_view topic) {
    try {
      auto r = rest.post("/subscribe", json({{"topic", topic}}).dump());
      json b = body_json(r);
      if (r.ok() && b.is_object() && b.contains("subscription_id") && b["subscription_id"].is_string()) {
        id = b["subscription_id"].get<std::string>();
        spdlog::info("subscribed {} (subscription {})", topic, id);
      } else {
        spdlog::error("subscribe {} failed: HTTP {}: {}", topic, r.status, probes::detail::snippet(r.body, 200));
      }
    } catch (const probes::ProbeError& e) {
      spdlog::error("subscribe {} failed: {}", topic, e.what());
    }
  };
  const bool want_control = !pubsub_disabled_.load();
  // Discover first, then control (the reference order); delete old ids before subscribing again.
  if (fresh_session) drop(discover_sub_id_, kDiscoverTopic);
  if (discover_sub_id_.empty()) add(discover_sub_id_, kDiscoverTopic);
  if (fresh_session || !want_control) drop(control_sub_id_, kControlTopic);
  if (want_control && control_sub_id_.empty()) add(control_sub_id_, kControlTopic);
}

void Runner::set_pubsub_disabled(bool disabled, std::string_view why) {
  bool was = pubsub_disabled_.exchange(disabled);
  if (was == disabled) return;
  if (disabled)
    spdlog::info("PubSub after discover disabled ({}): control topic unsubscribed, results go by DM only; "
                 "the discover topic stays subscribed", why);
  else
    spdlog::info("PubSub re-enabled ({}): control topic subscribed again, results topic fallback on", why);
  if (events_ && events_->connected()) resubscribe(false);
}

// ---------------------------------------------------------------- workers

bool Runner::submit(Task t) {
  {
    std::lock_guard lk(tasks_mu_);
    if (tasks_closed_ || tasks_.size() >= cfg_.command_backlog_max) return false;
    tasks_.push_back(std::move(t));
  }
  tasks_cv_.notify_one();
  return true;
}

void Runner::worker_loop() {
  probes::RestClient rest(cfg_.api_base, cfg_.token, cfg_.rest_timeout);
  while (true) {
    Task t;
    {
      std::unique_lock lk(tasks_mu_);
      tasks_cv_.wait(lk, [&] { return tasks_closed_ || !tasks_.empty(); });
      if (tasks_closed_) return;
      t = std::move(tasks_.front());
      tasks_.pop_front();
    }
    try {
      t(rest);
    } catch (const std::exception& e) {
      spdlog::error("command task failed: {}", e.what());
    }
  }
}

Result Runner::base_result(std::string kind, const Command& cmd) const {
  Result r;
  r.kind = std::move(kind);
  if (!cmd.command_id.empty()) r.command_id = cmd.command_id;
  auto rid = cmd.request_id();
  r.request_id = rid.empty() ? make_uuid4() : rid;
  return r;
}

void Runner::answer_at_once(const Command& cmd, const std::string& reply_to) {
  if (cmd.action == "noop_ack") {
    Result r = base_result("ack", cmd);
    r.details = {{"control_channel", control_channel_state()}};
    enqueue(std::move(r), reply_to);
    return;
  }
  Result r = base_result("discover_reply", cmd);
  r.details = {{"node", cfg_.node_name}, {"control_channel", control_channel_state()}};
  enqueue(std::move(r), reply_to);
  // After the reply is queued (spec §2.9); not a one-way door.
  if (cfg_.no_pubsub_after_discover) set_pubsub_disabled(true, "--no-pubsub-after-discover");
  else if (cmd.wants_no_pubsub_after_discover()) set_pubsub_disabled(true, "discover flag");
  else set_pubsub_disabled(false, "discover without the flag");
}

Result Runner::timed_out(const Command& cmd, std::string why) {
  stats_.commands_timed_out++;
  std::string kind = "error";
  if (cmd.action == "send_dm") kind = "send_result";
  else if (is_phase_b_action(cmd.action)) kind = phase_b_result_kind(cmd.action);
  Result r = base_result(std::move(kind), cmd);
  r.outcome = Result::error_outcome(fmt::format("runner command timeout ({} s): {}", cfg_.command_timeout.count() / 1000, why));
  r.details = {{"action", cmd.action}};
  if (noisy_log_.allow()) spdlog::warn("command {} {} timed out: {}", cmd.action, cmd.command_id, why);
  return r;
}

void Runner::execute(const Command& cmd, const std::string& reply_to, probes::RestClient& rest, Deadline deadline) {
  try {
    if (cmd.action == "send_dm") {
      do_send_dm(cmd, reply_to, base_result("send_result", cmd), rest, deadline);
    } else if (is_phase_b_action(cmd.action)) {
      do_phase_b(cmd, reply_to, rest, deadline);
    } else {
      spdlog::warn("unknown action {} (command {})", cmd.action, cmd.command_id);
      Result r = base_result("error", cmd);
      r.outcome = Result::error_outcome("unknown action: " + cmd.action);
      r.details = {{"action", cmd.action}};
      enqueue(std::move(r), reply_to);
    }
  } catch (const std::exception& e) {
    spdlog::error("command {} {} failed: {}", cmd.action, cmd.command_id, e.what());
    Result r = base_result("error", cmd);
    r.outcome = Result::error_outcome(std::string(e.what()));
    r.details = {{"action", cmd.action}};
    enqueue(std::move(r), reply_to);
  }
}

void Runner::do_send_dm(const Command& cmd, const std::string& reply_to, Result r, probes::RestClient& rest,
                        Deadline deadline) {
  const json& p = cmd.params;
  const std::string rid = *r.request_id;
  if (auto it = p.find("digest_marker"); it != p.end() && it->is_string() && !it->get<std::string>().empty())
    r.digest_marker = it->get<std::string>();

  auto rit = p.find("recipient_aid");
  if (rit == p.end() || !rit->is_string() || rit->get<std::string>().empty()) {
    r.outcome = Result::error_outcome("missing recipient_aid");
    enqueue(std::move(r), reply_to);
    return;
  }
  const std::string recipient = rit->get<std::string>();

  std::string payload;
  if (auto it = p.find("payload_b64"); it != p.end() && !it->is_null()) {
    std::optional<std::string> dec;
    if (it->is_string()) dec = base64_decode(it->get<std::string>());
    if (!dec) {
      r.outcome = Result::error_outcome(std::string("bad payload base64: ") +
                                        (it->is_string() ? "not standard base64 with padding" : "expected a string"));
      r.details = {{"recipient_aid", recipient}};
      enqueue(std::move(r), reply_to);
      return;
    }
    payload = std::move(*dec);
  }
  if (payload.rfind(kTestPrefix, 0) != 0) {
    try {
      payload = encode_hop({rid, r.digest_marker.value_or(rid), reply_to, payload});
    } catch (const ProtocolError& e) {
      r.outcome = Result::error_outcome(std::string("cannot frame the hop: ") + e.what());
      r.details = {{"recipient_aid", recipient}};
      enqueue(std::move(r), reply_to);
      return;
    }
  }

  json body = {{"agent_id", recipient}, {"payload", base64_encode(payload)}};
  if (auto v = int_param(p, "require_ack_ms")) body["require_ack_ms"] = *v;
  if (param_truthy(p, "prefer_raw_quic_if_connected")) body["prefer_raw_quic_if_connected"] = true;
  if (auto v = int_param(p, "raw_quic_receive_ack_ms")) body["raw_quic_receive_ack_ms"] = *v;
  if (param_truthy(p, "stop_fallback_on_raw_error")) body["stop_fallback_on_raw_error"] = true;
  if (param_truthy(p, "require_gossip")) body["require_gossip"] = true;
  const std::string text = dump_json(body);

  const auto t0 = std::chrono::steady_clock::now();
  auto policy = daemon_request_policy(cfg_.retry_backoff);
  // No new attempt after the command's timeout, and none runs past it.
  policy.give_up_after = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - t0);
  json last_error;
  std::optional<int> last_status;
  json success;
  bool out_of_time = false;
  auto send = [&](int attempt) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      out_of_time = true;
      return AttemptOutcome::final_failure;
    }
    try {
      std::optional<probes::RestClient> bounded;
      auto& client = left < rest.timeout() ? bounded.emplace(cfg_.api_base, cfg_.token, left) : rest;
      auto resp = client.post("/direct/send", text);
      json b = body_json(resp);
      last_status = static_cast<int>(resp.status);
      if (resp.ok() && b.is_object() && json_truthy(b.value("ok", json(false)))) {
        success = std::move(b);
        return AttemptOutcome::success;
      }
      last_error = std::move(b);
      // A 2xx without ok:true is retried like a server error (spec §8 weakness 11).
      auto outcome = resp.ok() ? AttemptOutcome::retry : classify_http_status(resp.status);
      spdlog::warn("send_dm {} to {}: attempt {}/{}: HTTP {}: {}{}", rid, short_id(recipient), attempt,
                   policy.max_attempts, resp.status, probes::detail::snippet(resp.body, 200),
                   outcome == AttemptOutcome::final_failure ? " (final)" : "");
      return outcome;
    } catch (const probes::ProbeError& e) {
      last_status.reset();
      last_error = {{"error", e.what()}};
      if (std::chrono::steady_clock::now() >= deadline) out_of_time = true;
      spdlog::warn("send_dm {} to {}: attempt {}/{}: {}", rid, short_id(recipient), attempt, policy.max_attempts,
                   e.what());
      return AttemptOutcome::retry;
    }
  };
  const int attempts = policy.run(send, [this](std::chrono::milliseconds d) { return sleep_for(d); }).attempts;
  const auto wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  if (!success.is_null()) {
    r.details = {{"path", success.value("path", json(nullptr))},
                 {"retries_used", success.value("retries_used", json(nullptr))},
                 {"remote_request_id", success.value("request_id", json(nullptr))},
                 {"wall_clock_ms", wall_ms},
                 {"recipient_aid", recipient},
                 {"runner_attempts", attempts}};
    spdlog::info("send_dm {} to {} ok: path={} attempts={} in {} ms", rid, short_id(recipient),
                 success.value("path", json(nullptr)).dump(), attempts, wall_ms);
  } else {
    if (out_of_time || std::chrono::steady_clock::now() >= deadline) {
      stats_.commands_timed_out++;
      last_error = {{"error", fmt::format("runner command timeout ({} s) reached; last attempt: {}",
                                          cfg_.command_timeout.count() / 1000,
                                          last_error.is_null() ? std::string("none") : dump_json(last_error))}};
    }
    if (last_error.is_null()) last_error = {{"error", "stopped"}};
    r.outcome = Result::error_outcome(last_error, last_status);
    r.details = {{"wall_clock_ms", wall_ms}, {"recipient_aid", recipient}, {"runner_attempts", attempts}};
    if (last_status) r.details["http_status"] = *last_status;
    spdlog::warn("send_dm {} to {} failed after {} attempt(s) in {} ms: {}", rid, short_id(recipient), attempts,
                 wall_ms, dump_json(last_error));
  }
  enqueue(std::move(r), reply_to);
}

void Runner::do_phase_b(const Command& cmd, const std::string& reply_to, probes::RestClient& rest,
                        Deadline deadline) {
  Result r = base_result(phase_b_result_kind(cmd.action), cmd);
  const auto t0 = std::chrono::steady_clock::now();
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - t0);
  // A daemon that is restarting refuses connections for a moment: the action,
  // which it never saw, is sent again for up to 10 s (within the command's timeout).
  std::optional<probes::RestClient> bounded;
  auto& client = left < rest.timeout() ? bounded.emplace(cfg_.api_base, cfg_.token, std::max(left, 1ms)) : rest;
  auto out = run_phase_b_action(client, cmd.action, cmd.params,
                                daemon_ready_policy(std::clamp(left, 1ms, std::chrono::milliseconds(10'000))));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  r.outcome = std::move(out.outcome);
  if (out.details) r.details = std::move(*out.details);
  if (r.ok())
    spdlog::info("{} {} ok in {} ms", cmd.action, *r.request_id, ms);
  else
    spdlog::warn("{} {} failed in {} ms: {}", cmd.action, *r.request_id, ms, probes::detail::snippet(dump_json(r.outcome), 300));
  enqueue(std::move(r), reply_to);
}

// ---------------------------------------------------------------- outbound

void Runner::enqueue(Result r, std::string target_aid) {
  if (r.node.empty()) r.node = cfg_.node_name;
  r.agent_id = agent_id_;
  r.machine_id = machine_id_;
  r.ts_ms = unix_ms_now();
  std::string kind = r.kind;
  // Kept for a repeat of the command by the same (trusted) sender only.
  if (r.command_id && !target_aid.empty() && trust_.is_trusted(target_aid))
    recent_results_.put(target_aid + "|" + *r.command_id, r);
  auto& queue = target_aid.empty() || trust_.is_trusted(target_aid) ? results_ : stranger_results_;
  auto rep = queue.push({std::move(r), std::move(target_aid)});
  stats_.results_dropped += rep.pruned_stale + rep.dropped_oldest + (rep.dropped_new ? 1 : 0);
  if (rep.pruned_stale && noisy_log_.allow())
    spdlog::warn("pruned {} result(s) older than {} s from the outbound queue", rep.pruned_stale,
                 cfg_.result_max_age.count() / 1000);
  if (rep.dropped_oldest && noisy_log_.allow())
    spdlog::warn("outbound result queue full ({}): dropped the oldest result", cfg_.result_queue_max);
  if (rep.dropped_new && noisy_log_.allow()) spdlog::error("outbound result queue full: dropped the new {} result", kind);
}

void Runner::stranger_sender_loop() {
  probes::RestClient rest(cfg_.api_base, cfg_.token, 2s);
  while (!stopping()) {
    auto item = stranger_results_.pop(500ms);
    if (!item) continue;
    try {
      json body = {{"agent_id", item->target_aid}, {"payload", base64_encode(encode_result_dm(item->result))}};
      auto resp = rest.post("/direct/send", body.dump());
      if (!resp.ok() && noisy_log_.allow())
        spdlog::debug("{} result to {}: HTTP {} (not retried)", item->result.kind, short_id(item->target_aid), resp.status);
    } catch (const std::exception& e) {
      if (noisy_log_.allow())
        spdlog::debug("{} result to {}: {} (not retried)", item->result.kind, short_id(item->target_aid), e.what());
    }
  }
}

void Runner::sender_loop() {
  probes::RestClient rest(cfg_.api_base, cfg_.token, cfg_.rest_timeout);
  while (!stopping()) {
    auto item = results_.pop(500ms);
    if (!item) continue;
    try {
      deliver(*item, rest);
    } catch (const std::exception& e) {
      spdlog::error("delivering a {} result failed: {}", item->result.kind, e.what());
    }
  }
}

void Runner::deliver(ResultQueue::Item& item, probes::RestClient& rest) {
  const Result& r = item.result;
  const std::string rid = r.request_id.value_or("-");
  const auto policy = daemon_request_policy(cfg_.retry_backoff);
  if (!item.target_aid.empty()) {
    std::string frame;
    try {
      frame = encode_result_dm(r);
    } catch (const ProtocolError& e) {
      spdlog::error("cannot encode the {} result {}: {}; dropped", r.kind, rid, e.what());
      return;
    }
    json body = {{"agent_id", item.target_aid},
                 {"payload", base64_encode(frame)},
                 {"prefer_raw_quic_if_connected", true},
                 {"stop_fallback_on_raw_error", true}};
    // A durable DM is capped at 49,152 bytes (node-api.md §2.7): a bigger result (a
    // state-commits read of a large group) goes as a direct DM without the app ack
    // (16 MiB cap) rather than being refused and flooded over PubSub to every node.
    // A lost one is covered by the orchestrator sending the command again.
    if (frame.size() > kDurableDmCap) body["require_durable_app_ack"] = false;
    if (cfg_.result_raw_quic_ack_ms) body["raw_quic_receive_ack_ms"] = *cfg_.result_raw_quic_ack_ms;
    const std::string text = body.dump();
    std::string last;
    auto send = [&](int attempt) {
      auto outcome = AttemptOutcome::retry;
      try {
        auto resp = rest.post("/direct/send", text);
        json b = body_json(resp);
        if (resp.ok() && b.is_object() && json_truthy(b.value("ok", json(false)))) {
          spdlog::debug("result {} {} → {} by DM (path {})", r.kind, rid, short_id(item.target_aid),
                        b.value("path", json(nullptr)).dump());
          return AttemptOutcome::success;
        }
        last = fmt::format("HTTP {}: {}", resp.status, probes::detail::snippet(resp.body, 200));
        if (!resp.ok()) outcome = classify_http_status(resp.status);
      } catch (const probes::ProbeError& e) {
        last = e.what();
      }
      spdlog::warn("result {} {} DM to {}: attempt {}/{} failed: {}{}", r.kind, rid, short_id(item.target_aid),
                   attempt, policy.max_attempts, last, outcome == AttemptOutcome::final_failure ? " (final)" : "");
      return outcome;
    };
    switch (policy.run(send, [this](std::chrono::milliseconds d) { return sleep_for(d); }).end) {
      case RetryEnd::succeeded:
      case RetryEnd::interrupted: return;
      case RetryEnd::final_failure:
      case RetryEnd::exhausted: break;
    }
    if (pubsub_disabled_.load()) {
      spdlog::error("result {} {} dropped: DM to {} failed ({}) and PubSub after discover is disabled", r.kind, rid,
                    short_id(item.target_aid), last);
      return;
    }
    spdlog::warn("result {} {}: DM failed, falling back to pubsub {}", r.kind, rid, kResultsTopic);
  } else if (pubsub_disabled_.load()) {
    spdlog::error("result {} {} dropped: no anchor known and PubSub after discover is disabled", r.kind, rid);
    return;
  }
  if (!publish_result(r, rest)) spdlog::error("result {} {} dropped: publish on {} failed", r.kind, rid, kResultsTopic);
}

bool Runner::publish_result(const Result& r, probes::RestClient& rest) {
  std::string text;
  try {
    text = encode_topic_result(r);
  } catch (const ProtocolError& e) {
    spdlog::error("cannot encode the {} result: {}", r.kind, e.what());
    return false;
  }
  const std::string body = json({{"topic", kResultsTopic}, {"payload", base64_encode(text)}}).dump();
  const auto policy = daemon_request_policy(cfg_.retry_backoff);
  auto publish = [&](int attempt) {
    std::string last;
    auto outcome = AttemptOutcome::retry;
    try {
      auto resp = rest.post("/publish", body);
      if (resp.ok()) {
        spdlog::debug("result {} published on {}", r.kind, kResultsTopic);
        return AttemptOutcome::success;
      }
      last = fmt::format("HTTP {}: {}", resp.status, probes::detail::snippet(resp.body, 200));
      outcome = classify_http_status(resp.status);
    } catch (const probes::ProbeError& e) {
      last = e.what();
    }
    spdlog::warn("publish {} on {}: attempt {}/{} failed: {}{}", r.kind, kResultsTopic, attempt, policy.max_attempts,
                 last, outcome == AttemptOutcome::final_failure ? " (final)" : "");
    return outcome;
  };
  return policy.run(publish, [this](std::chrono::milliseconds d) { return sleep_for(d); }).end == RetryEnd::succeeded;
}

}  // namespace x0x::runners
