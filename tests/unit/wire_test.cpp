#include <catch2/catch.hpp>

#include "node/wire.h"

using namespace x0x::node;
using namespace x0x::node::wire;

namespace {
SessionKey key_of(std::uint8_t b) {
  SessionKey k{};
  k.fill(b);
  return k;
}
std::string strip_len(const std::string& sealed) { return sealed.substr(4); }
}  // namespace

TEST_CASE("wire: sealed frames round-trip and carry a big-endian length prefix") {
  auto k = key_of(7);
  auto sealed = seal_frame(FrameType::iwant, "body-bytes", k);
  REQUIRE(sealed.size() == 4 + 1 + 10 + kMacSize);
  std::uint32_t len = std::uint8_t(sealed[0]) << 24 | std::uint8_t(sealed[1]) << 16 | std::uint8_t(sealed[2]) << 8 | std::uint8_t(sealed[3]);
  CHECK(len == sealed.size() - 4);
  auto opened = open_frame(strip_len(sealed), k);
  CHECK(opened.type == FrameType::iwant);
  CHECK(opened.body == "body-bytes");
}

TEST_CASE("wire: a frame under the wrong key, tampered or truncated is refused") {
  auto sealed = strip_len(seal_frame(FrameType::pub, "payload", key_of(1)));
  CHECK_THROWS_AS(open_frame(sealed, key_of(2)), WireError);
  auto tampered = sealed;
  tampered[3] ^= 0x01;
  CHECK_THROWS_AS(open_frame(tampered, key_of(1)), WireError);
  CHECK_THROWS_AS(open_frame(sealed.substr(0, 5), key_of(1)), WireError);
  auto unknown = sealed;
  unknown[0] = 99;
  CHECK_THROWS_WITH(open_frame(unknown, key_of(1)), Catch::Contains("unknown frame type"));
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

TEST_CASE("wire: HELLO verifies its machine signature") {
  auto machine = KeyPair::generate();
  Hello h;
  h.agent_pk = KeyPair::generate().pk;
  h.listen_addr = "127.0.0.1:4000";
  h.name = "nyc";
  auto body = encode_hello(h, machine);
  auto d = decode_hello(body);
  CHECK(d.machine_pk == machine.pk);
  CHECK(d.listen_addr == "127.0.0.1:4000");
  auto bad = body;
  bad[bad.size() - 70] ^= 1;
  CHECK_THROWS_WITH(decode_hello(bad), Catch::Contains("signature"));
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

TEST_CASE("wire: both ends derive the same session key") {
  auto a = KxKeyPair::generate(), b = KxKeyPair::generate(), c = KxKeyPair::generate();
  CHECK(derive_session_key(a, b.pk) == derive_session_key(b, a.pk));
  CHECK(derive_session_key(a, b.pk) != derive_session_key(a, c.pk));
}
