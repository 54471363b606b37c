#include <utility>  // before Boost.Asio: 1.74 misses it under C++20
#include "node/lean_node.h"

#include <sodium.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <fstream>
#include <spdlog/spdlog.h>

#include "core/atomic_file.h"
#include "core/encoding.h"
#include "node/http_server.h"

namespace x0x::node {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;

struct LeanNode::TickTimer {
  explicit TickTimer(asio::io_context& io) : timer(io), signals(io, SIGINT, SIGTERM) {}
  asio::steady_timer timer;
  asio::signal_set signals;
};

void EventHub::attach(const std::string& channel, std::shared_ptr<SseSink> sink) {
  std::lock_guard lk(mu_);
  sinks_[channel].push_back(sink);
}

EventHub::Result EventHub::broadcast(const std::string& channel, std::string frame) {
  auto shared = std::make_shared<const std::string>(std::move(frame));
  std::vector<std::shared_ptr<SseSink>> live;
  {
    std::lock_guard lk(mu_);
    auto& list = sinks_[channel];
    for (auto it = list.begin(); it != list.end();) {
      if (auto s = it->lock()) {
        live.push_back(std::move(s));
        ++it;
      } else {
        it = list.erase(it);
      }
    }
  }
  Result r;
  for (auto& s : live) {
    auto p = s->push(shared);
    if (p == SseSink::Push::closed) continue;
    r.clients++;
    if (p == SseSink::Push::dropped_oldest || p == SseSink::Push::dropped_client) r.lagged++;
    if (p == SseSink::Push::dropped_client) {
      r.dropped_clients++;
      spdlog::warn("SSE client on /{} dropped: more than its byte cap waiting (a stalled reader)", channel == "direct" ? "direct/events" : channel);
    }
  }
  return r;
}

static std::string read_trimmed(const fs::path& p) {
  std::ifstream in(p);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

LeanNode::LeanNode(NodeConfig cfg)
    : cfg_(std::move(cfg)),
      io_(std::make_unique<asio::io_context>()),
      pump_(cfg_.lean.pubsub_queue_capacity, cfg_.lean.membership_queue_capacity, cfg_.lean.bulk_queue_capacity) {}

LeanNode::~LeanNode() {
  stop();
  for (auto& t : io_threads_)
    if (t.joinable()) t.join();
  if (dispatcher_) dispatcher_->stop();
}

void LeanNode::write_state_file(const std::string& name, const std::string& content, bool secret) {
  write_file_atomically(cfg_.data_dir / name, content, secret ? 0600 : 0);
}

void LeanNode::start() {
  fs::create_directories(cfg_.data_dir);
  // Presence of api.port means "this process is serving": drop a stale one first.
  fs::remove(cfg_.data_dir / "api.port");
  fs::remove(cfg_.data_dir / "mesh.addr");

  auto token_path = cfg_.data_dir / "api-token";
  token_ = fs::exists(token_path) ? read_trimmed(token_path) : "";
  if (token_.size() >= 32) {
    spdlog::info("API token loaded from {}", token_path.string());
  } else {
    token_ = random_hex(32);
    write_state_file("api-token", token_, true);
    spdlog::info("API token generated at {}", token_path.string());
  }
  crypto_hash_sha256(token_hash_.data(), reinterpret_cast<const unsigned char*>(token_.data()), token_.size());

  id_ = Identity::load_or_create(cfg_.data_dir);
  contacts_ = std::make_unique<Contacts>(cfg_.data_dir / "contacts.json");
  spdlog::info("Agent ID: {}", id_.agent_id);
  spdlog::info("Machine ID: {}", id_.machine_id);

  MeshOptions mo;
  mo.bind = cfg_.bind_address;
  if (cfg_.bootstrap_peers) mo.bootstrap = *cfg_.bootstrap_peers;
  mo.name = cfg_.instance_name;
  mo.peer_send_timeout = std::chrono::milliseconds(cfg_.lean.peer_send_timeout_ms);
  mo.heartbeat_interval = std::chrono::milliseconds(cfg_.lean.heartbeat_interval_ms);
  mo.handshake_timeout = std::chrono::milliseconds(cfg_.lean.handshake_timeout_ms);
  mo.idle_timeout = std::chrono::milliseconds(cfg_.lean.peer_idle_timeout_ms);
  mo.addresses.max_addresses = cfg_.lean.max_known_addresses;
  mo.addresses.dials_per_sec = cfg_.lean.dials_per_sec;
  MeshCallbacks cb;
  cb.on_peer_up = [this](const PeerInfo& p) {
    spdlog::info("peer connected: {} ({}) at {}", p.name, p.machine_id.substr(0, 16), p.listen_addr);
    gossip_->on_peer_up(p.machine_id);
  };
  cb.on_peer_down = [this](const std::string& m) {
    spdlog::info("peer disconnected: {}", m.substr(0, 16));
    gossip_->on_peer_down(m);
  };
  cb.on_send_result = [this](const std::string& m, const std::string& topic, bool timed_out) {
    gossip_->on_send_result(m, topic, timed_out);
  };
  mesh_ = std::make_unique<Mesh>(*io_, id_, mo, pump_, faults_, cb);

  GossipTuning gt;
  gt.eager_target = cfg_.active_view_size;
  gt.anti_entropy_interval = std::chrono::milliseconds(cfg_.lean.anti_entropy_interval_ms);
  gt.lazy_flush = std::chrono::milliseconds(cfg_.lean.lazy_flush_ms);
  gt.graft_timeout = std::chrono::milliseconds(cfg_.lean.graft_timeout_ms);
  gt.lazy_target = cfg_.lean.lazy_target;
  gt.cooling.threshold = cfg_.lean.cooling_threshold;
  gt.cooling.window = std::chrono::milliseconds(cfg_.lean.cooling_window_ms);
  gt.cooling.cooldown = std::chrono::milliseconds(cfg_.lean.cooldown_ms);
  auto send = [mesh = mesh_.get()](const std::string& peer, wire::FrameType t, std::string body, SendMeta meta) {
    return mesh->send(peer, t, std::move(body), std::move(meta));
  };
  gossip_ = std::make_unique<Gossip>(send, id_, gt, [this](const wire::Pub& m, const std::string& s) { deliver_pub(m, s); });
  gossip_timer_ = std::make_unique<DeadlineTimer>(*io_, [g = gossip_.get()](Clock::time_point now) { return g->tick(now); });
  gossip_->set_wake([t = gossip_timer_.get()](Clock::time_point due) { t->run_by(due); });

  DirectTuning dt;
  dt.ack_timeout = std::chrono::milliseconds(cfg_.lean.dm_ack_timeout_ms);
  dt.replay.window = std::chrono::milliseconds(cfg_.lean.dm_freshness_ms);
  direct_ = std::make_unique<Direct>(*mesh_, id_, dt, cfg_.data_dir / "dm-replay.bin",
                                     [this](const nlohmann::json& e) { deliver_dm(e); });
  groups::GroupTransport gtr;
  gtr.publish = [g = gossip_.get()](const std::string& topic, std::string payload) { g->publish(topic, std::move(payload)); };
  gtr.send = [m = mesh_.get()](const std::string& agent_id, std::string body) {
    auto a = m->known_agent(agent_id);
    return a && m->send(a->machine_id, wire::FrameType::grp, std::move(body));
  };
  groups_ = std::make_unique<groups::GroupEngine>(id_, cfg_.data_dir / "groups", std::move(gtr));
  direct_->set_trust([c = contacts_.get()](const std::string& sender) { return c->trust_decision(sender); });

  std::array<Dispatcher::StreamSetup, wire::kStreamCount> setup{};
  setup[0] = {cfg_.dispatch_workers, std::chrono::milliseconds(cfg_.lean.dispatch_timeout_ms)};
  setup[1] = {1, std::chrono::milliseconds(cfg_.lean.membership_timeout_ms)};
  setup[2] = {1, std::chrono::milliseconds(cfg_.lean.membership_timeout_ms)};
  dispatcher_ = std::make_unique<Dispatcher>(pump_, [this](InboundFrame& f) { on_frame(f); }, setup, stall_);
  dispatcher_->start();

  mesh_->start();
  write_state_file("mesh.addr", mesh_->listen_addr(), false);

  http_ = std::make_unique<HttpServer>(*io_, *this);
  auto bound = http_->listen(cfg_.api_address);
  api_addr_ = bound.to_string();
  if (!is_loopback_host(bound.host))
    spdlog::warn("API listening on non-loopback address {}: anyone who can reach it and holds the token controls this node", api_addr_);
  tick_timer_ = std::make_shared<TickTimer>(*io_);
  watch_signals();
  tick();
  gossip_timer_->run_by(Clock::now());
  write_state_file("api.port", api_addr_, false);
  spdlog::info("API server listening on {} (port file: {}), mesh on {}", api_addr_,
               (cfg_.data_dir / "api.port").string(), mesh_->listen_addr());
}

std::string LeanNode::mesh_address() const { return mesh_ ? mesh_->listen_addr() : ""; }

void LeanNode::run() {
  auto extra = cfg_.lean.io_threads > 1 ? cfg_.lean.io_threads - 1 : 0;
  for (std::uint32_t i = 0; i < extra; ++i) io_threads_.emplace_back([this] { io_->run(); });
  io_->run();
}

void LeanNode::stop() {
  if (stopping_.exchange(true)) return;
  spdlog::info("shutting down");
  if (direct_) direct_->fail_all("node is shutting down");
  if (groups_) groups_->flush();
  if (http_) http_->stop();
  if (gossip_timer_) gossip_timer_->stop();
  if (mesh_) mesh_->stop();
  pump_.close();
  stall_.release_all();
  // Let the posted closes run, then end the loop.
  auto timer = std::make_shared<asio::steady_timer>(*io_, 100ms);
  timer->async_wait([this, timer](auto) { io_->stop(); });
}

void LeanNode::watch_signals() {
  tick_timer_->signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (stopping_) std::_Exit(128 + sig);  // a second signal: out now
    spdlog::info("signal {} received", sig);
    // Like x0xd: a clean stop, forced 5 s later if it hangs.
    std::thread([] {
      std::this_thread::sleep_for(5s);
      std::_Exit(1);
    }).detach();
    stop();
    watch_signals();
  });
}

