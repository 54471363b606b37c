// Benchmarks of the lean node (not part of ctest; see BENCHMARKS.md):
//   dispatcher  PubSub frames/s through one node's dispatcher, signatures verified
//   dm          DM round trip (REST send -> recipient node ack -> 200) between two nodes
//   handshake   mesh handshakes/s one node accepts (challenge–response, then closed), and its CPU per handshake
//   idle        RSS of one idle node
//   mesh        RSS and CPU of an N-node mesh at rest
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>
#include <thread>

#include <fmt/core.h>
#include <sodium.h>
#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "node/dispatcher.h"
#include "node/gossip.h"
#include "node/mesh.h"
#include "orchestrator/lifecycle/local_mesh.h"
#include "probes/rest_client.h"
#include "tests/adversarial/hostile_peer.h"

using namespace x0x;
using namespace x0x::node;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

static int bench_dispatcher(std::size_t workers, std::size_t frames, std::size_t payload_bytes) {
  boost::asio::io_context io;  // never run: the mesh has no peers, sends go nowhere
  auto id_dir = fs::temp_directory_path() / ("x0x-bench-id-" + random_hex(4));
  auto id = Identity::load_or_create(id_dir);
  fs::remove_all(id_dir);  // the keys are in memory now
  RecvPump pump(frames + 1, 16, 16);
  Faults faults;
  MeshOptions mo;
  mo.bind = SocketAddr{"127.0.0.1", 0};
  Mesh mesh(io, id, mo, pump, faults, {});
  std::atomic<std::size_t> delivered{0};
  auto send = [&mesh](const std::string& peer, wire::FrameType t, std::string body, SendMeta meta) {
    return mesh.send(peer, t, std::move(body), std::move(meta));
  };
  Gossip gossip(send, id, {}, [&](const wire::Pub&, const std::string&) { delivered++; });

  // Pre-sign every frame so only the receive side is measured.
  auto origin = KeyPair::generate();
  std::vector<InboundFrame> input(frames);
  for (std::size_t i = 0; i < frames; ++i) {
    wire::Pub p;
    auto r = random_bytes(16);
    std::copy(r.begin(), r.end(), p.id.begin());
    p.topic = "bench.topic";
    p.payload = std::string(payload_bytes, 'x');
    input[i] = InboundFrame{wire::FrameType::pub, wire::encode_pub(p, origin), 1, std::string(64, 'b'), {}};
  }
  for (auto& f : input) pump.push(std::move(f));
  StallGate stall;
  std::array<Dispatcher::StreamSetup, 3> setup{{{workers, 30s}, {1, 5s}, {1, 5s}}};
  Dispatcher d(pump, [&](InboundFrame& f) { gossip.handle(f); }, setup, stall);
  auto t0 = std::chrono::steady_clock::now();
  d.start();
  while (d.counters(wire::Stream::pubsub).completed.load() < frames) std::this_thread::sleep_for(1ms);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  pump.close();
  d.stop();
  auto st = gossip.stages_json();
  fmt::print("dispatcher workers={} frames={} payload={}B: {:.0f} msgs/s ({:.2f} s), verified {} delivered {} timed_out {}\n",
             workers, frames, payload_bytes, frames / secs, secs, st["verify"]["count"].get<std::uint64_t>(),
             delivered.load(), d.counters(wire::Stream::pubsub).timed_out.load());
  return 0;
}

static std::uint64_t rss_kb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

static double cpu_secs(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  auto rp = s.rfind(')');
  std::istringstream rest(s.substr(rp + 2));
  std::string field;
  std::vector<std::string> f;
  while (rest >> field) f.push_back(field);
  // fields after ")" start at index 3 (state); utime=14, stime=15 (1-based in proc(5))
  double ticks = std::stod(f[11]) + std::stod(f[12]);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

static orchestrator::LocalMesh::Options mesh_opts(int n) {
  orchestrator::LocalMesh::Options o;
  // X0X_BENCH_NODE_BIN: another build's node, for a before/after comparison.
  o.node_binary = std::getenv("X0X_BENCH_NODE_BIN") ? std::getenv("X0X_BENCH_NODE_BIN") : X0X_LEAN_NODE_BIN;
  o.root_dir = fs::temp_directory_path() / ("x0x-bench-" + random_hex(4));
  o.nodes = n;
  o.log_level = "warn";
  o.start_timeout = 60s;
  return o;
}

static int bench_dm(int rounds) {
  auto o = mesh_opts(2);
  {
    orchestrator::LocalMesh mesh(o);
    mesh.start();
    mesh.wait_mesh_formed(20s);
    auto& a = mesh.nodes()[0];
    auto& b = mesh.nodes()[1];
    probes::RestClient ca(a.api_base, a.token);
    auto target = probes::RestClient(b.api_base, b.token).get_json("/agent")["agent_id"].get<std::string>();
    auto body = nlohmann::json{{"agent_id", target}, {"payload", base64_encode(std::string(256, 'd'))}}.dump();
    for (int i = 0; i < 50; ++i) ca.post("/direct/send", body);  // warm up
    std::vector<double> ms;
    for (int i = 0; i < rounds; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = ca.post("/direct/send", body);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (r.status != 200) fmt::print("unexpected HTTP {}\n", r.status);
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) { return ms[static_cast<std::size_t>(p * (ms.size() - 1))]; };
    fmt::print("dm round trip over {} sends: p50 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms\n", rounds, pct(0.5), pct(0.99), ms.back());
  }
  fs::remove_all(o.root_dir);
  return 0;
}

// One node, `count` sequential clients that connect, handshake and close:
// the rate, and the node's CPU per handshake. `one` does one handshake.
static int measure_handshakes(const char* label, int count, const std::function<void(const std::string& addr)>& one) {
  auto o = mesh_opts(1);
  {
    orchestrator::LocalMesh mesh(o);
    mesh.start();
    auto& node = mesh.nodes()[0];
    for (int i = 0; i < 20; ++i) one(node.mesh_addr);  // warm up
    auto cpu0 = cpu_secs(node.pid);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) one(node.mesh_addr);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = cpu_secs(node.pid) - cpu0;
    fmt::print("{}: {} in {:.2f} s = {:.0f}/s sequential; node CPU {:.0f} us per handshake (= {:.0f}/s on one core)\n",
               label, count, wall, count / wall, 1e6 * cpu / count, count / cpu);
  }
  fs::remove_all(o.root_dir);
  return 0;
}

