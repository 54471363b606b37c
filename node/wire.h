// The lean node's mesh wire format: length-prefixed binary frames on TCP.
//
//   handshake HELLO:  u32 big-endian length | u8 type | body            (plain)
//   every later frame: u32 big-endian length | AEAD(u8 type | body) | 16-byte tag
//
// The handshake is a challenge–response: each side sends a HELLO with an
// ephemeral X25519 key and a fresh nonce, then an AUTH (already encrypted under
// the session keys) that its machine key signs over both ephemeral keys and the
// other side's nonce — so a recorded AUTH proves nothing on another connection.
// After it, frames are encrypted and authenticated per direction
// (ChaCha20-Poly1305, counter nonces; TCP keeps them in order). PUB and DM
// bodies additionally carry an Ed25519 signature of their origin so relayed
// copies stay verifiable.
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

constexpr std::size_t kMacSize = 16;  // the AEAD tag
constexpr std::size_t kMaxFrameSize = 17u * 1024 * 1024;  // 16 MiB DM payload + headroom
// The only frame a connection may send before its handshake: a HELLO, a few
// hundred bytes (its name and address are bounded well below this).
constexpr std::size_t kMaxHelloFrameSize = 8u * 1024;
// A frame body is read (and allocated) in steps of at most this much as its
// bytes arrive, so an announced length costs memory only once it is sent.
constexpr std::size_t kFrameReadStep = 256u * 1024;
constexpr std::uint16_t kProtocolVersion = 2;  // 2: challenge–response handshake, encrypted frames

using MsgId = std::array<std::uint8_t, 16>;
using SessionKey = std::array<std::uint8_t, 32>;

enum class Stream : std::uint8_t { pubsub = 0, membership = 1, bulk = 2 };
constexpr std::size_t kStreamCount = 3;
const char* stream_name(Stream s);

enum class FrameType : std::uint8_t {
  hello = 1, peers = 2, ping = 3, pong = 4, auth = 5,                    // membership
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

struct OpenedFrame {
  FrameType type;
  std::string body;
};

// A handshake frame (HELLO): not encrypted, nothing secret in it.
std::string plain_frame(FrameType type, std::string_view body);
OpenedFrame open_plain_frame(std::string_view payload);  // everything after the length prefix

// The layout of a frame to be sealed later, in place: length | type | body |
// room for the tag. Built by the sender's thread; encrypted by the connection
// when it is written, so nonces follow the order frames reach the socket.
std::string unsealed_frame(FrameType type, std::string_view body);

// One connection's session: a key and a frame counter per direction. Not
// thread-safe: seal on the writer's strand, open on the reader's.
class SessionCipher {
 public:
  SessionCipher() = default;
  SessionCipher(const SessionKey& tx, const SessionKey& rx) : tx_(tx), rx_(rx) {}
  void seal_in_place(std::string& frame);  // an unsealed_frame
  // Decrypts a payload (after the length prefix) in place; on success it holds
  // the body and the type is returned. Throws WireError on a forged, reordered
  // or replayed frame.
  FrameType open_in_place(std::string& payload);

 private:
  SessionKey tx_{}, rx_{};
  std::uint64_t tx_n_ = 0, rx_n_ = 0;
};

// --- message bodies -------------------------------------------------------

// Sent first by both sides, in the clear: no identity, only the session's
// ephemeral key and a challenge for the other side to sign.
struct Hello {
  std::uint16_t version = kProtocolVersion;
  std::array<std::uint8_t, 32> kx_pk{};  // ephemeral X25519 key for the session
  std::array<std::uint8_t, 32> nonce{};  // fresh per connection
};
std::array<std::uint8_t, 32> fresh_nonce();
std::string encode_hello(const Hello& h);
Hello decode_hello(std::string_view body);  // throws WireError (a version-1 peer gets a clear one)

// The answer to the other side's HELLO, as the first encrypted frame: who we
// are, signed by the machine key over this connection's transcript.
struct Auth {
  PublicKey machine_pk{};
  PublicKey agent_pk{};
  std::string listen_addr;
  std::string name;
  std::uint64_t ts_ms = 0;
  Signature sig{};
};
struct Transcript {  // as seen by the signer
  std::array<std::uint8_t, 32> own_kx_pk{}, peer_kx_pk{}, peer_nonce{};
};
std::string encode_auth(Auth& a, const KeyPair& machine, const Transcript& t);  // fills sig
// Throws WireError unless the signature covers this transcript (the verifier
// passes it from the signer's side: the signer's key, ours, and our nonce).
Auth decode_auth(std::string_view body, const Transcript& signer_view);

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

// stale: signed outside the recipient's freshness window (a replay, or a clock far off).
enum class DmAckStatus : std::uint8_t { accepted = 0, duplicate = 1, wrong_recipient = 2, rejected = 3, stale = 4 };
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
// Both sides derive the same pair of keys from their ephemeral X25519
// exchange; the dialer's tx is the acceptor's rx and the other way round.
SessionCipher derive_session(const KxKeyPair& mine, const std::array<std::uint8_t, 32>& peer_pk, bool dialer);
}  // namespace x0x::node::wire
