#include "node/wire.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace x0x::node::wire {

const char* stream_name(Stream s) {
  switch (s) {
    case Stream::pubsub: return "pubsub";
    case Stream::membership: return "membership";
    case Stream::bulk: return "bulk";
  }
  return "?";
}

std::optional<FrameType> frame_type_from(std::uint8_t v) {
  switch (v) {
    case 1: case 2: case 3: case 4: case 5: case 10: case 11: case 12: case 13: case 14: case 15:
    case 20: case 21: case 22:
      return static_cast<FrameType>(v);
    default:
      return std::nullopt;
  }
}

Stream stream_of(FrameType t) {
  auto v = static_cast<std::uint8_t>(t);
  if (v < 10) return Stream::membership;
  if (v < 20) return Stream::pubsub;
  return Stream::bulk;
}

void Writer::u16(std::uint16_t v) { u8(v >> 8); u8(v & 0xff); }
void Writer::u32(std::uint32_t v) { u16(v >> 16); u16(v & 0xffff); }
void Writer::u64(std::uint64_t v) { u32(v >> 32); u32(v & 0xffffffffu); }
void Writer::str(std::string_view s) { u32(static_cast<std::uint32_t>(s.size())); raw(s); }

std::string_view Reader::raw(std::size_t n) {
  if (in_.size() - pos_ < n)
    throw WireError("truncated frame: need " + std::to_string(n) + " bytes at offset " +
                    std::to_string(pos_) + ", have " + std::to_string(in_.size() - pos_));
  auto v = in_.substr(pos_, n);
  pos_ += n;
  return v;
}
std::uint8_t Reader::u8() { return static_cast<std::uint8_t>(raw(1)[0]); }
std::uint16_t Reader::u16() { std::uint16_t hi = u8(); return static_cast<std::uint16_t>(hi << 8 | u8()); }
std::uint32_t Reader::u32() { std::uint32_t hi = u16(); return hi << 16 | u16(); }
std::uint64_t Reader::u64() { std::uint64_t hi = u32(); return hi << 32 | u32(); }
std::string_view Reader::str(std::size_t max_len) {
  auto n = u32();
  if (n > max_len) throw WireError("string field of " + std::to_string(n) + " bytes exceeds " + std::to_string(max_len));
  return raw(n);
}
void Reader::expect_done() const {
  if (!done()) throw WireError("trailing " + std::to_string(in_.size() - pos_) + " bytes in frame");
}

static std::uint32_t read_be32(const char* p) {
  return std::uint32_t(std::uint8_t(p[0])) << 24 | std::uint32_t(std::uint8_t(p[1])) << 16 |
         std::uint32_t(std::uint8_t(p[2])) << 8 | std::uint8_t(p[3]);
}

static FrameType checked_type(std::uint8_t v) {
  auto type = frame_type_from(v);
  if (!type) throw WireError("unknown frame type " + std::to_string(v));
  return *type;
}

std::string plain_frame(FrameType type, std::string_view body) {
  Writer w(4 + 1 + body.size());
  w.u32(static_cast<std::uint32_t>(1 + body.size()));
  w.u8(static_cast<std::uint8_t>(type));
  w.raw(body);
  return std::move(w.data());
}

OpenedFrame open_plain_frame(std::string_view payload) {
  if (payload.empty()) throw WireError("empty frame");
  return {checked_type(static_cast<std::uint8_t>(payload[0])), std::string(payload.substr(1))};
}

std::string unsealed_frame(FrameType type, std::string_view body) {
  Writer w(4 + 1 + body.size() + kMacSize);
  w.u32(static_cast<std::uint32_t>(1 + body.size() + kMacSize));
  w.u8(static_cast<std::uint8_t>(type));
  w.raw(body);
  w.data().append(kMacSize, '\0');
  return std::move(w.data());
}

// IETF ChaCha20-Poly1305 nonce: 4 zero bytes and the frame counter. Each
// direction has its own key, so a counter value is never used twice per key.
static std::array<unsigned char, crypto_aead_chacha20poly1305_IETF_NPUBBYTES> nonce_of(std::uint64_t n) {
  std::array<unsigned char, crypto_aead_chacha20poly1305_IETF_NPUBBYTES> nonce{};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<unsigned char>(n >> (8 * i));
  return nonce;
}

void SessionCipher::seal_in_place(std::string& frame) {
  if (frame.size() < 4 + 1 + kMacSize || read_be32(frame.data()) != frame.size() - 4)
    throw WireError("not an unsealed frame");
  auto* text = reinterpret_cast<unsigned char*>(frame.data() + 4);
  auto text_len = frame.size() - 4 - kMacSize;
  auto nonce = nonce_of(tx_n_++);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(text, text + text_len, nullptr, text, text_len, nullptr, 0,
                                                     nullptr, nonce.data(), tx_.data());
}

