#include <catch2/catch.hpp>

#include "node/wire.h"

using namespace x0x::node;
using namespace x0x::node::wire;

namespace {
std::uint32_t length_prefix(const std::string& frame) {
  return std::uint32_t(std::uint8_t(frame[0])) << 24 | std::uint32_t(std::uint8_t(frame[1])) << 16 |
         std::uint32_t(std::uint8_t(frame[2])) << 8 | std::uint8_t(frame[3]);
}
// A dialer's and an acceptor's ciphers for one connection.
std::pair<SessionCipher, SessionCipher> session_pair() {
  auto d = KxKeyPair::generate(), a = KxKeyPair::generate();
  return {derive_session(d, a.pk, true), derive_session(a, d.pk, false)};
}
}  // namespace

TEST_CASE("wire: sealed frames round-trip between the two ends, carry a big-endian length and hide the body") {
  auto [dialer, acceptor] = session_pair();
  auto frame = unsealed_frame(FrameType::iwant, "body-bytes");
  REQUIRE(frame.size() == 4 + 1 + 10 + kMacSize);
  CHECK(length_prefix(frame) == frame.size() - 4);
  dialer.seal_in_place(frame);
  CHECK(frame.find("body-bytes") == std::string::npos);
  auto payload = frame.substr(4);
  CHECK(acceptor.open_in_place(payload) == FrameType::iwant);
  CHECK(payload == "body-bytes");
  // And the other direction, with its own key.
  auto back = unsealed_frame(FrameType::pong, "12345678");
  acceptor.seal_in_place(back);
  auto back_payload = back.substr(4);
  CHECK(dialer.open_in_place(back_payload) == FrameType::pong);
}

TEST_CASE("wire: a frame from another session, tampered, replayed, reordered or truncated is refused") {
  auto [dialer, acceptor] = session_pair();
  auto [other, unused] = session_pair();
  auto sealed = [&](SessionCipher& c, std::string body) {
    auto f = unsealed_frame(FrameType::pub, body);
    c.seal_in_place(f);
    return f.substr(4);
  };
  auto foreign = sealed(other, "payload");
  CHECK_THROWS_AS(acceptor.open_in_place(foreign), WireError);
  auto first = sealed(dialer, "one"), second = sealed(dialer, "two");
  auto tampered = first;
  tampered[3] ^= 0x01;
  CHECK_THROWS_AS(acceptor.open_in_place(tampered), WireError);
  auto reordered = second;
  CHECK_THROWS_AS(acceptor.open_in_place(reordered), WireError);  // the counter expects frame 0
  auto truncated = first.substr(0, 5);
  CHECK_THROWS_AS(acceptor.open_in_place(truncated), WireError);
  auto ok = first;
  CHECK(acceptor.open_in_place(ok) == FrameType::pub);
  auto replayed = first;
  CHECK_THROWS_WITH(acceptor.open_in_place(replayed), Catch::Contains("replayed"));
  CHECK(acceptor.open_in_place(second) == FrameType::pub);
  CHECK_THROWS_WITH(open_plain_frame(std::string(1, char(99)) + "x"), Catch::Contains("unknown frame type"));
}

TEST_CASE("wire: frame types map to their logical streams") {
  CHECK(stream_of(FrameType::hello) == Stream::membership);
  CHECK(stream_of(FrameType::ping) == Stream::membership);
  CHECK(stream_of(FrameType::pub) == Stream::pubsub);
  CHECK(stream_of(FrameType::digest) == Stream::pubsub);
  CHECK(stream_of(FrameType::dm) == Stream::bulk);
  CHECK(stream_of(FrameType::dm_ack) == Stream::bulk);
  CHECK_FALSE(frame_type_from(0).has_value());
  CHECK_FALSE(frame_type_from(16).has_value());
}

