// The lean node against a hostile peer on loopback (tests/adversarial/
// hostile_peer.h): replayed handshakes, a sniffed wire, a silent peer, a PEERS
// flood, replayed and stale DMs, and the process's fd limit. The sanitizer pass
// runs this suite under ASan/UBSan (label "adversarial").
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/socket.h>

#include <filesystem>
#include <future>
#include <fstream>
#include <sstream>

#include "core/encoding.h"
#include "node/metrics.h"
#include "tests/adversarial/hostile_peer.h"
#include "tests/support/fleet_fixture.h"

using namespace x0x;
using namespace x0x::testing;
using node::wire::FrameType;

namespace {

nlohmann::json handshake_stats(TestFleet& fleet, std::size_t i) {
  return fleet.get(i, "/diagnostics/connectivity")["handshake"];
}

nlohmann::json dm_stats(TestFleet& fleet, std::size_t i) { return fleet.get(i, "/diagnostics/dm")["stats"]; }

node::wire::MsgId random_id() {
  node::wire::MsgId id{};
  auto r = random_bytes(16);
  std::copy(r.begin(), r.end(), id.begin());
  return id;
}

// A listening socket on loopback the test owns: where a hostile peer says it
// can be dialled.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof sa;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  ~Listener() { ::close(fd_); }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  // True when a connection arrived before the deadline (closed at once).
  bool accepted_within(std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    int c = ::accept(fd_, nullptr, nullptr);
    if (c >= 0) ::close(c);
    return c >= 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15).
double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i >= 14) ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::size_t open_fds(int pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) n++;
  return n;
}