FrameType SessionCipher::open_in_place(std::string& payload) {
  if (payload.size() < 1 + kMacSize) throw WireError("frame shorter than its header");
  auto* text = reinterpret_cast<unsigned char*>(payload.data());
  auto text_len = payload.size() - kMacSize;
  auto nonce = nonce_of(rx_n_);
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(text, nullptr, text, text_len, text + text_len, nullptr, 0,
                                                         nonce.data(), rx_.data()) != 0)
    throw WireError("frame does not authenticate (forged, reordered or replayed)");
  rx_n_++;
  auto type = checked_type(text[0]);
  payload.resize(text_len);
  payload.erase(0, 1);
  return type;
}

// --- handshake --------------------------------------------------------------

std::array<std::uint8_t, 32> fresh_nonce() {
  std::array<std::uint8_t, 32> n{};
  randombytes_buf(n.data(), n.size());
  return n;
}

std::string encode_hello(const Hello& h) {
  Writer w(2 + 32 + 32);
  w.u16(h.version);
  w.fixed(h.kx_pk);
  w.fixed(h.nonce);
  return std::move(w.data());
}

Hello decode_hello(std::string_view body) {
  Reader r(body);
  Hello h;
  h.version = r.u16();
  if (h.version != kProtocolVersion)
    throw WireError("unsupported protocol version " + std::to_string(h.version) + " (this node speaks " +
                    std::to_string(kProtocolVersion) + ")");
  h.kx_pk = r.fixed<32>();
  h.nonce = r.fixed<32>();
  r.expect_done();
  return h;
}

static constexpr std::string_view kAuthContext = "x0x-lean-mesh-auth-v2";

static void write_auth_fields(Writer& w, const Auth& a) {
  w.fixed(a.machine_pk);
  w.fixed(a.agent_pk);
  w.str(a.listen_addr);
  w.str(a.name);
  w.u64(a.ts_ms);
}

// What the machine key signs: a context string, the transcript and the fields.
static std::string auth_signed_bytes(std::string_view fields, const Transcript& t) {
  Writer w(kAuthContext.size() + 96 + fields.size());
  w.raw(kAuthContext);
  w.fixed(t.own_kx_pk);
  w.fixed(t.peer_kx_pk);
  w.fixed(t.peer_nonce);
  w.raw(fields);
  return std::move(w.data());
}

std::string encode_auth(Auth& a, const KeyPair& machine, const Transcript& t) {
  a.machine_pk = machine.pk;
  Writer w;
  write_auth_fields(w, a);
  a.sig = sign(machine, auth_signed_bytes(w.data(), t));
  w.fixed(a.sig);
  return std::move(w.data());
}

Auth decode_auth(std::string_view body, const Transcript& signer_view) {
  Reader r(body);
  Auth a;
  a.machine_pk = r.fixed<32>();
  a.agent_pk = r.fixed<32>();
  a.listen_addr = r.str(256);
  a.name = r.str(256);
  a.ts_ms = r.u64();
  auto signed_len = r.offset();
  a.sig = r.fixed<64>();
  r.expect_done();
  if (!verify(a.machine_pk, auth_signed_bytes(body.substr(0, signed_len), signer_view), a.sig))
    throw WireError("auth signature does not cover this connection (replayed or forged)");
  return a;
}

std::string encode_peers(const Peers& p) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(p.addrs.size()));
  for (auto& a : p.addrs) w.str(a);
  return std::move(w.data());
}
Peers decode_peers(std::string_view body) {
  Reader r(body);
  Peers p;
  auto n = r.u32();
  if (n > 4096) throw WireError("peer list too long");
  for (std::uint32_t i = 0; i < n; ++i) p.addrs.emplace_back(r.str(256));
  r.expect_done();
  return p;
}

std::string encode_ping(std::uint64_t nonce) { Writer w; w.u64(nonce); return std::move(w.data()); }
std::uint64_t decode_ping(std::string_view body) {
  Reader r(body);
  auto v = r.u64();
  r.expect_done();
  return v;
}

// --- pub ------------------------------------------------------------------

static void write_pub_fields(Writer& w, const Pub& p) {
  w.fixed(p.id);
  w.str(p.topic);
  w.fixed(p.origin);
  w.u64(p.ts_ms);
  w.str(p.payload);
}

