#include "probes/sse.h"

#include <curl/curl.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "probes/curl_slist.h"
#include "probes/rest_client.h"

namespace x0x::probes {

// ---------------------------------------------------------------- SseParser

void SseParser::feed(std::string_view chunk, const std::function<void(SseEvent&&)>& on_event) {
  std::size_t i = 0;
  if (skip_lf_ && !chunk.empty()) {
    // The previous chunk ended with '\r': a '\n' right here belongs to it.
    skip_lf_ = false;
    if (chunk.front() == '\n') i = 1;
  }
  while (i < chunk.size()) {
    const std::size_t j = chunk.find_first_of("\r\n", i);
    if (j == std::string_view::npos) {
      line_.append(chunk.substr(i));
      return;
    }
    const bool cr = chunk[j] == '\r';
    std::size_t next = j + 1;
    if (cr) {
      if (next < chunk.size()) {
        if (chunk[next] == '\n') ++next;
      } else {
        skip_lf_ = true;
      }
    }
    if (line_.empty()) {
      process_line(chunk.substr(i, j - i), on_event);
    } else {
      line_.append(chunk.substr(i, j - i));
      std::string line = std::move(line_);
      line_.clear();
      process_line(line, on_event);
    }
    i = next;
  }
}

void SseParser::process_line(std::string_view line, const std::function<void(SseEvent&&)>& on_event) {
  if (at_stream_start_) {
    at_stream_start_ = false;
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    if (line.substr(0, bom.size()) == bom) line.remove_prefix(bom.size());
  }
  if (line.empty()) {
    // Dispatch. No data line seen: nothing to dispatch, just forget the name.
    if (!has_data_) {
      event_type_.clear();
      return;
    }
    SseEvent ev;
    if (!data_.empty() && data_.back() == '\n') data_.pop_back();
    ev.data = std::move(data_);
    if (!event_type_.empty()) ev.event = std::move(event_type_);
    ev.id = last_id_;
    data_.clear();
    event_type_.clear();
    has_data_ = false;
    on_event(std::move(ev));
    return;
  }
  if (line.front() == ':') return;  // comment, e.g. ":ping"

  std::string_view field = line, value;
  if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
    has_data_ = true;
  } else if (field == "event") {
    event_type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  }
  // "retry" and unknown fields: ignored.
}

void SseParser::reset() {
  line_.clear();
  data_.clear();
  event_type_.clear();
  last_id_.clear();
  has_data_ = false;
  skip_lf_ = false;
  at_stream_start_ = true;
}

// ---------------------------------------------------------------- SseStream

namespace {

std::string what_of(std::exception_ptr p) {
  try {
    std::rethrow_exception(p);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

// Per-connection state handed to the libcurl callbacks.
struct SseConnection {
  CURL* easy = nullptr;
  SseParser parser;
  long status = 0;  // final (non-1xx) status once headers are complete
  std::string error_body;
  std::function<void(SseEvent&&)> dispatch;
  std::atomic<bool>* stopping = nullptr;
  std::function<void()> on_200;
};

namespace {

std::size_t sse_header_cb(char* buf, std::size_t size, std::size_t n, void* ud) {
  auto* c = static_cast<SseConnection*>(ud);
  const std::string_view line(buf, size * n);
  if (line == "\r\n" || line == "\n") {
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200) {
      c->status = code;
      if (code == 200) c->on_200();
    }
  }
  return size * n;
}

std::size_t sse_write_cb(char* ptr, std::size_t size, std::size_t n, void* ud) {
  auto* c = static_cast<SseConnection*>(ud);
  const std::size_t len = size * n;
  if (c->stopping->load()) return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  if (c->status == 200) {
    c->parser.feed(std::string_view(ptr, len), c->dispatch);
  } else if (c->error_body.size() < 1024) {
    c->error_body.append(ptr, std::min(len, 1024 - c->error_body.size()));
  }
  return len;
}

int sse_xferinfo_cb(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* c = static_cast<SseConnection*>(ud);
  return c->stopping->load() ? 1 : 0;  // non-zero aborts (CURLE_ABORTED_BY_CALLBACK)
}

}  // namespace

SseStream::SseStream(Options opts, std::function<void(const SseEvent&)> on_event,
                     std::function<void(bool connected)> on_state)
    : opts_(std::move(opts)), on_event_(std::move(on_event)), on_state_(std::move(on_state)) {
  detail::curl_global_init_once();
  while (!opts_.base_url.empty() && opts_.base_url.back() == '/') opts_.base_url.pop_back();
  if (opts_.initial_backoff.count() <= 0) opts_.initial_backoff = std::chrono::milliseconds(1);
  if (opts_.max_backoff < opts_.initial_backoff) opts_.max_backoff = opts_.initial_backoff;
  multi_ = curl_multi_init();
  if (!multi_) throw ProbeError("curl_multi_init failed for " + opts_.base_url + opts_.path);
}

SseStream::~SseStream() {
  stop();
  if (thread_.joinable()) thread_.join();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void SseStream::start() {
  if (thread_.joinable()) {
    if (!finished_.load() && !stopping_.load()) return;  // already running
    thread_.join();
  }
  {
    std::lock_guard lk(mu_);
    stopping_ = false;
  }
  finished_ = false;
  worker_id_ = std::thread::id{};
  thread_ = std::thread([this] { run(); });
}

void SseStream::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  curl_multi_wakeup(static_cast<CURLM*>(multi_));  // interrupts curl_multi_poll
  // From a callback (the reader thread itself): only request the stop; the
  // thread is joined by a later stop(), start() or the destructor.
  if (worker_id_.load() == std::this_thread::get_id()) return;
  if (thread_.joinable()) thread_.join();
}

bool SseStream::wait_connected(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return connected_.load(); });
}

