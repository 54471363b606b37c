#include "harness/topic_traffic.h"

#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "probes/rest_client.h"
#include "probes/sse.h"

namespace x0x::harness {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct TopicTraffic::Subscriber {
  NodeApi api;
  std::string subscription_id;
  std::unique_ptr<probes::SseStream> stream;
  mutable std::mutex mu;
  std::size_t received = 0;
};

TopicTraffic::TopicTraffic(std::string topic, const std::vector<NodeApi>& subscribers, std::chrono::milliseconds request_timeout)
    : topic_(std::move(topic)), timeout_(request_timeout) {
  try {
    for (auto& api : subscribers) {
      auto s = std::make_unique<Subscriber>();
      s->api = api;
      probes::RestClient c(api.base_url, api.token, timeout_);
      s->subscription_id = c.post_json("/subscribe", {{"topic", topic_}}).value("subscription_id", std::string());
      auto* raw = s.get();
      s->stream = std::make_unique<probes::SseStream>(probes::SseStream::Options{api.base_url, "/events", api.token},
                                                      [raw, t = topic_](const probes::SseEvent& e) {
                                                        auto j = json::parse(e.data, nullptr, false);
                                                        if (!j.is_object() || !j.contains("data") || !j["data"].is_object()) return;
                                                        if (j["data"].value("topic", std::string()) != t) return;
                                                        std::lock_guard lk(raw->mu);
                                                        raw->received++;
                                                      });
      s->stream->start();
      subs_.push_back(std::move(s));
    }
    for (auto& s : subs_)
      if (!s->stream->wait_connected(timeout_))
        throw std::runtime_error(s->api.name + ": /events did not connect: " + s->stream->last_error());
  } catch (...) {
    stop();
    subs_.clear();
    throw;
  }
}

TopicTraffic::~TopicTraffic() {
  stop();
  for (auto& s : subs_) {
    if (s->subscription_id.empty()) continue;
    try {
      probes::RestClient(s->api.base_url, s->api.token, timeout_).del("/subscribe/" + s->subscription_id);
    } catch (const std::exception&) {
      // The node is gone or restarting; its subscription went with it.
    }
  }
}

void TopicTraffic::stop() {
  for (auto& s : subs_)
    if (s->stream) s->stream->stop();
}

std::map<std::string, std::size_t> TopicTraffic::received() const {
  std::map<std::string, std::size_t> out;
  for (auto& s : subs_) {
    std::lock_guard lk(s->mu);
    out[s->api.name] = s->received;
  }
  return out;
}

PublishStats TopicTraffic::publish(const NodeApi& publisher, int count, int payload_bytes, std::chrono::milliseconds gap,
                                   const std::atomic<bool>* stop, const std::atomic<bool>* paused) {
  PublishStats st;
  probes::RestClient pub(publisher.base_url, publisher.token, timeout_);
  auto body = json{{"topic", topic_}, {"payload", base64_encode(std::string(static_cast<std::size_t>(payload_bytes), 'X'))}}.dump();
  auto t0 = Clock::now();
  for (int i = 0; i < count && !(stop && stop->load()); ++i) {
    if (paused && paused->load()) {
      --i;
      std::this_thread::sleep_for(gap.count() > 0 ? gap : std::chrono::milliseconds(50));
      continue;
    }
    try {
      auto r = pub.post("/publish", body);
      if (r.ok()) {
        ++st.published;
      } else {
        ++st.errors;
        if (st.first_error.empty()) st.first_error = "HTTP " + std::to_string(r.status) + ": " + probes::detail::snippet(r.body, 120);
      }
    } catch (const std::exception& e) {
      ++st.errors;
      if (st.first_error.empty()) st.first_error = e.what();
    }
    if (gap.count() > 0) std::this_thread::sleep_for(gap);  // pacing, as the reference
  }
  st.secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return st;
}

}  // namespace x0x::harness
