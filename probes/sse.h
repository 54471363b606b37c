// Server-Sent-Events: an incremental parser, a background reader of one SSE
// endpoint (libcurl, reconnecting) and a small thread-safe collector for tests.
//
// x0xd writes "field:value" without a space after the colon; the parser accepts
// both forms, as the WHATWG event-stream rules require.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace x0x::probes {

struct SseEvent {
  std::string event = "message";
  std::string data;
  std::string id;  // the last event id seen on the stream (WHATWG "lastEventId")
};

// WHATWG event-stream parsing, fed with arbitrary chunks (split anywhere, also
// between '\r' and '\n'). Lines end with "\r\n", "\n" or "\r". Lines starting
// with ':' are comments. One optional space after the field's colon is dropped.
// "data" lines are joined with '\n'; a blank line dispatches the event, unless
// no data line was seen (then the event name is just cleared). "id" persists
// across events until changed; "retry" and unknown fields are ignored. A UTF-8
// BOM at the very start of the stream is skipped.
class SseParser {
 public:
  void feed(std::string_view chunk, const std::function<void(SseEvent&&)>& on_event);
  // Forget everything (partial line, pending event, last id): a new stream.
  void reset();

 private:
  void process_line(std::string_view line, const std::function<void(SseEvent&&)>& on_event);

  std::string line_;         // partial line carried over between chunks
  std::string data_;         // data buffer of the pending event
  std::string event_type_;   // event type of the pending event ("" = "message")
  std::string last_id_;
  bool has_data_ = false;
  bool skip_lf_ = false;     // previous chunk ended with '\r'
  bool at_stream_start_ = true;
};

// Reads one SSE endpoint on its own thread (libcurl multi interface) and calls
// on_event for every event, on that thread. When the server closes the stream,
// answers non-200 or is down, it reconnects after a backoff (initial_backoff
// doubling up to max_backoff, back to initial after a successful connection)
// until stop(), unless reconnect is false. on_state(true/false) is called on the
// reader thread when a connection is established / lost. Exceptions thrown by
// the callbacks are swallowed (see last_error()).
class SseStream {
 public:
  struct Options {
    std::string base_url;  // "http://127.0.0.1:12700"
    std::string path;      // "/events" or "/direct/events"
    std::string token;     // bearer token; empty = no Authorization header
    bool reconnect = true;
    std::chrono::milliseconds max_backoff{5000};
    std::chrono::milliseconds initial_backoff{250};
    std::chrono::milliseconds connect_timeout{5000};
  };

  SseStream(Options, std::function<void(const SseEvent&)> on_event,
            std::function<void(bool connected)> on_state = {});
  ~SseStream();  // stop() + join
  SseStream(const SseStream&) = delete;
  SseStream& operator=(const SseStream&) = delete;

  // Starts the reader thread (no-op when already running). May be called again
  // after stop(). Control one SseStream (start/stop/destroy) from one thread, and
  // never destroy it from inside its own callbacks.
  void start();
  // Interrupts the transfer (promptly, also in the middle of a blocking read or
  // a backoff wait) and joins the thread. Called from inside a callback, it only
  // requests the stop; the join then happens in a later stop() or ~SseStream.
  void stop();

  // True once HTTP 200 headers were received on the current connection; waits
  // up to timeout for that.
  bool wait_connected(std::chrono::milliseconds timeout);
  bool connected() const;
  std::uint64_t connects() const;  // successful (HTTP 200) connections so far
  // Why the last connection attempt ended, e.g. "HTTP 401: ..." or curl's text.
  std::string last_error() const;
  const Options& options() const { return opts_; }

 private:
  void run();
  bool run_once();  // one connection; returns true when it got HTTP 200
  void set_connected(bool c);
  void set_error(std::string e);

  Options opts_;
  std::function<void(const SseEvent&)> on_event_;
  std::function<void(bool)> on_state_;

  std::thread thread_;
  std::atomic<std::thread::id> worker_id_{};  // set by run() itself
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{true};  // run() returned (or never started)
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> connects_{0};
  void* multi_ = nullptr;  // CURLM*, created once, woken up by stop()

  mutable std::mutex mu_;  // guards last_error_ and pairs with cv_
  std::condition_variable cv_;
  std::string last_error_;
};

// Thread-safe event sink for tests: SseStream(..., [&](auto& e){ c.add(e); }).
class SseCollector {
 public:
  void add(const SseEvent& e) {
    {
      std::lock_guard lk(mu_);
      events_.push_back(e);
    }
    cv_.notify_all();
  }
  std::vector<SseEvent> snapshot() const {
    std::lock_guard lk(mu_);
    return events_;
  }
  std::size_t count() const {
    std::lock_guard lk(mu_);
    return events_.size();
  }
  void clear() {
    std::lock_guard lk(mu_);
    events_.clear();
  }
  // Waits until pred(events) holds (checked now and after every add), at most
  // `deadline`. pred runs with the collector's lock held: don't call back in.
  bool wait_for(std::function<bool(const std::vector<SseEvent>&)> pred,
                std::chrono::milliseconds deadline) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, deadline, [&] { return pred(events_); });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SseEvent> events_;
};

}  // namespace x0x::probes
