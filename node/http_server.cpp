#include <utility>  // before Boost.Asio: 1.74 misses it under C++20
#include "node/http_server.h"

#include "node/accept_guard.h"

#include <nlohmann/json.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>
#include <vector>

namespace x0x::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {


// A connection that became an SSE stream. Writes are serialised on its strand;
// a one-byte read notices the client going away.
class SseSession : public SseSink, public std::enable_shared_from_this<SseSession> {
 public:
  SseSession(tcp::socket sock, std::size_t limit, std::size_t byte_limit, std::chrono::seconds ping_every, bool pings)
      : sock_(std::move(sock)), strand_(sock_.get_executor()), ping_timer_(sock_.get_executor()),
        limit_(limit), byte_limit_(byte_limit), ping_every_(ping_every), pings_(pings) {}

  void start() {
    auto self = shared_from_this();
    static const auto header = std::make_shared<const std::string>(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Connection: close\r\n\r\n");
    asio::dispatch(strand_, [self] {
      self->held_bytes_ += header->size();
      self->queue_.push_front(header);
      self->write_next();
      self->watch_close();
      if (self->pings_) self->schedule_ping();
    });
  }

  Push push(std::shared_ptr<const std::string> chunk) override {
    if (closed_.load()) return Push::closed;
    // Bytes, not only events: a few large DMs to a stalled client must not pile up.
    if (held_bytes_.load() + chunk->size() > byte_limit_) {
      asio::post(strand_, [self = shared_from_this()] { self->close(); });
      return closed_.exchange(true) ? Push::closed : Push::dropped_client;
    }
    held_bytes_ += chunk->size();
    bool dropped = false;
    {
      std::lock_guard lk(mu_);
      incoming_.push_back(std::move(chunk));
      if (incoming_.size() > limit_) {
        held_bytes_ -= incoming_.front()->size();
        incoming_.pop_front();
        dropped = true;
      }
    }
    asio::post(strand_, [self = shared_from_this()] { self->pull(); });
    return dropped ? Push::dropped_oldest : Push::queued;
  }

 private:
  void pull() {
    {
      std::lock_guard lk(mu_);
      while (!incoming_.empty()) {
        queue_.push_back(std::move(incoming_.front()));
        incoming_.pop_front();
      }
    }
    while (queue_.size() > limit_) {  // the count limit holds for what waits on the strand too
      held_bytes_ -= queue_.front()->size();
      queue_.pop_front();
    }
    if (!writing_) write_next();
  }

  void write_next() {
    if (closed_ || queue_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    // Coalesce what is queued into one write.
    batch_.clear();
    while (!queue_.empty() && batch_.size() < 64) {
      batch_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    buffers_.clear();
    for (auto& b : batch_) buffers_.emplace_back(asio::buffer(*b));
    asio::async_write(sock_, buffers_, asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      for (auto& b : self->batch_) self->held_bytes_ -= b->size();
      self->batch_.clear();
      if (ec) return self->close();
      self->write_next();
    }));
  }

  void watch_close() {
    sock_.async_read_some(asio::buffer(scratch_), asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->watch_close();  // ignore anything the client sends
    }));
  }

