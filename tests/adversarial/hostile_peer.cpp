#include "tests/adversarial/hostile_peer.h"

#include <sodium.h>

#include <stdexcept>

#include "node/metrics.h"

namespace x0x::testing {

using namespace x0x::node;

HostilePeer::HostilePeer(std::string name)
    : name_(std::move(name)), machine_(KeyPair::generate()), agent_(KeyPair::generate()) {}

void HostilePeer::connect(const std::string& mesh_addr) {
  conn_ = std::make_unique<RawConn>(mesh_addr);
  conn_->keep_transcript();
  kx_ = wire::KxKeyPair::generate();
  nonce_ = wire::fresh_nonce();
  node_hello_.reset();
}

std::optional<std::string> HostilePeer::read_payload(std::chrono::milliseconds limit) {
  auto len = conn_->read_exact(4, limit);
  if (!len) return std::nullopt;
  std::uint32_t n = std::uint32_t(std::uint8_t((*len)[0])) << 24 | std::uint32_t(std::uint8_t((*len)[1])) << 16 |
                    std::uint32_t(std::uint8_t((*len)[2])) << 8 | std::uint8_t((*len)[3]);
  if (n > wire::kMaxFrameSize) throw std::runtime_error("hostile peer: the node announced a " + std::to_string(n) + "-byte frame");
  return conn_->read_exact(n, limit);
}

wire::Hello HostilePeer::exchange_hellos(std::chrono::milliseconds limit) {
  conn_->send(wire::plain_frame(wire::FrameType::hello, wire::encode_hello(wire::Hello{wire::kProtocolVersion, kx_.pk, nonce_})));
  auto payload = read_payload(limit);
  if (!payload) throw std::runtime_error("hostile peer: no HELLO from the node");
  auto f = wire::open_plain_frame(*payload);
  if (f.type != wire::FrameType::hello) throw std::runtime_error("hostile peer: the node's first frame is not HELLO");
  node_hello_ = wire::decode_hello(f.body);
  cipher_ = wire::derive_session(kx_, node_hello_->kx_pk, /*dialer=*/true);
  return *node_hello_;
}

std::string HostilePeer::read_auth_body(std::chrono::milliseconds limit) {
  auto payload = read_payload(limit);
  if (!payload) throw std::runtime_error("hostile peer: no AUTH from the node");
  if (cipher_.open_in_place(*payload) != wire::FrameType::auth)
    throw std::runtime_error("hostile peer: the node's second frame is not AUTH");
  return *payload;
}

void HostilePeer::send_auth_body(const std::string& body) {
  auto frame = wire::unsealed_frame(wire::FrameType::auth, body);
  cipher_.seal_in_place(frame);
  conn_->send(frame);
}

void HostilePeer::send_own_auth(const std::string& listen_addr) {
  if (!node_hello_) throw std::logic_error("hostile peer: AUTH before the HELLOs");
  wire::Auth a;
  a.agent_pk = agent_.pk;
  a.listen_addr = listen_addr;
  a.name = name_;
  a.ts_ms = unix_ms();
  send_auth_body(wire::encode_auth(a, machine_, wire::Transcript{kx_.pk, node_hello_->kx_pk, node_hello_->nonce}));
}

void HostilePeer::handshake(const std::string& listen_addr) {
  exchange_hellos();
  send_own_auth(listen_addr);
  wire::decode_auth(read_auth_body(), wire::Transcript{node_hello_->kx_pk, kx_.pk, nonce_});  // throws if forged
}

bool HostilePeer::send_frame(wire::FrameType type, const std::string& body) {
  auto frame = wire::unsealed_frame(type, body);
  cipher_.seal_in_place(frame);
  return conn_->send(frame);
}

std::optional<wire::OpenedFrame> HostilePeer::recv_frame(std::chrono::milliseconds limit) {
  auto payload = read_payload(limit);
  if (!payload) return std::nullopt;
  auto type = cipher_.open_in_place(*payload);
  return wire::OpenedFrame{type, std::move(*payload)};
}

std::optional<wire::OpenedFrame> HostilePeer::recv_until(wire::FrameType type, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto f = recv_frame(left);
    if (!f) return std::nullopt;
    if (f->type == type) return f;
  }
}

std::string HostilePeer::signed_dm(const std::string& recipient_agent_id, const std::string& payload, std::uint64_t ts_ms,
                                   wire::MsgId request_id) {
  wire::Dm d;
  d.request_id = request_id;
  d.recipient_agent_id = recipient_agent_id;
  d.ts_ms = ts_ms;
  d.payload = payload;
  return wire::encode_dm(d, agent_);
}

std::string HostilePeer::protocol1_hello(const KeyPair& machine, const KeyPair& agent) {
  auto kx = wire::KxKeyPair::generate();
  wire::Writer w;
  w.u16(1);
  w.fixed(machine.pk);
  w.fixed(agent.pk);
  w.fixed(kx.pk);
  w.str("");
  w.str("protocol-1");
  w.u64(unix_ms());
  w.fixed(sign(machine, w.data()));
  std::string body = std::move(w.data());
  std::array<std::uint8_t, 32> zero{};
  std::array<std::uint8_t, 16> mac{};
  std::uint8_t type = 1;
  crypto_generichash_state st;
  crypto_generichash_init(&st, zero.data(), zero.size(), mac.size());
  crypto_generichash_update(&st, &type, 1);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  crypto_generichash_final(&st, mac.data(), mac.size());
  wire::Writer f;
  f.u32(static_cast<std::uint32_t>(1 + body.size() + 16));
  f.u8(type);
  f.raw(body);
  f.fixed(mac);
  return std::move(f.data());
}

}  // namespace x0x::testing
