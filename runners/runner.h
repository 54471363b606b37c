// The test-runner agent beside each node (spec mesh-protocol.md §1.2, §2): listens
// for commands on its daemon's /events (discover + control topics) and
// /direct/events, executes them on a small worker pool and sends the results back
// to the orchestrator's anchor agent as "x0xtest|res|" DMs, with the legacy
// results topic as fallback.
//
// Differences from the reference runner (fixes of spec §8):
//  * commands run on a worker pool, not on the SSE reader thread (weakness 2);
//  * several result sender threads, so one undeliverable result does not hold
//    up the others (weakness 2);
//  * repeated commands (same command_id) run once (weakness 8), and a repeat
//    of a finished one gets its result again (the first may have been lost);
//  * one retry policy for every request to the daemon (runners/retry_policy.h):
//    400/401/403/404/409 are final, a 2xx with ok:false is retried, no sleep
//    after the last attempt (weakness 11);
//  * no_pubsub_after_discover is not a one-way door (weakness 7): the discover
//    topic stays subscribed and discovers are still answered; only control-topic
//    commands and the PubSub result fallback stop. A later discover without the
//    flag (and no --no-pubsub-after-discover) turns PubSub back on;
//  * a token that looks like a path but cannot be read is a configuration error,
//    not a literal token (weakness 6); bootstrap waits up to ~30 s for the daemon;
//  * commands are run only for the orchestrators it trusts (weakness 12, issue 12;
//    runners/control_trust.h), deduplicated per (sender, command_id), and their
//    results go only to the command's sender: never to an anchor_aid the command
//    names, and a hop never redirects them. Each sender's frames are rate limited,
//    every command has a timeout from its receipt (X0X_RUNNER_COMMAND_TIMEOUT_SECS),
//    discover and noop_ack are answered at once (never behind slow commands), and
//    lines caused by hostile traffic are throttled. Counters: control_stats().
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <set>
#include <unordered_set>
#include <vector>

#include <spdlog/common.h>

#include "probes/rest_client.h"
#include "probes/sse.h"
#include "runners/control_protocol.h"
#include "runners/control_stats.h"
#include "runners/control_trust.h"
#include "runners/sender_limits.h"

namespace x0x::runners {

// An agent id as the runner's logs show it: its first 16 hex digits.
inline std::string short_id(std::string_view aid) { return std::string(aid.substr(0, 16)); }

// A configuration or bootstrap problem: the runner exits with code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kDefaultApiBase = "http://127.0.0.1:12600";
inline constexpr std::string_view kDefaultTokenPath = "/var/lib/x0x/api-token";
inline constexpr int kDefaultResultRawQuicAckMs = 12000;
inline constexpr int kDefaultCommandTimeoutSecs = 30;

struct RunnerConfig {
  std::string node_name;
  std::string api_base{kDefaultApiBase};
  std::string token;         // never logged
  std::string token_source;  // for logs: "file /path" or "literal value"
  spdlog::level::level_enum log_level = spdlog::level::info;
  bool no_pubsub_after_discover = false;
  std::optional<int> result_raw_quic_ack_ms = kDefaultResultRawQuicAckMs;  // nullopt: omit the field