  void schedule_ping() {
    ping_timer_.expires_after(ping_every_);
    ping_timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      static const auto ping = std::make_shared<const std::string>(":ping\n\n");
      self->held_bytes_ += ping->size();
      self->queue_.push_back(ping);
      if (!self->writing_) self->write_next();
      self->schedule_ping();
    }));
  }

  void close() {
    closed_ = true;
    if (sock_closed_) return;
    sock_closed_ = true;
    beast::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    ping_timer_.cancel();
  }

  tcp::socket sock_;
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer ping_timer_;
  std::size_t limit_, byte_limit_;
  std::atomic<std::size_t> held_bytes_{0};  // queued and being written
  bool sock_closed_ = false;                // on the strand
  std::chrono::seconds ping_every_;
  bool pings_;
  std::mutex mu_;
  std::deque<std::shared_ptr<const std::string>> incoming_;  // filled by push()
  std::deque<std::shared_ptr<const std::string>> queue_;     // owned by the strand
  std::vector<std::shared_ptr<const std::string>> batch_;
  std::vector<asio::const_buffer> buffers_;
  bool writing_ = false;
  std::atomic<bool> closed_{false};
  std::array<char, 512> scratch_{};
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket sock, RequestHandler& handler, const HttpServerOptions& opts)
      : stream_(std::move(sock)), strand_(stream_.get_executor()), handler_(handler), opts_(opts) {}

  void start() { asio::dispatch(strand_, [self = shared_from_this()] { self->read(); }); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(opts_.body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(120));  // idle keep-alive connections
    http::async_read(stream_, buffer_, *parser_, asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    }));
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return shutdown();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      refused_body_ = true;
      return write({413, "{\"ok\":false,\"error\":\"request body exceeds 1 MiB\"}", "application/json"});
    }
    // A request that does not parse is answered (the usual JSON error body),
    // not dropped: 431 for oversized headers, 400 for anything else malformed.
    if (ec == http::error::header_limit) {
      keep_alive_ = false;
      refused_body_ = true;
      return write({431, "{\"ok\":false,\"error\":\"request headers exceed 16 KiB\"}", "application/json"});
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category()) {
      keep_alive_ = false;
      refused_body_ = true;
      nlohmann::json body{{"ok", false}, {"error", "malformed HTTP request: " + ec.message()}};
      return write({400, body.dump(), "application/json"});
    }
    if (ec) return shutdown();
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    HttpRequest r;
    r.method = std::string(req.method_string());
    std::string target(req.target());
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = std::move(req.body());
    if (auto it = req.find(http::field::authorization); it != req.end()) r.authorization = std::string(it->value());
    if (auto it = req.find(http::field::content_type); it != req.end()) r.content_type = std::string(it->value());
    // The reply holds the session alive while an answer is pending (a DM
    // waiting for its acknowledgement).
    auto replied = std::make_shared<std::atomic<bool>>(false);
    std::string channel = handler_.handle(r, [self = shared_from_this(), replied](HttpResponse resp) {
      if (replied->exchange(true)) return;
      asio::post(self->strand_, [self, resp = std::move(resp)]() mutable { self->write(std::move(resp)); });
    });
    if (!channel.empty()) {
      stream_.expires_never();
      auto sse = std::make_shared<SseSession>(stream_.release_socket(), opts_.sse_queue_limit, opts_.sse_byte_limit,
                                              opts_.direct_ping_every, channel == "direct");
      sse->start();
      handler_.attach_sse(channel, sse);
    }
  }

  void write(HttpResponse resp) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(resp.status), version_);
    res->set(http::field::server, "x0x-lean-node");
    if (!resp.body.empty() || resp.status != 404) res->set(http::field::content_type, resp.content_type);
    res->keep_alive(keep_alive_);
    res->body() = std::move(resp.body);
    res->prepare_payload();
    http::async_write(stream_, *res, asio::bind_executor(strand_, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (!ec && self->refused_body_) return self->linger();
      if (ec || !self->keep_alive_) return self->shutdown();
      self->read();
    }));
  }

  void shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  // After refusing a body the client is still sending: closing with unread data
  // would reset the connection, and the client would get a send error instead of
  // the 413. So half-close and discard what still comes, until the client closes,
  // kLingerBytes or kLingerTime.
  static constexpr std::size_t kLingerBytes = 16 * 1024 * 1024;
  static constexpr std::chrono::seconds kLingerTime{5};
  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(kLingerTime);
    discard();
  }
  void discard() {
    auto chunk = std::make_shared<std::vector<char>>(64 * 1024);
    stream_.async_read_some(asio::buffer(*chunk), asio::bind_executor(strand_, [self = shared_from_this(), chunk](beast::error_code ec, std::size_t n) {
      self->discarded_ += n;
      if (ec || self->discarded_ >= kLingerBytes) return self->stream_.close();
      self->discard();
    }));
  }

  beast::tcp_stream stream_;
  asio::strand<asio::any_io_executor> strand_;
  RequestHandler& handler_;
  const HttpServerOptions& opts_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool refused_body_ = false;
  std::size_t discarded_ = 0;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, RequestHandler& h, HttpServerOptions o) : io(io), handler(h), opts(o), acceptor(io) {}
  asio::io_context& io;
  RequestHandler& handler;
  HttpServerOptions opts;
  tcp::acceptor acceptor;
  AcceptGuard fd_guard{"api"};
  asio::steady_timer accept_pause{io};

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        if (AcceptGuard::is_fd_exhaustion(ec.value())) return self->accept_exhausted();
        return self->accept();
      }
      self->fd_guard.on_accepted();
      self->serve(std::move(s));
      self->accept();
    });
  }

  void serve(tcp::socket s) { std::make_shared<HttpSession>(std::move(s), handler, opts)->start(); }

  // At the fd limit the API still answers: the spare descriptor takes the
  // waiting request (an operator's curl, a runner's poll), then a pause.
  void accept_exhausted() {
    auto ex = fd_guard.on_exhausted();
    if (ex.spare_released) {
      beast::error_code ec;
      acceptor.non_blocking(true, ec);
      tcp::socket s(asio::make_strand(io));
      acceptor.accept(s, ec);
      if (!ec) serve(std::move(s));
    }
    accept_pause.expires_after(ex.pause);
    accept_pause.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->accept();
    });
  }
};

HttpServer::HttpServer(asio::io_context& io, RequestHandler& handler, HttpServerOptions opts)
    : impl_(std::make_shared<Impl>(io, handler, opts)) {}

HttpServer::~HttpServer() { stop(); }

SocketAddr HttpServer::listen(const SocketAddr& addr) {
  auto ip = asio::ip::make_address(addr.host == "localhost" ? "127.0.0.1" : addr.host);
  tcp::endpoint ep(ip, addr.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen(asio::socket_base::max_listen_connections);
  impl_->accept();
  auto bound = a.local_endpoint();
  return SocketAddr{bound.address().to_string(), bound.port()};
}

void HttpServer::stop() {
  auto im = impl_;
  asio::post(im->io, [im] {
    beast::error_code ec;
    im->acceptor.close(ec);
    im->accept_pause.cancel();
  });
}

}  // namespace x0x::node