void LeanNode::tick() {
  if (stopping_) return;
  auto now = Clock::now();
  if (faults_.expire(now)) {
    spdlog::info("fault lease expired; faults now {}", faults_.to_json()["active"].dump());
    mesh_->enforce_faults();  // frames a lapsed delay was holding leave now
  }
  stall_.set(faults_.stall_dispatcher());
  direct_->tick(now);  // gossip has its own deadline timer
  groups_->tick(unix_ms());
  tick_timer_->timer.expires_after(200ms);  // at rest a 50-node mesh must stay cheap
  tick_timer_->timer.async_wait([this](auto ec) {
    if (!ec) tick();
  });
}

void LeanNode::on_frame(InboundFrame& f) {
  switch (wire::stream_of(f.type)) {
    case wire::Stream::pubsub: return gossip_->handle(f);
    case wire::Stream::membership: return mesh_->handle_membership(f);
    case wire::Stream::bulk:
      if (f.type == wire::FrameType::grp) {
        // Internal: answered by the group engine, never shown on /direct/events.
        if (auto p = mesh_->peer(f.peer_machine_id)) groups_->on_frame(p->agent_id, p->agent_pk, f.body);
        return;
      }
      return direct_->handle(f);
  }
}

void LeanNode::deliver_pub(const wire::Pub& msg, const std::string& sender) {
  // The group engine's internal subscription: not in subs_, so never on /events.
  if (groups::GroupEngine::is_group_topic(msg.topic)) groups_->on_gossip(msg.topic, sender, msg.payload);
  std::vector<std::string> ids;
  {
    std::lock_guard lk(subs_mu_);
    for (auto& [id, topic] : subs_)
      if (topic == msg.topic) ids.push_back(id);
  }
  if (ids.empty()) return;
  auto& st = gossip_->stats();
  auto payload = base64_encode(msg.payload);
  for (auto& id : ids) {
    st.incoming_total++;
    st.incoming_decoded++;
    nlohmann::json data = {{"payload", payload}, {"sender", sender}, {"subscription_id", id},
                           {"topic", msg.topic}, {"trust_level", "unknown"}, {"verified", true}};
    nlohmann::json env = {{"type", "message"}, {"data", std::move(data)}};
    auto r = hub_.broadcast("events", "event:message\ndata:" + env.dump() + "\n\n");
    st.delivered_to_subscriber++;
    st.slow_subscriber_dropped += r.lagged;
  }
}

void LeanNode::deliver_dm(const nlohmann::json& event) {
  auto r = hub_.broadcast("direct", "event:direct_message\ndata:" + event.dump() + "\n\n");
  direct_->stats().subscriber_events_evicted += r.lagged;
}

void LeanNode::attach_sse(const std::string& channel, std::shared_ptr<SseSink> sink) {
  hub_.attach(channel, std::move(sink));
}

std::uint64_t LeanNode::uptime_secs() const {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count());
}

}  // namespace x0x::node
