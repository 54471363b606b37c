// The REST routes of the lean node: the x0xd subset of spec node-api.md §5.1
// plus the /lean/faults extension. Shapes and error codes follow x0xd.
#include <utility>  // before Boost.Asio: 1.74 misses it under C++20
#include <sodium.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "core/encoding.h"
#include "node/api_util.h"
#include "node/lean_node.h"

namespace x0x::node {

using nlohmann::json;
using namespace api;

static constexpr const char* kUnauthorized = R"({"error":"missing or invalid Authorization: Bearer token"})";

bool LeanNode::authorized(const HttpRequest& req) const {
  static constexpr std::string_view prefix = "Bearer ";
  if (req.authorization.compare(0, prefix.size(), prefix) != 0) return false;
  auto presented = std::string_view(req.authorization).substr(prefix.size());
  std::array<std::uint8_t, 32> h{};
  crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(presented.data()), presented.size());
  return sodium_memcmp(h.data(), token_hash_.data(), h.size()) == 0;
}

std::string LeanNode::handle(const HttpRequest& req, Reply reply) {
  bool deferred = false;
  std::string sse;
  HttpResponse resp;
  try {
    resp = route(req, reply, deferred, sse);
  } catch (const std::exception& e) {
    spdlog::error("{} {} failed: {}", req.method, req.path, e.what());
    resp = fail(500, e.what());
  }
  if (sse.empty() && !deferred) reply(std::move(resp));
  return sse;
}

HttpResponse LeanNode::route(const HttpRequest& req, Reply& reply, bool& deferred, std::string& sse) {
  const auto& m = req.method;
  const auto& p = req.path;
  if (m == "OPTIONS") return {204, "", "text/plain"};
  if (p == "/health") return m == "GET" ? health() : HttpResponse{405, "", "text/plain"};
  if (p.rfind("/constitution", 0) == 0) return {404, "", "text/plain"};  // auth-exempt in x0xd; not served here
  if (!authorized(req)) return {401, kUnauthorized, "application/json"};

  auto only = [&](const char* method) { return m == method; };
  if (p == "/agent") return only("GET") ? agent() : HttpResponse{405, "", "text/plain"};
  if (p == "/status") return only("GET") ? status() : HttpResponse{405, "", "text/plain"};
  if (p == "/shutdown") {
    if (!only("POST")) return {405, "", "text/plain"};
    boost::asio::post(*io_, [this] { stop(); });
    return ok({{"message", "shutting down"}});
  }
  if (p == "/publish") return only("POST") ? publish(req) : HttpResponse{405, "", "text/plain"};
  if (p == "/subscribe") return only("POST") ? subscribe(req) : HttpResponse{405, "", "text/plain"};
  if (p.rfind("/subscribe/", 0) == 0)
    return only("DELETE") ? unsubscribe(p.substr(11)) : HttpResponse{405, "", "text/plain"};
  if (p == "/events") {
    if (!only("GET")) return {405, "", "text/plain"};
    sse = "events";
    return {};
  }
  if (p == "/direct/events") {
    if (!only("GET")) return {405, "", "text/plain"};
    sse = "direct";
    return {};
  }
  if (p == "/direct/send") {
    if (!only("POST")) return {405, "", "text/plain"};
    deferred = true;
    direct_send(req, reply);
    return {};
  }
  if (p == "/peers") return only("GET") ? peers() : HttpResponse{405, "", "text/plain"};
  if (p == "/presence/online") return only("GET") ? presence() : HttpResponse{405, "", "text/plain"};
  if (p == "/diagnostics/gossip") return only("GET") ? ok(gossip_diagnostics()) : HttpResponse{405, "", "text/plain"};
  if (p == "/diagnostics/connectivity")
    return only("GET") ? ok(connectivity_diagnostics()) : HttpResponse{405, "", "text/plain"};
  if (p == "/diagnostics/ack") return only("GET") ? ok({{"ack", json::object()}}) : HttpResponse{405, "", "text/plain"};
  if (p == "/diagnostics/dm") return only("GET") ? json_response(200, direct_->diagnostics_json()) : HttpResponse{405, "", "text/plain"};
  if (p == "/lean/faults") return faults(req);
  if (p == "/contacts" || p.rfind("/contacts/", 0) == 0) return contacts_route(req);
  if (p == "/groups" || p.rfind("/groups/", 0) == 0) return groups_route(req, reply, deferred);
  if (p == "/diagnostics/groups") return only("GET") ? json_response(200, groups_->diagnostics()) : method_not_allowed();
  return {404, "", "text/plain"};
}