std::string encode_pub(Pub& p, const KeyPair& agent) {
  p.origin = agent.pk;
  Writer w(16 + 4 + p.topic.size() + 32 + 8 + 4 + p.payload.size() + 64);
  write_pub_fields(w, p);
  p.sig = sign(agent, w.data());
  w.fixed(p.sig);
  return std::move(w.data());
}

MsgId peek_pub_id(std::string_view body) { return Reader(body).fixed<16>(); }

Pub decode_pub(std::string_view body) {
  Reader r(body);
  Pub p;
  p.id = r.fixed<16>();
  p.topic = r.str(4096);
  p.origin = r.fixed<32>();
  p.ts_ms = r.u64();
  p.payload = r.str();
  p.sig = r.fixed<64>();
  r.expect_done();
  return p;
}

bool verify_pub(const Pub& p, std::string_view body) {
  return verify(p.origin, body.substr(0, body.size() - 64), p.sig);
}

std::string encode_ihave(const std::vector<IHaveEntry>& entries) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(entries.size()));
  for (auto& e : entries) { w.fixed(e.id); w.str(e.topic); }
  return std::move(w.data());
}
std::vector<IHaveEntry> decode_ihave(std::string_view body) {
  Reader r(body);
  auto n = r.u32();
  if (n > 65536) throw WireError("ihave list too long");
  std::vector<IHaveEntry> out;
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    IHaveEntry e;
    e.id = r.fixed<16>();
    e.topic = std::string(r.str(4096));
    out.push_back(std::move(e));
  }
  r.expect_done();
  return out;
}

std::string encode_ids(const std::vector<MsgId>& ids) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(ids.size()));
  for (auto& id : ids) w.fixed(id);
  return std::move(w.data());
}
std::vector<MsgId> decode_ids(std::string_view body) {
  Reader r(body);
  auto n = r.u32();
  if (n > 65536) throw WireError("id list too long");
  std::vector<MsgId> out(n);
  for (auto& id : out) id = r.fixed<16>();
  r.expect_done();
  return out;
}

std::string encode_topic(std::string_view topic) { Writer w; w.str(topic); return std::move(w.data()); }
std::string decode_topic(std::string_view body) {
  Reader r(body);
  std::string t(r.str(4096));
  r.expect_done();
  return t;
}

// --- dm -------------------------------------------------------------------

static void write_dm_fields(Writer& w, const Dm& d) {
  w.fixed(d.request_id);
  w.fixed(d.sender_agent);
  w.str(d.recipient_agent_id);
  w.u64(d.ts_ms);
  w.str(d.payload);
}

std::string encode_dm(Dm& d, const KeyPair& agent) {
  d.sender_agent = agent.pk;
  Writer w;
  write_dm_fields(w, d);
  d.sig = sign(agent, w.data());
  w.fixed(d.sig);
  return std::move(w.data());
}

Dm decode_dm(std::string_view body) {
  Reader r(body);
  Dm d;
  d.request_id = r.fixed<16>();
  d.sender_agent = r.fixed<32>();
  d.recipient_agent_id = std::string(r.str(64));
  d.ts_ms = r.u64();
  d.payload = std::string(r.str());
  d.sig = r.fixed<64>();
  r.expect_done();
  return d;
}

bool verify_dm(const Dm& d, std::string_view body) {
  return verify(d.sender_agent, body.substr(0, body.size() - 64), d.sig);
}

std::string encode_dm_ack(const DmAck& a) {
  Writer w;
  w.fixed(a.request_id);
  w.u8(static_cast<std::uint8_t>(a.status));
  return std::move(w.data());
}
DmAck decode_dm_ack(std::string_view body) {
  Reader r(body);
  DmAck a;
  a.request_id = r.fixed<16>();
  auto s = r.u8();
  if (s > 4) throw WireError("unknown dm ack status " + std::to_string(s));
  a.status = static_cast<DmAckStatus>(s);
  r.expect_done();
  return a;
}

KxKeyPair KxKeyPair::generate() {
  KxKeyPair k;
  randombytes_buf(k.sk.data(), k.sk.size());
  crypto_scalarmult_base(k.pk.data(), k.sk.data());
  return k;
}

SessionCipher derive_session(const KxKeyPair& mine, const std::array<std::uint8_t, 32>& peer_pk, bool dialer) {
  SessionKey rx{}, tx{};
  int rc = dialer ? crypto_kx_client_session_keys(rx.data(), tx.data(), mine.pk.data(), mine.sk.data(), peer_pk.data())
                  : crypto_kx_server_session_keys(rx.data(), tx.data(), mine.pk.data(), mine.sk.data(), peer_pk.data());
  if (rc != 0) throw WireError("invalid key exchange public key");
  return SessionCipher(tx, rx);
}

}  // namespace x0x::node::wire
