// A hostile mesh peer for tests: it speaks the lean node's wire format over a
// blocking socket, so a test can do what a well-behaved node never would —
// replay another node's AUTH, flood PEERS, resend an old DM, go silent after
// the handshake. Built on the node's own wire code; every read has a deadline.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "node/identity.h"
#include "node/wire.h"
#include "tests/support/raw_conn.h"

namespace x0x::testing {

class HostilePeer {
 public:
  // A fresh identity (machine and agent keys) of its own.
  explicit HostilePeer(std::string name = "hostile");

  const node::KeyPair& machine() const { return machine_; }
  const node::KeyPair& agent() const { return agent_; }
  std::string agent_id() const { return node::derive_agent_id(agent_.pk); }

  // TCP only; throws when the connection is refused.
  void connect(const std::string& mesh_addr);
  RawConn& conn() { return *conn_; }
  const std::string& wire_log() const { return conn_->transcript(); }  // every byte received, encrypted as it came

  // The first half of a handshake: our HELLO out, the node's HELLO in, the
  // session derived. Throws if the node sends no HELLO in time.
  node::wire::Hello exchange_hellos(std::chrono::milliseconds limit = std::chrono::seconds(5));
  // The node's AUTH (its first encrypted frame), decrypted but not checked,
  // as the raw body an attacker could record and replay elsewhere.
  std::string read_auth_body(std::chrono::milliseconds limit = std::chrono::seconds(5));
  // Sends an AUTH body as is (sealed with this connection's session).
  void send_auth_body(const std::string& body);
  // Our own valid AUTH for this connection, answering the node's HELLO.
  void send_own_auth(const std::string& listen_addr = "");
  // A whole well-behaved handshake; returns when the node's AUTH verified.
  void handshake(const std::string& listen_addr = "");

  // After the handshake: frames sealed and opened with the session.
  bool send_frame(node::wire::FrameType type, const std::string& body);
  // The next frame, or nullopt at the deadline or when the node closed.
  std::optional<node::wire::OpenedFrame> recv_frame(std::chrono::milliseconds limit);
  // Frames until one of `type` arrives (others are dropped); nullopt at the deadline.
  std::optional<node::wire::OpenedFrame> recv_until(node::wire::FrameType type, std::chrono::milliseconds limit);

  // A whole HELLO frame of mesh protocol 1 (signed HELLO, MAC under a zero
  // key), as a lean node built before protocol 2 sends it.
  static std::string protocol1_hello(const node::KeyPair& machine, const node::KeyPair& agent);

  // A DM from our agent to `recipient_agent_id`, signed, with the given time.
  std::string signed_dm(const std::string& recipient_agent_id, const std::string& payload, std::uint64_t ts_ms,
                        node::wire::MsgId request_id);

 private:
  std::optional<std::string> read_payload(std::chrono::milliseconds limit);

  std::string name_;
  node::KeyPair machine_, agent_;
  std::unique_ptr<RawConn> conn_;
  node::wire::KxKeyPair kx_;
  std::array<std::uint8_t, 32> nonce_{};
  std::optional<node::wire::Hello> node_hello_;
  node::wire::SessionCipher cipher_;
};

}  // namespace x0x::testing
