// The seam between the HTTP server (Boost.Beast, confined to http_server.cpp)
// and the REST API logic, so the API builds and tests without Beast.
#pragma once
#include <functional>
#include <memory>
#include <string>

namespace x0x::node {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::string query;   // after '?', may be empty
  std::string body;
  std::string authorization;
  std::string content_type;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// One SSE client. push() is thread-safe and never blocks.
class SseSink {
 public:
  // dropped_client: the client fell so far behind (its backlog over the byte cap) that it was disconnected.
  enum class Push { queued, dropped_oldest, dropped_client, closed };
  virtual ~SseSink() = default;
  virtual Push push(std::shared_ptr<const std::string> chunk) = 0;
};

class RequestHandler {
 public:
  using Reply = std::function<void(HttpResponse)>;
  virtual ~RequestHandler() = default;
  // Answers through `reply` exactly once (now or later, from any thread), or
  // returns the name of an SSE channel to turn the connection into a stream.
  virtual std::string handle(const HttpRequest& req, Reply reply) = 0;
  virtual void attach_sse(const std::string& channel, std::shared_ptr<SseSink> sink) = 0;
};

}  // namespace x0x::node
