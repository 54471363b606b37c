// A small blocking HTTP/1.1 client for the x0x REST API on loopback (libcurl).
//
// One RestClient owns one libcurl easy handle, so consecutive requests reuse the
// same keep-alive connection. It is NOT thread-safe: use one client per thread.
// The bearer token is only ever sent in the Authorization header; it never
// appears in an error message.
#pragma once
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace x0x::probes {

// Transport failure (connection refused, timeout, reset, ...) or, from the
// *_json helpers, a non-2xx status or a body that is not JSON. The message names
// the method and URL plus curl's error text or the status and a body snippet.
class ProbeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The connection was refused or could not be made: the request never reached
// the server, so sending it again cannot do it twice.
class ProbeNotSentError : public ProbeError {
 public:
  using ProbeError::ProbeError;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string content_type;

  // Parses body as JSON; throws ProbeError quoting a snippet of the body when it
  // is not JSON (an empty body is not JSON either).
  nlohmann::json json() const;
  bool ok() const { return status >= 200 && status < 300; }
};

class RestClient {
 public:
  // base_url like "http://127.0.0.1:12700" (a trailing '/' is dropped). timeout
  // bounds every request as a whole, connection included.
  explicit RestClient(std::string base_url, std::string token = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(15));
  ~RestClient();
  RestClient(RestClient&&) noexcept;
  RestClient& operator=(RestClient&&) noexcept;
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  // `path` is appended to the base URL ("/agent"; a missing leading '/' is
  // added). Any HTTP status is returned as a response; only transport failures
  // throw ProbeError.
  HttpResponse get(std::string_view path);
  HttpResponse post(std::string_view path, std::string_view body,
                    std::string_view content_type = "application/json");
  HttpResponse put(std::string_view path, std::string_view body);
  HttpResponse patch(std::string_view path, std::string_view body);
  HttpResponse del(std::string_view path);

  // 2xx and a JSON body, else ProbeError "GET http://…/agent: HTTP 401: {body…}".
  // A 2xx with an empty body (e.g. 204) yields a null json value.
  nlohmann::json get_json(std::string_view path);
  nlohmann::json post_json(std::string_view path, const nlohmann::json& body);

  void set_token(std::string token);
  const std::string& base_url() const;
  std::chrono::milliseconds timeout() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {
// curl_global_init(CURL_GLOBAL_DEFAULT) exactly once per process (std::call_once).
void curl_global_init_once();
// At most `max` bytes of s, with "…(N bytes)" appended when cut; for messages.
std::string snippet(std::string_view s, std::size_t max = 300);
}  // namespace detail

}  // namespace x0x::probes
