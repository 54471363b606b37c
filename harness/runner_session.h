// One orchestrator session with the runners of a fleet, through the anchor's
// REST API (spec mesh-protocol.md §2, §3.3 steps 1–8): the anchor's health and
// agent id, the legacy results-topic subscription (removed at the end, which
// the reference never does), both SSE streams feeding one result bus,
// discovery that republishes until every expected runner answered, and a
// readiness probe (noop_ack over the DM path) instead of a blind wait.
//
// Every matrix (Phase A now, Phase B next) is a generator of commands plus a
// pure checker over what the bus recorded; this session and the dispatcher
// (harness/command_dispatcher.h) are shared by all of them.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runners/control_protocol.h"

namespace x0x::probes {
class RestClient;
class SseStream;
}  // namespace x0x::probes

namespace x0x::harness {

using SessionClock = std::chrono::steady_clock;
using ProgressFn = std::function<void(const std::string&)>;

class SessionError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SessionOptions {
  std::string anchor_base_url;  // the anchor daemon's REST API
  std::string anchor_token;     // never logged
  std::vector<std::string> nodes;  // expected runner labels (the inventory), in order
  std::chrono::milliseconds discover{30'000};
  std::chrono::milliseconds republish_every{2'000};
  std::chrono::milliseconds request_timeout{15'000};
  bool no_pubsub_after_discover = false;  // set on every command (spec mesh-protocol.md §2.9)
};

struct RunnerIdentity {
  std::string agent_id, machine_id;
};

struct Receipt {
  runners::Result result;
  SessionClock::time_point arrived;
};

// Everything the runners reported, as plain data: what a checker reads. A
// copy of it (ResultBus::snapshot) is a recorded input for unit tests.
struct SessionResults {
  std::map<std::string, RunnerIdentity> runners;  // node -> identity, from this session's discover replies
  std::set<std::string> acked;                    // command ids of `ack` results
  // send_result and <action>_result by request id; an ok is never overwritten by a later error
  std::map<std::string, runners::Result> by_request;
  // received_dm by (reporting node, request id); the first one counts
  std::map<std::pair<std::string, std::string>, Receipt> receipts;
  // node -> why its runner refused this session's discover (it trusts another orchestrator)
  std::map<std::string, std::string> refused_by;
};

// The results of one session, fed by both SSE streams (thread-safe).
class ResultBus {
 public:
  // Only a reply to one of this session's probes proves a runner alive now.
  void expect_probe(const std::string& command_id);
  void add(const runners::Result& r, SessionClock::time_point arrived = SessionClock::now());
  // Blocks until pred(results) holds or the deadline passes; returns pred's last value.
  bool wait_until(SessionClock::time_point deadline, const std::function<bool(const SessionResults&)>& pred);
  // Runs fn on the results under the lock (for tallies and progress lines).
  void read(const std::function<void(const SessionResults&)>& fn) const;
  SessionResults snapshot() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> probes_;
  SessionResults results_;
};

// What the anchor's REST API said to one command DM.
struct Dispatch {
  int http_status = 0;       // 0: no HTTP answer
  std::string error;         // empty when the anchor accepted the DM (2xx)
  SessionClock::time_point sent_at{};
  int attempts = 0;
  bool accepted() const { return error.empty() && http_status >= 200 && http_status < 300; }
};

class RunnerSession {
 public:
  // Checks the anchor, subscribes, opens both streams; SessionError names what failed.
  RunnerSession(SessionOptions opts, ProgressFn progress = {});
  ~RunnerSession();  // streams stopped, results subscription removed
  RunnerSession(const RunnerSession&) = delete;
  RunnerSession& operator=(const RunnerSession&) = delete;

  // Discovery, then readiness of every discovered runner. Nodes that never
  // answered are listed in missing(); it is for the matrix to decide what that means.
  void discover();

  const SessionOptions& options() const { return opts_; }
  const std::string& anchor_aid() const { return anchor_aid_; }
  // Discovered node -> agent id.
  const std::map<std::string, std::string>& agents() const { return agents_; }
  const std::vector<std::string>& discovered() const { return discovered_; }
  const std::vector<std::string>& missing() const { return missing_; }
  double discover_secs() const { return discover_secs_; }
  ResultBus& bus() { return bus_; }

  // A client of the anchor's API; not thread-safe, so one per thread.
  probes::RestClient client() const;
  // One command DM through the anchor to a runner's agent (one attempt).
  Dispatch send(probes::RestClient& anchor, const runners::Command& cmd, const std::string& to_agent) const;
  // A command envelope of this session (anchor_aid set, request_id in params).
  runners::Command command(std::string command_id, std::string target_node, std::string action,
                           nlohmann::json params = nlohmann::json::object()) const;
  void say(const std::string& line) const {
    if (progress_) progress_(line);
  }

 private:
  void on_event(const std::string& event, const std::string& data);
  void close();  // idempotent

  SessionOptions opts_;
  ProgressFn progress_;
  std::string anchor_aid_, results_sub_;
  ResultBus bus_;
  std::unique_ptr<probes::SseStream> dm_stream_, ev_stream_;
  std::map<std::string, std::string> agents_;
  std::vector<std::string> discovered_, missing_;
  double discover_secs_ = 0;
};

}  // namespace x0x::harness