std::size_t count_lines_with(const std::filesystem::path& log, const std::string& needle) {
  std::ifstream in(log);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("adversarial: an AUTH recorded from one node and replayed to another is refused and counted, and the real peer keeps its link") {
  TestFleet fleet(2);
  auto& a = fleet.mesh().nodes()[0];
  auto& b = fleet.mesh().nodes()[1];

  HostilePeer recorder("recorder");
  recorder.connect(a.mesh_addr);
  recorder.exchange_hellos();
  auto recorded = recorder.read_auth_body();  // node A's signed identity, as an eavesdropping peer sees it

  HostilePeer impostor("impostor");
  impostor.connect(b.mesh_addr);
  impostor.exchange_hellos();
  impostor.send_auth_body(recorded);  // "I am node A"
  CHECK(impostor.conn().closed_by_peer(5s));
  CHECK(handshake_stats(fleet, 1)["auth_failed"].get<int>() >= 1);

  // B's link to the real A is untouched and still carries DMs both ways.
  CHECK(fleet.peers(1) == 1);
  CHECK(fleet.post(1, "/direct/send", {{"agent_id", fleet.agent_id(0)}, {"payload", base64_encode("still A")}})["ok"] == true);
  CHECK(fleet.post(0, "/direct/send", {{"agent_id", fleet.agent_id(1)}, {"payload", base64_encode("still B")}})["ok"] == true);
}

TEST_CASE("adversarial: after the handshake DM and PUB payloads are encrypted on the wire") {
  TestFleet fleet(1);
  auto& a = fleet.mesh().nodes()[0];
  HostilePeer peer("listener");
  peer.connect(a.mesh_addr);
  peer.handshake();
  REQUIRE(eventually([&] { return fleet.peers(0) == 1; }, 10s));

  const std::string dm_secret = "dm-secret-payload-7f3a9c", pub_secret = "pub-secret-payload-51e0b2";
  auto dm_status = std::async(std::launch::async, [&] {
    return fleet.post(0, "/direct/send", {{"agent_id", peer.agent_id()}, {"payload", base64_encode(dm_secret)}});
  });
  fleet.post(0, "/publish", {{"topic", "wire-secrets"}, {"payload", base64_encode(pub_secret)}});

  bool dm_seen = false, pub_seen = false;
  auto until = std::chrono::steady_clock::now() + 15s;
  while ((!dm_seen || !pub_seen) && std::chrono::steady_clock::now() < until) {
    auto f = peer.recv_frame(2s);
    if (!f) continue;
    if (f->type == FrameType::dm) {
      auto dm = node::wire::decode_dm(f->body);
      dm_seen = dm.payload == dm_secret;
      peer.send_frame(FrameType::dm_ack, node::wire::encode_dm_ack({dm.request_id, node::wire::DmAckStatus::accepted}));
    } else if (f->type == FrameType::pub) {
      pub_seen = pub_seen || node::wire::decode_pub(f->body).payload == pub_secret;
    }
  }
  REQUIRE(dm_seen);   // the frames did carry them...
  REQUIRE(pub_seen);
  // ...but not readably: everything that crossed the socket, as a sniffer saw it.
  CHECK(peer.wire_log().find(dm_secret) == std::string::npos);
  CHECK(peer.wire_log().find(pub_secret) == std::string::npos);
  CHECK(peer.wire_log().size() > 200);
  CHECK(dm_status.get()["ok"] == true);
}

TEST_CASE("adversarial: a peer silent after its handshake is found dead within peer_idle_timeout_ms and dialled again") {
  TestFleet fleet(1, "[lean]\npeer_idle_timeout_ms = 3000\nheartbeat_interval_ms = 1000\n");
  auto& a = fleet.mesh().nodes()[0];
  Listener where_it_listens;
  HostilePeer silent("silent");
  silent.connect(a.mesh_addr);
  silent.handshake(where_it_listens.addr());
  REQUIRE(eventually([&] { return fleet.peers(0) == 1; }, 10s));
  // It never reads or answers again; its TCP connection stays open.
  auto t0 = std::chrono::steady_clock::now();
  CHECK(silent.conn().closed_by_peer(20s));
  CHECK(std::chrono::steady_clock::now() - t0 >= 2s);
  CHECK(handshake_stats(fleet, 0)["keepalive_timeouts"].get<int>() >= 1);
  CHECK(fleet.peers(0) == 0);
  // The node dials the address the dead peer announced, to get it back.
  CHECK(where_it_listens.accepted_within(15s));
}

TEST_CASE("adversarial: a PEERS frame naming 4,096 addresses costs a bounded address set and a few dials a second") {
  TestFleet fleet(1);
  auto& a = fleet.mesh().nodes()[0];
  HostilePeer flooder("flooder");
  flooder.connect(a.mesh_addr);
  flooder.handshake();
  REQUIRE(eventually([&] { return fleet.peers(0) == 1; }, 10s));
  node::wire::Peers list;
  for (int i = 0; i < 4096; ++i)  // loopback addresses where nothing listens (port 9, discard)
    list.addrs.push_back("127.66." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":9");
  auto book0 = fleet.get(0, "/diagnostics/connectivity")["peer_addresses"];
  REQUIRE(flooder.send_frame(FrameType::peers, node::wire::encode_peers(list)));
  REQUIRE(eventually([&] { return fleet.get(0, "/diagnostics/connectivity")["peer_addresses"]["refused_full"].get<int>() > 0; }, 10s));
  // A measurement window, not a wait for a condition: the dial rate over 5 s.
  auto t0 = std::chrono::steady_clock::now();
  auto started0 = fleet.get(0, "/diagnostics/connectivity")["peer_addresses"]["dials_started"].get<double>();
  std::this_thread::sleep_for(5s);
  auto book = fleet.get(0, "/diagnostics/connectivity")["peer_addresses"];
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto rate = (book["dials_started"].get<double>() - started0) / secs;
  INFO("address book: " << book.dump() << ", dials/s over the window: " << rate);
  CHECK(book["known"].get<int>() <= book["max"].get<int>());
  CHECK(book["refused_full"].get<int>() >= 4096 - book["max"].get<int>());
  CHECK(rate <= book["dials_per_sec"].get<double>() + 1);  // was about 3,700 dials/s
  CHECK(book["dials_started"].get<double>() - book0["dials_started"].get<double>() <= 64 + 20 * (secs + 2));
  CHECK(fleet.get(0, "/health")["ok"] == true);
  // A real peer arriving now still gets its address kept, and is dialled
  // back first when its link drops, ahead of the thousand junk addresses.
  {
    Listener where_it_listens;
    auto real = std::make_unique<HostilePeer>("real-peer");
    real->connect(a.mesh_addr);
    real->handshake(where_it_listens.addr());
    REQUIRE(eventually([&] { return fleet.peers(0) == 2; }, 10s));
    CHECK(fleet.get(0, "/diagnostics/connectivity")["peer_addresses"]["evicted_for_peers"].get<int>() >= 1);
    real.reset();  // its link drops
    CHECK(where_it_listens.accepted_within(10s));  // the node dials the real peer's address again
  }
}

TEST_CASE("adversarial: a DM replayed to a restarted node is a duplicate, and one signed outside the freshness window is refused as stale") {
  TestFleet fleet(1);
  auto& b = fleet.mesh().nodes()[0];
  const auto recipient = fleet.agent_id(0);
  HostilePeer sender("dm-sender");
  sender.connect(b.mesh_addr);
  sender.handshake();
  auto captured = sender.signed_dm(recipient, "pay me once", node::unix_ms(), random_id());
  auto ack_of = [&](const std::string& dm_body) {
    REQUIRE(sender.send_frame(FrameType::dm, dm_body));
    auto f = sender.recv_until(FrameType::dm_ack, 10s);
    REQUIRE(f);
    return node::wire::decode_dm_ack(f->body).status;
  };
  CHECK(ack_of(captured) == node::wire::DmAckStatus::accepted);
  CHECK(dm_stats(fleet, 0)["incoming_delivered_to_subscribe"] == 1);

  fleet.mesh().restart_node(0);  // the in-memory dedupe is gone; the record in its data dir is not
  HostilePeer replayer("replayer");
  replayer.connect(b.mesh_addr);
  replayer.handshake();
  REQUIRE(replayer.send_frame(FrameType::dm, captured));
  auto f = replayer.recv_until(FrameType::dm_ack, 10s);
  REQUIRE(f);
  CHECK(node::wire::decode_dm_ack(f->body).status == node::wire::DmAckStatus::duplicate);

  auto old = sender.signed_dm(recipient, "from two hours ago", node::unix_ms() - 2 * 3600 * 1000, random_id());
  REQUIRE(replayer.send_frame(FrameType::dm, old));
  f = replayer.recv_until(FrameType::dm_ack, 10s);
  REQUIRE(f);
  CHECK(node::wire::decode_dm_ack(f->body).status == node::wire::DmAckStatus::stale);
  auto stats = dm_stats(fleet, 0);
  CHECK(stats["incoming_delivered_to_subscribe"] == 0);
  CHECK(stats["incoming_duplicates"] == 1);
  CHECK(stats["incoming_stale_rejected"] == 1);
}

TEST_CASE("adversarial: a DM resent with the same logical_id after the recipient restarted is not delivered twice") {
  TestFleet fleet(2);
  nlohmann::json dm = {{"agent_id", fleet.agent_id(1)}, {"payload", base64_encode("exactly once")},
                       {"require_durable_app_ack", true}, {"logical_id", "invoice-42"}};
  REQUIRE(fleet.post(0, "/direct/send", dm)["ok"] == true);
  CHECK(dm_stats(fleet, 1)["incoming_delivered_to_subscribe"] == 1);
  fleet.mesh().restart_node(1);
  REQUIRE(fleet.mesh().wait_mesh_formed(20s));
  auto again = fleet.post(0, "/direct/send", dm);
  CHECK(again["ok"] == true);  // acknowledged as a duplicate: the sender may stop retrying
  auto stats = dm_stats(fleet, 1);
  CHECK(stats["incoming_delivered_to_subscribe"] == 0);
  CHECK(stats["incoming_duplicates"] == 1);
}

TEST_CASE("adversarial: at the fd limit the accept loops pause instead of spinning, log it once, and the API still answers") {
  TestFleet fleet(1, "[lean]\nhandshake_timeout_ms = 60000\n");  // the strangers hold their descriptors throughout
  auto& a = fleet.mesh().nodes()[0];
  // Leave the node a handful of descriptors above what it holds now.
  rlimit lim{open_fds(a.pid) + 6, open_fds(a.pid) + 6};
  REQUIRE(::prlimit(a.pid, RLIMIT_NOFILE, &lim, nullptr) == 0);
  std::vector<std::unique_ptr<RawConn>> strangers;
  for (int i = 0; i < 40; ++i) strangers.push_back(std::make_unique<RawConn>(a.mesh_addr));  // the kernel queues what the node cannot take
  REQUIRE(eventually([&] { return open_fds(a.pid) >= lim.rlim_cur - 1; }, 10s));
  // A measurement window: the node's CPU over 3 s at the limit.
  auto cpu0 = cpu_seconds(a.pid);
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(3s);
  auto cpu = cpu_seconds(a.pid) - cpu0;
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("node CPU at the fd limit: " << cpu << " s in " << secs << " s");
  CHECK(cpu < 0.3 * secs);  // was a core: 3.5 s of CPU in 5 s
  auto health = fleet.client(0).get("/health");  // through the API's spare descriptor
  CHECK(health.status == 200);
  CHECK(count_lines_with(a.log_path, "mesh: out of file descriptors") == 1);
  CHECK(fleet.get(0, "/diagnostics/connectivity")["handshake"]["accept_fd_exhausted"].get<int>() >= 1);
}

TEST_CASE("adversarial: a peer of mesh protocol 1 is refused, and the log says why once") {
  TestFleet fleet(1);
  auto& a = fleet.mesh().nodes()[0];
  for (int i = 0; i < 3; ++i) {
    RawConn old(a.mesh_addr);
    old.send(HostilePeer::protocol1_hello(node::KeyPair::generate(), node::KeyPair::generate()));
    CHECK(old.closed_by_peer(5s));
  }
  CHECK(count_lines_with(a.log_path, "a peer speaks another protocol version (unsupported protocol version 1") == 1);
  CHECK(fleet.peers(0) == 0);
}
