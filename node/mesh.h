// The mesh transport: TCP connections to every known peer on bind_address,
// a challenge–response handshake (then every frame encrypted under the
// session keys), peer exchange so a node joined to any one peer learns the
// rest (bounded, with a dial budget), heartbeats for RTT and dead-peer
// detection, per-peer outbound queues (data_tx) with the per-peer send timeout,
// and the lean node's wire faults (partition, stale, delay, loss) applied on
// this path. Inbound frames go to the recv pump; HELLO is handled here.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/socket_addr.h"
#include "node/faults.h"
#include "node/identity.h"
#include "node/peer_addresses.h"
#include "node/recv_pump.h"
#include "node/wire.h"

namespace boost::asio {
class io_context;
}

namespace x0x::node {

struct PeerInfo {
  std::string machine_id, agent_id, name, listen_addr, remote_addr;
  PublicKey agent_pk{};
  bool outbound = false;
  std::uint64_t conn_id = 0;
};

struct KnownAgent {
  std::string agent_id, machine_id, name, listen_addr;
  PublicKey agent_pk{};
  std::uint64_t last_seen_unix_ms = 0;
};

// Attached to an outbound frame: PubSub EAGER/IHAVE sends are tracked against
// the per-peer send timeout per topic (feeds cooling and
// republish_per_peer_timeout). An IHAVE batch announcing several topics names
// each of them once, so a late batch is charged to every topic it carried.
struct SendMeta {
  std::vector<std::string> topics;
  bool track_timeout = false;
};

struct MeshOptions {
  SocketAddr bind;
  std::vector<SocketAddr> bootstrap;
  std::string name;
  std::chrono::milliseconds peer_send_timeout{2500};
  std::chrono::milliseconds heartbeat_interval{5000};
  std::size_t data_tx_capacity = 50'000;
  std::size_t per_peer_capacity = 16'384;
  // Before its HELLO is accepted a connection is a stranger: it gets this long,
  // and no more than this many strangers at once per remote address and in all.
  std::chrono::milliseconds handshake_timeout{10'000};
  std::size_t pending_per_address = 64;
  std::size_t pending_total = 256;
  // An established peer from which nothing (not even a PONG) arrived for this
  // long is dead: closed, and dialled again through the address book.
  std::chrono::milliseconds idle_timeout{45'000};
  AddressBookLimits addresses;
};

struct MeshCallbacks {
  std::function<void(const PeerInfo&)> on_peer_up;
  std::function<void(const std::string& machine_id)> on_peer_down;
  std::function<void(const std::string& machine_id, const std::string& topic, bool timed_out)> on_send_result;
};

class Mesh {
 public:
  Mesh(boost::asio::io_context& io, const Identity& id, MeshOptions opts, RecvPump& pump,
       Faults& faults, MeshCallbacks cb);
  ~Mesh();

  void start();  // binds (throws on failure) and dials the bootstrap peers
  void stop();
  std::string listen_addr() const;

  // Thread-safe. False when the peer is not connected or its queue is full.
  bool send(const std::string& machine_id, wire::FrameType type, std::string body, SendMeta meta = {});
  std::vector<PeerInfo> peers() const;
  std::size_t peer_count() const;
  std::optional<PeerInfo> peer(const std::string& machine_id) const;
  std::optional<KnownAgent> known_agent(const std::string& agent_id) const;
  std::vector<KnownAgent> known_agents() const;

  // Membership frames that came through the dispatcher.
  void handle_membership(const InboundFrame& f);
  // Closes connections that a newly armed partition forbids.
  void enforce_faults();

  nlohmann::json connectivity_json() const;
  // data_tx.data_tx_depth counts the frames queued to every connection plus
  // the one each connection is writing right now (see Mesh::Impl::tx_depth).
  nlohmann::json data_tx_json() const;
  std::uint64_t establish_failures() const;

  struct Impl;  // public so the connection objects in mesh.cpp can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace x0x::node
