#include "harness/soak_traffic.h"

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "probes/rest_client.h"

namespace x0x::harness {

using nlohmann::json;

SoakTraffic::SoakTraffic(std::vector<NodeApi> nodes, double messages_per_sec, std::chrono::milliseconds request_timeout)
    : nodes_(std::move(nodes)),
      gap_(std::chrono::nanoseconds(static_cast<long long>(1e9 / std::max(messages_per_sec, 0.001)))),
      timeout_(request_timeout) {
  for (auto& n : nodes_) {
    probes::RestClient c(n.base_url, n.token, timeout_);
    try {
      subscriptions_.push_back(c.post_json("/subscribe", {{"topic", kTopic}}).value("subscription_id", std::string()));
    } catch (const std::exception& e) {
      throw std::runtime_error(n.name + ": cannot subscribe to " + kTopic + ": " + e.what());
    }
  }
  thread_ = std::thread([this] { run(); });
}

SoakTraffic::~SoakTraffic() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (std::size_t i = 0; i < nodes_.size() && i < subscriptions_.size(); ++i) {
    if (subscriptions_[i].empty()) continue;
    try {
      probes::RestClient(nodes_[i].base_url, nodes_[i].token, timeout_).del("/subscribe/" + subscriptions_[i]);
    } catch (const std::exception&) {
      // the node is gone; its subscription went with it
    }
  }
}

SoakTraffic::Pause::Pause(SoakTraffic* t) : t_(t) {
  std::lock_guard lk(t_->mu_);  // waits for a publish in flight
  ++t_->paused_;
}

SoakTraffic::Pause::~Pause() {
  if (!t_) return;
  {
    std::lock_guard lk(t_->mu_);
    --t_->paused_;
  }
  t_->cv_.notify_all();
}

void SoakTraffic::run() {
  std::vector<probes::RestClient> clients;
  for (auto& n : nodes_) clients.emplace_back(n.base_url, n.token, timeout_);
  auto body = json{{"topic", kTopic}, {"payload", base64_encode(std::string(256, 'S'))}}.dump();
  std::size_t next = 0;
  auto due = std::chrono::steady_clock::now();
  std::unique_lock lk(mu_);
  while (!stop_) {
    // The pace is kept against a deadline, not a sleep after each publish; a
    // pause or a slow publish does not bunch the messages up afterwards.
    cv_.wait_until(lk, due, [&] { return stop_; });
    if (stop_) break;
    if (paused_ > 0) {
      cv_.wait(lk, [&] { return stop_ || paused_ == 0; });
      due = std::chrono::steady_clock::now();
      continue;
    }
    try {
      auto r = clients[next].post("/publish", body);
      (r.ok() ? published_ : errors_)++;
    } catch (const std::exception&) {
      errors_++;  // a node restarting or gone: the window's gate will say so
    }
    next = (next + 1) % clients.size();
    due = std::max(due + gap_, std::chrono::steady_clock::now() - gap_ * 4);
  }
}

}  // namespace x0x::harness
