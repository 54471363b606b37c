// x0x-lean-node: owns the event loop, the mesh, the recv pump and dispatcher,
// the gossip and DM engines, faults, and serves the x0xd-compatible REST API.
#pragma once
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "node/config.h"
#include "node/contacts.h"
#include "node/deadline_timer.h"
#include "node/direct.h"
#include "node/dispatcher.h"
#include "node/faults.h"
#include "node/gossip.h"
#include "node/groups/group_engine.h"
#include "node/http_types.h"
#include "node/identity.h"
#include "node/mesh.h"
#include "node/recv_pump.h"

namespace boost::asio {
class io_context;
}

namespace x0x::node {

class HttpServer;

// Broadcasts SSE frames to every client attached to a channel.
class EventHub {
 public:
  void attach(const std::string& channel, std::shared_ptr<SseSink> sink);
  struct Result { std::size_t clients = 0, lagged = 0, dropped_clients = 0; };
  Result broadcast(const std::string& channel, std::string frame);

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<std::weak_ptr<SseSink>>> sinks_;
};

class LeanNode : public RequestHandler {
 public:
  explicit LeanNode(NodeConfig cfg);
  ~LeanNode() override;

  // Writes the token, binds the mesh and the API, then writes api.port.
  void start();
  // Runs the event loop until stop(); call from main.
  void run();
  void stop();  // thread-safe, idempotent

  std::string handle(const HttpRequest& req, Reply reply) override;
  void attach_sse(const std::string& channel, std::shared_ptr<SseSink> sink) override;

  const Identity& identity() const { return id_; }
  std::string api_address() const { return api_addr_; }
  std::string mesh_address() const;

 private:
  // REST routes (api.cpp)
  HttpResponse route(const HttpRequest& req, Reply& reply, bool& deferred, std::string& sse);
  HttpResponse health() const;
  HttpResponse status() const;
  HttpResponse agent() const;
  HttpResponse publish(const HttpRequest& req);
  HttpResponse subscribe(const HttpRequest& req);
  HttpResponse unsubscribe(const std::string& id);
  void direct_send(const HttpRequest& req, Reply reply);
  HttpResponse peers() const;
  HttpResponse presence() const;
  HttpResponse faults(const HttpRequest& req);
  HttpResponse contacts_route(const HttpRequest& req);  // api_contacts.cpp
  HttpResponse groups_route(const HttpRequest& req, Reply& reply, bool& deferred);  // api_groups.cpp
  bool authorized(const HttpRequest& req) const;

  // diagnostics.cpp
  nlohmann::json gossip_diagnostics();
  nlohmann::json connectivity_diagnostics() const;

  void on_frame(InboundFrame& f);
  void deliver_pub(const wire::Pub& msg, const std::string& sender);
  void deliver_dm(const nlohmann::json& event);
  void tick();
  void watch_signals();
  void write_state_file(const std::string& name, const std::string& content, bool secret);
  std::uint64_t uptime_secs() const;

  NodeConfig cfg_;
  std::unique_ptr<boost::asio::io_context> io_;
  Identity id_;
  std::string token_;
  std::array<std::uint8_t, 32> token_hash_{};
  Clock::time_point started_ = Clock::now();
  std::string api_addr_;

  Faults faults_;
  StallGate stall_;
  RecvPump pump_;
  std::unique_ptr<Mesh> mesh_;
  std::unique_ptr<Gossip> gossip_;
  std::unique_ptr<DeadlineTimer> gossip_timer_;  // drives gossip_->tick() at its deadlines
  std::unique_ptr<Direct> direct_;
  std::unique_ptr<Contacts> contacts_;
  std::unique_ptr<groups::GroupEngine> groups_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<HttpServer> http_;
  struct TickTimer;
  std::shared_ptr<TickTimer> tick_timer_;
  EventHub hub_;

  std::mutex subs_mu_;
  std::map<std::string, std::string> subs_;  // subscription id -> topic

  std::atomic<bool> stopping_{false};
  std::vector<std::thread> io_threads_;
};

}  // namespace x0x::node