// Protocol 2 (the adversarial suite's HostilePeer): HELLO both ways, AUTH
// both ways, both signatures verified.
static int bench_handshake(int count) {
  return measure_handshakes("handshakes", count, [](const std::string& addr) {
    testing::HostilePeer p("bench");
    p.connect(addr);
    p.handshake();
  });
}

// The protocol-1 handshake this replaced, for the comparison in BENCHMARKS.md:
// one signed HELLO each way (MAC under a zero key), nothing else. Run it
// against a protocol-1 node (X0X_BENCH_NODE_BIN=<an older build's node>).
static int bench_handshake_v1(int count) {
  return measure_handshakes("handshakes (protocol 1)", count, [](const std::string& addr) {
    testing::RawConn c(addr);
    c.send(testing::HostilePeer::protocol1_hello(KeyPair::generate(), KeyPair::generate()));
    auto len = c.read_exact(4, 5s);  // the node's HELLO: established once both are in
    if (!len) throw std::runtime_error("no HELLO from the node");
    std::uint32_t n = std::uint32_t(std::uint8_t((*len)[0])) << 24 | std::uint32_t(std::uint8_t((*len)[1])) << 16 |
                      std::uint32_t(std::uint8_t((*len)[2])) << 8 | std::uint8_t((*len)[3]);
    if (!c.read_exact(n, 5s)) throw std::runtime_error("short HELLO from the node");
  });
}

static int bench_mesh(int n, int settle_secs, int measure_secs) {
  auto o = mesh_opts(n);
  {
    orchestrator::LocalMesh mesh(o);
    auto t0 = std::chrono::steady_clock::now();
    mesh.start();
    bool formed = mesh.wait_mesh_formed(120s);
    fmt::print("{} nodes started, mesh {} in {:.1f} s\n", n, formed ? "formed" : "NOT formed",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::this_thread::sleep_for(std::chrono::seconds(settle_secs));
    std::vector<double> cpu0;
    for (auto& node : mesh.nodes()) cpu0.push_back(cpu_secs(node.pid));
    auto m0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(measure_secs));
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count();
    double cpu = 0;
    std::uint64_t rss = 0, max_rss = 0;
    for (std::size_t i = 0; i < mesh.nodes().size(); ++i) {
      cpu += cpu_secs(mesh.nodes()[i].pid) - cpu0[i];
      auto r = rss_kb(mesh.nodes()[i].pid);
      rss += r;
      max_rss = std::max(max_rss, r);
    }
    fmt::print("{} nodes at rest: CPU {:.1f}% of one core (all nodes, over {:.0f} s), RSS total {:.1f} MB, per node avg {:.1f} MB, max {:.1f} MB\n",
               n, 100.0 * cpu / wall, wall, rss / 1024.0, rss / 1024.0 / n, max_rss / 1024.0);
  }
  fs::remove_all(o.root_dir);
  return 0;
}

// The ceiling: bare Ed25519 verification on one core, no pipeline around it.
static int bench_verify(std::size_t n, std::size_t payload_bytes) {
  auto k = KeyPair::generate();
  std::string msg(payload_bytes, 'v');
  auto sig = sign(k, msg);
  auto t0 = std::chrono::steady_clock::now();
  std::size_t ok = 0;
  for (std::size_t i = 0; i < n; ++i) ok += verify(k.pk, msg, sig);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("raw ed25519 verify payload={}B: {:.0f} verifies/s ({} ok)\n", payload_bytes, n / secs, ok);
  return 0;
}

int main(int argc, char** argv) {
  std::string what = argc > 1 ? argv[1] : "";
  if (what == "verify") return bench_verify(argc > 2 ? std::stoul(argv[2]) : 50'000, argc > 3 ? std::stoul(argv[3]) : 512);
  if (what == "dispatcher") {
    std::size_t workers = argc > 2 ? std::stoul(argv[2]) : 1;
    std::size_t frames = argc > 3 ? std::stoul(argv[3]) : 50'000;
    std::size_t payload = argc > 4 ? std::stoul(argv[4]) : 512;
    return bench_dispatcher(workers, frames, payload);
  }
  if (what == "dm") return bench_dm(argc > 2 ? std::stoi(argv[2]) : 2000);
  if (what == "handshake") return bench_handshake(argc > 2 ? std::stoi(argv[2]) : 2000);
  if (what == "handshake-v1") return bench_handshake_v1(argc > 2 ? std::stoi(argv[2]) : 2000);
  if (what == "idle") return bench_mesh(1, argc > 2 ? std::stoi(argv[2]) : 5, 10);
  if (what == "mesh")
    return bench_mesh(argc > 2 ? std::stoi(argv[2]) : 50, argc > 3 ? std::stoi(argv[3]) : 10,
                      argc > 4 ? std::stoi(argv[4]) : 30);
  std::fprintf(stderr, "usage: lean_node_bench verify [n] [payload] | dispatcher [workers] [frames] [payload] | dm [rounds] | handshake [count] | handshake-v1 [count] | idle | mesh [nodes] [settle_s] [measure_s]\n");
  return 2;
}
