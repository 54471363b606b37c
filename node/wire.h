// The lean node's mesh wire format: length-prefixed binary frames on TCP.
//
//   u32 big-endian length | u8 frame type | body | 16-byte session MAC
//
// Every frame is authenticated hop by hop with a MAC under the session key that
// the signed HELLO handshake established; PUB and DM bodies additionally carry
// an Ed25519 signature of their origin so relayed copies stay verifiable.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "node/identity.h"

namespace x0x::node::wire {

constexpr std::size_t kMacSize = 16;
constexpr std::size_t kMaxFrameSize = 17u * 1024 * 1024;  // 16 MiB DM payload + headroom
// The only frame a connection may send before its handshake: a HELLO, a few
// hundred bytes (its name and address are bounded well below this).
constexpr std::size_t kMaxHelloFrameSize = 8u * 1024;
// A frame body is read (and allocated) in steps of at most this much as its
// bytes arrive, so an announced length costs memory only once it is sent.
constexpr std::size_t kFrameReadStep = 256u * 1024;
constexpr std::uint16_t kProtocolVersion = 1;

using MsgId = std::array<std::uint8_t, 16>;
using SessionKey = std::array<std::uint8_t, 32>;

enum class Stream : std::uint8_t { pubsub = 0, membership = 1, bulk = 2 };
constexpr std::size_t kStreamCount = 3;
const char* stream_name(Stream s);

enum class FrameType : std::uint8_t {
  hello = 1, peers = 2, ping = 3, pong = 4,                              // membership
  pub = 10, ihave = 11, iwant = 12, prune = 13, graft = 14, digest = 15,  // pubsub
  dm = 20, dm_ack = 21,                                                  // bulk
  grp = 22,  // lean-internal group control (join, head, sync, leave): JSON body, never a DM
};
std::optional<FrameType> frame_type_from(std::uint8_t v);
Stream stream_of(FrameType t);

class WireError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Appends big-endian integers and length-prefixed strings.
class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t expected) { out_.reserve(expected); }  // one allocation for a known size
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v);
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void raw(std::string_view s) { out_.append(s); }
  template <std::size_t N>
  void fixed(const std::array<std::uint8_t, N>& a) {
    out_.append(reinterpret_cast<const char*>(a.data()), N);
  }
  void str(std::string_view s);  // u32 length + bytes
  std::string& data() { return out_; }

 private:
  std::string out_;
};

// Reads what Writer wrote; throws WireError on truncation.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string_view raw(std::size_t n);
  template <std::size_t N>
  std::array<std::uint8_t, N> fixed() {
    auto v = raw(N);
    std::array<std::uint8_t, N> a{};
    std::copy(v.begin(), v.end(), reinterpret_cast<char*>(a.data()));
    return a;
  }
  std::string_view str(std::size_t max_len = kMaxFrameSize);
  std::size_t offset() const { return pos_; }
  bool done() const { return pos_ == in_.size(); }
  void expect_done() const;

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

// --- frame envelope -------------------------------------------------------

// Builds the bytes to put on the socket for (type, body) under key.
std::string seal_frame(FrameType type, std::string_view body, const SessionKey& key);

struct OpenedFrame {
  FrameType type;
  std::string body;
};
// Checks the MAC of a frame payload (everything after the length prefix).
OpenedFrame open_frame(std::string_view payload, const SessionKey& key);

// --- message bodies -------------------------------------------------------

struct Hello {
  std::uint16_t version = kProtocolVersion;
  PublicKey machine_pk{};
  PublicKey agent_pk{};
  std::array<std::uint8_t, 32> kx_pk{};  // ephemeral X25519 key for the session
  std::string listen_addr;
  std::string name;
  std::uint64_t ts_ms = 0;
  Signature sig{};  // machine key over all fields above
};
std::string encode_hello(Hello& h, const KeyPair& machine);  // fills sig
Hello decode_hello(std::string_view body);  // throws WireError, including on a bad signature

struct Peers { std::vector<std::string> addrs; };
std::string encode_peers(const Peers& p);
Peers decode_peers(std::string_view body);

struct Ping { std::uint64_t nonce = 0; };
std::string encode_ping(std::uint64_t nonce);
std::uint64_t decode_ping(std::string_view body);

struct Pub {
  MsgId id{};
  std::string topic;
  PublicKey origin{};  // publishing agent's key
  std::uint64_t ts_ms = 0;
  std::string payload;
  Signature sig{};
};
std::string encode_pub(Pub& p, const KeyPair& agent);  // fills sig
// Cheap peek at the id without parsing the rest (dedupe before verify).
MsgId peek_pub_id(std::string_view body);
Pub decode_pub(std::string_view body);  // structure only
bool verify_pub(const Pub& p, std::string_view body);

struct IHaveEntry { MsgId id; std::string topic; };
std::string encode_ihave(const std::vector<IHaveEntry>& entries);
std::vector<IHaveEntry> decode_ihave(std::string_view body);
std::string encode_ids(const std::vector<MsgId>& ids);  // IWANT and DIGEST
std::vector<MsgId> decode_ids(std::string_view body);
std::string encode_topic(std::string_view topic);  // PRUNE and GRAFT
std::string decode_topic(std::string_view body);

struct Dm {
  MsgId request_id{};
  PublicKey sender_agent{};
  std::string recipient_agent_id;  // 64 hex
  std::uint64_t ts_ms = 0;
  std::string payload;
  Signature sig{};
};
std::string encode_dm(Dm& d, const KeyPair& agent);  // fills sig
Dm decode_dm(std::string_view body);
bool verify_dm(const Dm& d, std::string_view body);

enum class DmAckStatus : std::uint8_t { accepted = 0, duplicate = 1, wrong_recipient = 2, rejected = 3 };
struct DmAck { MsgId request_id{}; DmAckStatus status = DmAckStatus::accepted; };
std::string encode_dm_ack(const DmAck& a);
DmAck decode_dm_ack(std::string_view body);

}  // namespace x0x::node::wire

namespace x0x::node::wire {
struct KxKeyPair {
  std::array<std::uint8_t, 32> pk{};
  std::array<std::uint8_t, 32> sk{};
  static KxKeyPair generate();
};
// Both sides derive the same key from their ephemeral X25519 exchange.
SessionKey derive_session_key(const KxKeyPair& mine, const std::array<std::uint8_t, 32>& peer_pk);
}  // namespace x0x::node::wire