TEST_CASE("wire: PUB is signed by its origin and any change breaks the signature") {
  auto agent = KeyPair::generate();
  Pub p;
  p.id.fill(0xab);
  p.topic = "x0x.test.discover.v1";
  p.ts_ms = 1234;
  p.payload = std::string(512, 'z');
  auto body = encode_pub(p, agent);
  auto d = decode_pub(body);
  CHECK(d.topic == p.topic);
  CHECK(d.payload == p.payload);
  CHECK(d.origin == agent.pk);
  CHECK(peek_pub_id(body) == p.id);
  CHECK(verify_pub(d, body));
  auto forged = body;
  forged[40] ^= 1;  // inside the topic
  auto fd = decode_pub(forged);
  CHECK_FALSE(verify_pub(fd, forged));
  CHECK_THROWS_AS(decode_pub(body.substr(0, body.size() - 1)), WireError);
  CHECK_THROWS_AS(decode_pub(body + "x"), WireError);
}

TEST_CASE("wire: AUTH verifies only on the connection it was signed for") {
  auto machine = KeyPair::generate();
  Transcript signer{KxKeyPair::generate().pk, KxKeyPair::generate().pk, fresh_nonce()};
  Auth a;
  a.agent_pk = KeyPair::generate().pk;
  a.listen_addr = "127.0.0.1:4000";
  a.name = "nyc";
  auto body = encode_auth(a, machine, signer);
  auto d = decode_auth(body, signer);
  CHECK(d.machine_pk == machine.pk);
  CHECK(d.listen_addr == "127.0.0.1:4000");
  // The same bytes on another connection: another nonce, or other ephemeral keys.
  auto other_nonce = signer;
  other_nonce.peer_nonce = fresh_nonce();
  CHECK_THROWS_WITH(decode_auth(body, other_nonce), Catch::Contains("replayed or forged"));
  auto other_key = signer;
  other_key.own_kx_pk = KxKeyPair::generate().pk;
  CHECK_THROWS_AS(decode_auth(body, other_key), WireError);
  auto bad = body;
  bad[bad.size() - 70] ^= 1;
  CHECK_THROWS_AS(decode_auth(bad, signer), WireError);
}

TEST_CASE("wire: HELLO carries the version, and a version-1 peer gets a clear refusal") {
  Hello h{kProtocolVersion, KxKeyPair::generate().pk, fresh_nonce()};
  auto d = decode_hello(encode_hello(h));
  CHECK(d.kx_pk == h.kx_pk);
  CHECK(d.nonce == h.nonce);
  Hello old{1, h.kx_pk, h.nonce};
  CHECK_THROWS_WITH(decode_hello(encode_hello(old)), Catch::Contains("unsupported protocol version 1"));
}

TEST_CASE("wire: DM, ack, ids, ihave and peers round-trip — hostile lengths are refused") {
  auto agent = KeyPair::generate();
  Dm dm;
  dm.request_id.fill(3);
  dm.recipient_agent_id = std::string(64, 'a');
  dm.payload = "x0xtest|cmd|e30=";
  auto body = encode_dm(dm, agent);
  auto d = decode_dm(body);
  CHECK(verify_dm(d, body));
  CHECK(d.payload == dm.payload);
  auto ack = decode_dm_ack(encode_dm_ack({dm.request_id, DmAckStatus::duplicate}));
  CHECK(ack.status == DmAckStatus::duplicate);
  std::vector<MsgId> ids(3);
  ids[1].fill(9);
  CHECK(decode_ids(encode_ids(ids)) == ids);
  auto ih = decode_ihave(encode_ihave({{ids[1], "t"}}));
  REQUIRE(ih.size() == 1);
  CHECK(ih[0].topic == "t");
  CHECK(decode_peers(encode_peers({{"127.0.0.1:1", "[::1]:2"}})).addrs.size() == 2);
  Writer w;
  w.u32(0xffffffffu);  // claims 4 billion ids
  CHECK_THROWS_AS(decode_ids(w.data()), WireError);
}

TEST_CASE("wire: the ephemeral exchange refuses a low-order public key") {
  std::array<std::uint8_t, 32> zero{};
  CHECK_THROWS_AS(derive_session(KxKeyPair::generate(), zero, true), WireError);
}