bool SseStream::connected() const { return connected_.load(); }
std::uint64_t SseStream::connects() const { return connects_.load(); }

std::string SseStream::last_error() const {
  std::lock_guard lk(mu_);
  return last_error_;
}

void SseStream::set_error(std::string e) {
  std::lock_guard lk(mu_);
  last_error_ = std::move(e);
}

void SseStream::set_connected(bool c) {
  bool prev;
  {
    std::lock_guard lk(mu_);
    prev = connected_.exchange(c);
  }
  cv_.notify_all();
  if (prev != c && on_state_) {
    try {
      on_state_(c);
    } catch (...) {
      set_error("on_state callback threw: " + what_of(std::current_exception()));
    }
  }
}

void SseStream::run() {
  worker_id_ = std::this_thread::get_id();
  auto backoff = opts_.initial_backoff;
  while (!stopping_.load()) {
    const bool got_200 = run_once();
    set_connected(false);
    if (stopping_.load() || !opts_.reconnect) break;
    if (got_200) backoff = opts_.initial_backoff;
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, backoff, [&] { return stopping_.load(); });
    }
    backoff = std::min(backoff * 2, opts_.max_backoff);
  }
  worker_id_ = std::thread::id{};
  finished_ = true;
}

bool SseStream::run_once() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  CURL* easy = curl_easy_init();
  if (!easy) {
    set_error("curl_easy_init failed");
    return false;
  }
  const std::string url = opts_.base_url + (opts_.path.empty() || opts_.path.front() != '/' ? "/" : "") + opts_.path;

  SseConnection conn;
  conn.easy = easy;
  conn.stopping = &stopping_;
  bool got_200 = false;
  conn.on_200 = [&] {
    got_200 = true;
    ++connects_;
    set_connected(true);
  };
  conn.dispatch = [this](SseEvent&& ev) {
    if (!on_event_) return;
    try {
      on_event_(ev);
    } catch (...) {
      set_error("on_event callback threw: " + what_of(std::current_exception()));
    }
  };

  CurlSlist headers;
  auto add_header = [&](const std::string& h) {
    if (curl_slist* next = curl_slist_append(headers.get(), h.c_str())) {
      (void)headers.release();
      headers.reset(next);
    }
  };
  add_header("Accept: text/event-stream");
  add_header("Cache-Control: no-cache");
  if (!opts_.token.empty()) add_header("Authorization: Bearer " + opts_.token);

  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // loopback only: ignore http_proxy & co.
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 0L);       // a stream has no end
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 0L);  // idle streams are fine
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 0L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &sse_header_cb);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &conn);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &sse_write_cb);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &conn);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &sse_xferinfo_cb);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &conn);

  CURLcode result = CURLE_OK;
  bool done = false;
  std::string multi_error;
  if (CURLMcode mc = curl_multi_add_handle(multi, easy); mc != CURLM_OK) {
    multi_error = curl_multi_strerror(mc);
  } else {
    while (!stopping_.load()) {
      int still_running = 0;
      CURLMcode mc2 = curl_multi_perform(multi, &still_running);
      if (mc2 != CURLM_OK) {
        multi_error = curl_multi_strerror(mc2);
        break;
      }
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
          result = msg->data.result;
          done = true;
        }
      }
      if (done || still_running == 0) break;
      // Woken early by curl_multi_wakeup() from stop().
      mc2 = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
      if (mc2 != CURLM_OK) {
        multi_error = curl_multi_strerror(mc2);
        break;
      }
    }
    curl_multi_remove_handle(multi, easy);
  }
  curl_easy_cleanup(easy);

  if (stopping_.load()) {
    set_error("stopped");
  } else if (!multi_error.empty()) {
    set_error("GET " + url + ": " + multi_error);
  } else if (done && result != CURLE_OK) {
    set_error("GET " + url + ": " + (errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(result))));
  } else if (conn.status != 200) {
    set_error("GET " + url + ": HTTP " + std::to_string(conn.status) + ": " + detail::snippet(conn.error_body));
  } else {
    set_error("GET " + url + ": server closed the stream");
  }
  return got_200;
}

}  // namespace x0x::probes