HttpResponse LeanNode::health() const {
  auto peers = mesh_->peer_count();
  json body = {{"status", "healthy"}, {"version", X0X_TOOLKIT_VERSION}, {"peers", peers},
               {"send_ready_peers", peers}, {"uptime_secs", uptime_secs()}};
  if (uptime_secs() >= 120 && peers == 0) {
    body["status"] = "degraded";
    body["degraded_reason"] = "no gossip peers";
  }
  return ok(body);
}

HttpResponse LeanNode::status() const {
  auto peers = mesh_->peer_count();
  json warnings = json::array();
  for (auto& w : cfg_.warnings) warnings.push_back(w);
  return ok({{"status", peers ? "connected" : (uptime_secs() < 120 ? "connecting" : "isolated")},
             {"version", X0X_TOOLKIT_VERSION}, {"uptime_secs", uptime_secs()}, {"api_address", api_addr_},
             {"external_addrs", json::array()}, {"agent_id", id_.agent_id}, {"peers", peers},
             {"send_ready_peers", peers}, {"warnings", warnings},
             {"lean", {{"mesh_address", mesh_->listen_addr()}, {"instance_name", cfg_.instance_name},
                       {"machine_id", id_.machine_id}}}});
}

HttpResponse LeanNode::agent() const {
  // The lean node has no ML-KEM key; null rather than a made-up value.
  return ok({{"agent_id", id_.agent_id}, {"machine_id", id_.machine_id}, {"user_id", nullptr},
             {"kem_public_key_b64", nullptr}});
}

HttpResponse LeanNode::publish(const HttpRequest& req) {
  HttpResponse err;
  auto body = parse_body(req, err);
  if (!body) return err;
  auto topic = string_field(*body, "topic", err);
  if (!topic) return err;
  auto payload_b64 = string_field(*body, "payload", err);
  if (!payload_b64) return err;
  if (topic->empty()) return fail(400, "topic must not be empty");
  auto payload = base64_decode(*payload_b64);
  if (!payload) return fail(400, "invalid base64 in payload field: not standard base64 with padding");
  gossip_->publish(*topic, std::move(*payload));
  return ok();
}

HttpResponse LeanNode::subscribe(const HttpRequest& req) {
  HttpResponse err;
  auto body = parse_body(req, err);
  if (!body) return err;
  auto topic = string_field(*body, "topic", err);
  if (!topic) return err;
  if (topic->empty()) return fail(400, "topic must not be empty");
  auto id = random_hex(8);
  {
    std::lock_guard lk(subs_mu_);
    subs_[id] = *topic;
  }
  return ok({{"subscription_id", id}});
}

HttpResponse LeanNode::unsubscribe(const std::string& id) {
  std::lock_guard lk(subs_mu_);
  if (!subs_.erase(id)) return fail(404, "subscription not found");
  return ok();
}

