// HTTP/1.1 + SSE server on the node's Asio event loop (Boost.Beast): one
// session object per connection owned by its own async chain, so hundreds of
// SSE clients cost memory, not threads.
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "core/socket_addr.h"
#include "node/http_types.h"

namespace boost::asio {
class io_context;
}

namespace x0x::node {

struct HttpServerOptions {
  std::size_t body_limit = 1024 * 1024;  // larger bodies get 413
  std::size_t sse_queue_limit = 8192;    // per client; a lagging client loses the oldest
  std::size_t sse_byte_limit = 16u * 1024 * 1024;  // per client; beyond it a stalled client is dropped
  std::chrono::seconds direct_ping_every{15};
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, RequestHandler& handler, HttpServerOptions opts = {});
  ~HttpServer();
  SocketAddr listen(const SocketAddr& addr);  // returns the bound address
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace x0x::node