  // Tuning (the spec's constants; tests shorten them).
  std::size_t workers = 4;
  std::size_t senders = 3;
  std::size_t result_queue_max = 1024;
  std::chrono::milliseconds result_max_age{300'000};
  std::chrono::milliseconds retry_backoff{1000};   // first wait between attempts, then doubled
  std::chrono::milliseconds bootstrap_timeout{30'000};
  std::chrono::milliseconds rest_timeout{15'000};
  std::size_t dedup_capacity = 4096;
  std::size_t command_backlog_max = 4096;

  // The control channel's trust and bounds (issue 12).
  std::set<std::string> trusted_agents;  // X0X_RUNNER_TRUSTED_AGENTS; empty: trust on first discover
  // From a command's receipt to its result, queue wait included: a black-hole
  // recipient cannot hold a worker longer (X0X_RUNNER_COMMAND_TIMEOUT_SECS).
  std::chrono::milliseconds command_timeout{kDefaultCommandTimeoutSecs * 1000};
  // Inbound test frames per sender: a trusted orchestrator drives whole matrices
  // at once; anyone else (hop senders, strangers) gets a small budget.
  RateLimit trusted_rate{200, 2000};
  RateLimit stranger_rate{5, 50};
  std::size_t rate_limited_senders_max = 256;
};

// What came from the command line; unset means "use the environment, then the default".
struct ConfigInputs {
  std::optional<std::string> node_name, api_base, api_token, log_level, result_raw_quic_ack_ms;
  std::optional<std::string> trusted_agents, command_timeout_secs;
  bool no_pubsub_after_discover = false;
};

// "1", "true", "yes", "on" (case-insensitive, trimmed).
bool is_truthy(std::string_view v);
// X0X_RESULT_RAW_QUIC_ACK_MS: "" → 12000; none/off/false/0 → nullopt; else a positive int (ConfigError).
std::optional<int> parse_raw_quic_ack_ms(std::string_view v);
// X0X_RUNNER_COMMAND_TIMEOUT_SECS: "" → 30; else a positive number of seconds (ConfigError).
std::chrono::milliseconds parse_command_timeout(std::string_view v);
// DEBUG, INFO, WARNING/WARN, ERROR, CRITICAL, TRACE (case-insensitive); ConfigError otherwise.
spdlog::level::level_enum parse_log_level(std::string_view v);
// X0X_API_TOKEN: a readable file wins (content trimmed); a value containing '/' that is not a
// readable file is a ConfigError; otherwise the trimmed value itself. Empty → ConfigError.
// *source (optional) receives "file <path>" or "literal value"; the token is never in a message.
std::string resolve_token(std::string_view value, std::string* source = nullptr);
// Flags win over env (env("NODE_NAME") etc.), then the defaults. ConfigError on bad values.
RunnerConfig resolve_config(const ConfigInputs& flags,
                            const std::function<std::optional<std::string>(const char*)>& env);
// stderr, "<ISO time> <LEVEL> runner[<node>] <msg>".
void setup_logging(const std::string& node_name, spdlog::level::level_enum level);

std::string make_uuid4();
std::uint64_t unix_ms_now();

// The bounded outbound result queue (spec §2.7): capacity, max age relative to the
// newest item, drop-oldest when full. Thread-safe.
class ResultQueue {
 public:
  struct Item {
    Result result;
    std::string target_aid;  // "" → straight to the results topic
  };
  struct PushReport {
    std::size_t pruned_stale = 0;
    std::size_t dropped_oldest = 0;
    bool dropped_new = false;
  };

  ResultQueue(std::size_t capacity, std::chrono::milliseconds max_age);
  PushReport push(Item item);
  // Waits up to timeout; nullopt on timeout or once closed and empty.
  std::optional<Item> pop(std::chrono::milliseconds timeout);
  void close();
  std::size_t size() const;
  std::vector<Item> snapshot() const;

 private:
  const std::size_t capacity_;
  const std::chrono::milliseconds max_age_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  bool closed_ = false;
};

// Remembers the last `capacity` ids; insert() is false for an id already remembered.
class RecentIds {
 public:
  explicit RecentIds(std::size_t capacity) : capacity_(capacity) {}
  bool insert(const std::string& id);

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::unordered_set<std::string> set_;
  std::deque<std::string> order_;
};

// The results of recent commands by command_id, bounded: a repeated command
// whose result was lost on the way back (a node restarting under it) gets
// the same result again, and is never run twice.
class RecentResults {
 public:
  explicit RecentResults(std::size_t capacity) : capacity_(capacity) {}
  void put(const std::string& command_id, const Result& r);
  std::optional<Result> get(const std::string& command_id);

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, Result> results_;
  std::deque<std::string> order_;
};

class Runner {
 public:
  explicit Runner(RunnerConfig cfg);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Bootstrap, start the listeners, workers and senders, announce runner_ready,
  // then wait for stop(). Returns the exit code: 0 after stop(), 2 when the
  // bootstrap failed (daemon unreachable for bootstrap_timeout, token rejected).
  int run();
  // Thread-safe; run() returns promptly afterwards.
  void stop();

  // Inbound handlers (public for tests; normally called by the SSE readers).
  void on_direct_event(const probes::SseEvent& ev);
  void on_topic_event(const probes::SseEvent& ev);

  bool pubsub_disabled() const { return pubsub_disabled_.load(); }
  const std::string& agent_id() const { return agent_id_; }
  const ControlChannelStats& control_stats() const { return stats_; }

 private:
  using Task = std::function<void(probes::RestClient&)>;
  using Deadline = std::chrono::steady_clock::time_point;
  // Who a frame came from, as the runner's daemon vouches for it.
  struct Origin {
    std::string sender;     // 64 hex, or "" when the daemon named nobody
    bool verified = false;  // the daemon checked the sender's signature
  };

  bool bootstrap();  // false when stopped meanwhile; ConfigError on failure
  void dispatch(Command cmd, const Origin& from, std::string_view via);
  // One token from the sender's bucket; false (counted, throttled log) when it is empty.
  bool within_rate(const std::string& sender, std::string_view what);
  // An error result to an untrusted sender; the command never runs.
  void refuse(const Command& cmd, const std::string& sender, std::string_view via);
  void on_test_dm(DmMessage& m, const nlohmann::json& event, const std::string& sender, std::size_t bytes);
  // discover and noop_ack: answered on the listener thread, never queued behind slow commands.
  void answer_at_once(const Command& cmd, const std::string& reply_to);
  void execute(const Command& cmd, const std::string& reply_to, probes::RestClient& rest, Deadline deadline);
  void do_send_dm(const Command& cmd, const std::string& reply_to, Result base, probes::RestClient& rest,
                  Deadline deadline);
  // The Phase B actions (runners/phase_b_actions.h): one daemon call, tried once.
  void do_phase_b(const Command& cmd, const std::string& reply_to, probes::RestClient& rest, Deadline deadline);
  // The action's own result kind with a timeout error (counted).
  Result timed_out(const Command& cmd, std::string why);
  nlohmann::json control_channel_state() const;
  void log_control_summary();
  void set_pubsub_disabled(bool disabled, std::string_view why);

  void enqueue(Result r, std::string target_aid);
  void sender_loop();
  // Answers to strangers (refusals): their own small queue and thread, one
  // short attempt each, so a black-hole stranger cannot delay a trusted result.
  void stranger_sender_loop();
  void deliver(ResultQueue::Item& item, probes::RestClient& rest);
  bool publish_result(const Result& r, probes::RestClient& rest);

  void worker_loop();
  bool submit(Task t);

  // Subscriptions on the discover/control topics; fresh_session deletes old ids first.
  void resubscribe(bool fresh_session);

  // Sleeps up to d; false when stop() was requested meanwhile.
  bool sleep_for(std::chrono::milliseconds d);
  bool stopping() const { return stopping_.load(); }
  Result base_result(std::string kind, const Command& cmd) const;

  RunnerConfig cfg_;
  std::string agent_id_, machine_id_;
  std::uint64_t started_at_ms_ = 0;

  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;

  std::atomic<bool> pubsub_disabled_{false};
  std::mutex anchor_mu_;
  std::string last_orchestrator_;  // the last trusted command sender: where legacy v0 hops are reported

  TrustedOrchestrators trust_;
  SenderRateLimiter limiter_;
  LogThrottle noisy_log_;  // lines that strangers' traffic causes
  ControlChannelStats stats_;
  std::uint64_t last_summary_total_ = 0;

  RecentIds seen_commands_;
  RecentResults recent_results_;
  ResultQueue results_;
  ResultQueue stranger_results_;

  std::mutex tasks_mu_;
  std::condition_variable tasks_cv_;
  std::deque<Task> tasks_;
  bool tasks_closed_ = false;

  std::mutex subs_mu_;
  std::unique_ptr<probes::RestClient> subs_client_;  // used under subs_mu_ only
  std::string discover_sub_id_, control_sub_id_;

  std::vector<std::thread> workers_, senders_;
  std::unique_ptr<probes::SseStream> events_, direct_;
};

}  // namespace x0x::runners