void LeanNode::direct_send(const HttpRequest& req, Reply reply) {
  HttpResponse err;
  auto body = parse_body(req, err);
  if (!body) return reply(err);
  auto agent = string_field(*body, "agent_id", err);
  if (!agent) return reply(err);
  auto payload_b64 = string_field(*body, "payload", err);
  if (!payload_b64) return reply(err);
  if (body->contains("require_gossip_ack") && !(*body)["require_gossip_ack"].is_null())
    return reply(json_response(400, {{"ok", false}, {"error", "require_gossip_ack_removed"},
                                     {"detail", "require_gossip_ack is no longer supported"}}));
  auto raw = from_hex(*agent);
  if (!raw) return reply(fail(400, "invalid hex: " + *agent));
  if (raw->size() != 32)
    return reply(fail(400, "expected 32 bytes (64 hex chars), got " + std::to_string(raw->size())));
  auto payload = base64_decode(*payload_b64);
  if (!payload) return reply(fail(400, "invalid base64: not standard base64 with padding"));
  Direct::SendRequest sr;
  sr.agent_id = to_hex(*raw);
  if (contacts_->blocked(sr.agent_id)) return reply(fail(403, "agent is blocked"));  // before any send (§4.2)
  sr.payload = std::move(*payload);
  auto flag = [&](const char* k, bool def) {
    auto it = body->find(k);
    return it != body->end() && it->is_boolean() ? it->get<bool>() : def;
  };
  sr.durable = flag("require_durable_app_ack", true);
  sr.prefer_raw = flag("prefer_raw_quic_if_connected", true);
  if (auto it = body->find("logical_id"); it != body->end() && it->is_string()) {
    if (!sr.durable)
      return reply(json_response(400, {{"ok", false}, {"error", "logical_id_requires_durable_ack"},
                                       {"detail", "logical_id needs require_durable_app_ack"}}));
    sr.logical_id = it->get<std::string>();
  }
  std::size_t cap = sr.durable ? 49'152 : 16u * 1024 * 1024;
  if (sr.agent_id != id_.agent_id && sr.payload.size() > cap)
    return reply(json_response(413, {{"ok", false}, {"error", "payload_too_large"},
                                     {"detail", "payload exceeds " + std::to_string(cap) + " bytes"}}));
  direct_->send(sr, [reply](int status, json b) { reply(json_response(status, b)); });
}

HttpResponse LeanNode::peers() const {
  json list = json::array();
  for (auto& p : mesh_->peers())
    list.push_back({{"id", p.machine_id}, {"agent_id", p.agent_id}, {"name", p.name}, {"addr", p.listen_addr}});
  return ok({{"peers", list}});
}

HttpResponse LeanNode::presence() const {
  json agents = json::array();
  for (auto& a : mesh_->known_agents()) {
    if (!mesh_->peer(a.machine_id)) continue;
    agents.push_back({{"agent_id", a.agent_id}, {"machine_id", a.machine_id}, {"user_id", nullptr},
                      {"addresses", json::array({a.listen_addr})}, {"announced_at", a.last_seen_unix_ms / 1000},
                      {"last_seen", a.last_seen_unix_ms / 1000}});
  }
  return ok({{"agents", agents}});
}

HttpResponse LeanNode::faults(const HttpRequest& req) {
  if (req.method == "GET") return json_response(200, faults_.to_json());
  if (req.method == "DELETE") {
    faults_.clear();
    stall_.set(false);
    mesh_->enforce_faults();  // frames a delay was holding leave now
    spdlog::info("faults cleared");
    return json_response(200, faults_.to_json());
  }
  if (req.method != "POST") return {405, "", "text/plain"};
  HttpResponse err;
  auto body = parse_body(req, err);
  if (!body) return err;
  try {
    auto state = faults_.apply(*body);
    stall_.set(faults_.stall_dispatcher());
    mesh_->enforce_faults();
    // A heartbeat renews every few seconds: its lines stay out of the warn log.
    if (body->contains("renew")) spdlog::debug("faults renewed: {}", state["active"].dump());
    else spdlog::warn("faults armed: {}", state["active"].dump());
    return json_response(200, state);
  } catch (const FaultError& e) {
    return fail(400, e.what());
  }
}

}  // namespace x0x::node
