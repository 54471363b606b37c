#include "probes/rest_client.h"
#include "probes/curl_slist.h"

#include <curl/curl.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace x0x::probes {

namespace detail {

void curl_global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw ProbeError("curl_global_init failed");
    // Never cleaned up: other static objects may still use curl at exit.
  });
}

std::string snippet(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::string out(s.substr(0, max));
  out += "…(" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace detail

nlohmann::json HttpResponse::json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw ProbeError("response is not JSON (HTTP " + std::to_string(status) +
                     (content_type.empty() ? "" : ", " + content_type) + "): " +
                     (body.empty() ? std::string("<empty body>") : detail::snippet(body)));
  }
}

namespace {

std::size_t write_body(char* ptr, std::size_t size, std::size_t nmemb, void* userdata) {
  auto* out = static_cast<std::string*>(userdata);
  out->append(ptr, size * nmemb);
  return size * nmemb;
}

using Slist = CurlSlist;

void append(Slist& list, const std::string& header) {
  curl_slist* next = curl_slist_append(list.get(), header.c_str());
  if (!next) throw ProbeError("curl_slist_append: out of memory");
  (void)list.release();
  list.reset(next);
}

}  // namespace

struct RestClient::Impl {
  std::string base_url;
  std::string token;
  std::chrono::milliseconds timeout;
  CURL* curl = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};

  Impl(std::string base, std::string tok, std::chrono::milliseconds to)
      : base_url(std::move(base)), token(std::move(tok)), timeout(to) {
    detail::curl_global_init_once();
    while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
    curl = curl_easy_init();
    if (!curl) throw ProbeError("curl_easy_init failed for " + base_url);
  }
  ~Impl() {
    if (curl) curl_easy_cleanup(curl);
  }

  std::string url_for(std::string_view path) const {
    std::string url = base_url;
    if (path.empty() || path.front() != '/') url += '/';
    url += path;
    return url;
  }

  // method: "GET", "POST", "PUT", "PATCH", "DELETE". body is sent when non-null.
  HttpResponse perform(const char* method, std::string_view path, const std::string_view* body,
                       std::string_view content_type) {
    const std::string url = url_for(path);
    // Reset keeps the live connection cache, so keep-alive reuse still works.
    curl_easy_reset(curl);
    errbuf[0] = '\0';

    HttpResponse resp;
    Slist headers;
    append(headers, "Accept: application/json");
    append(headers, "Expect:");  // no "100-continue" round trip for larger bodies
    if (!token.empty()) append(headers, "Authorization: Bearer " + token);
    if (body) append(headers, "Content-Type: " + std::string(content_type));

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");  // loopback only: ignore http_proxy & co.
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);

    const std::string m = method;
    if (m == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (m == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
    } else {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    if (body) {
      // POSTFIELDS does not copy; body outlives curl_easy_perform. Never pass a
      // null pointer (curl would then read from stdin-like callbacks).
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->empty() ? "" : body->data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }

    const CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
      std::string why = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
      while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
      auto what = m + " " + url + ": " + why + " (" + curl_easy_strerror(rc) + ")";
      if (rc == CURLE_COULDNT_CONNECT) throw ProbeNotSentError(what);
      throw ProbeError(what);
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
    const char* ct = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) resp.content_type = ct;
    return resp;
  }

  nlohmann::json expect_json(const char* method, std::string_view path, const HttpResponse& r) {
    if (!r.ok())
      throw ProbeError(std::string(method) + " " + url_for(path) + ": HTTP " +
                       std::to_string(r.status) + ": " + detail::snippet(r.body));
    if (r.body.find_first_not_of(" \t\r\n") == std::string::npos) return nullptr;
    try {
      return nlohmann::json::parse(r.body);
    } catch (const nlohmann::json::exception&) {
      throw ProbeError(std::string(method) + " " + url_for(path) + ": HTTP " +
                       std::to_string(r.status) + ": response is not JSON: " + detail::snippet(r.body));
    }
  }
};

RestClient::RestClient(std::string base_url, std::string token, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(base_url), std::move(token), timeout)) {}
RestClient::~RestClient() = default;
RestClient::RestClient(RestClient&&) noexcept = default;
RestClient& RestClient::operator=(RestClient&&) noexcept = default;

HttpResponse RestClient::get(std::string_view path) {
  return impl_->perform("GET", path, nullptr, {});
}
HttpResponse RestClient::post(std::string_view path, std::string_view body, std::string_view content_type) {
  return impl_->perform("POST", path, &body, content_type);
}
HttpResponse RestClient::put(std::string_view path, std::string_view body) {
  return impl_->perform("PUT", path, &body, "application/json");
}
HttpResponse RestClient::patch(std::string_view path, std::string_view body) {
  return impl_->perform("PATCH", path, &body, "application/json");
}
HttpResponse RestClient::del(std::string_view path) {
  return impl_->perform("DELETE", path, nullptr, {});
}

nlohmann::json RestClient::get_json(std::string_view path) {
  return impl_->expect_json("GET", path, get(path));
}
nlohmann::json RestClient::post_json(std::string_view path, const nlohmann::json& body) {
  const std::string text = body.dump();
  return impl_->expect_json("POST", path, post(path, text));
}

void RestClient::set_token(std::string token) { impl_->token = std::move(token); }
const std::string& RestClient::base_url() const { return impl_->base_url; }
std::chrono::milliseconds RestClient::timeout() const { return impl_->timeout; }

}  // namespace x0x::probes
