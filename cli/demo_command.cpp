// `x0xctl demo`: the embedded default until `verify` lands. Starts a local
// mesh of lean nodes, shows that one publish reaches every node and that all
// N·(N−1) direct messages are delivered with receipts, then stops the mesh.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/encoding.h"
#include "core/parallel_for.h"
#include "orchestrator/lifecycle/local_mesh.h"
#include "probes/rest_client.h"
#include "probes/sse.h"

namespace x0x::cli {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct DemoOptions {
  int nodes = 6;
  std::string dir;
  std::string node_binary;
  bool keep = false;
  int parallel = 8;
};

struct NodeStreams {
  probes::SseCollector events, inbox;
  std::unique_ptr<probes::SseStream> events_sse, inbox_sse;
};

int run_demo(const DemoOptions& o) {
  if (o.nodes < 2) {
    fmt::print(stderr, "x0xctl demo: --nodes must be at least 2\n");
    return kExitUsage;
  }
  fs::path root = o.dir.empty() ? fs::temp_directory_path() / ("x0x-demo-" + random_hex(4)) : fs::path(o.dir);
  orchestrator::LocalMesh::Options mo;
  mo.node_binary = o.node_binary.empty() ? find_sibling_binary("x0x-lean-node") : fs::path(o.node_binary);
  mo.root_dir = root;
  mo.nodes = o.nodes;
  auto started = std::chrono::steady_clock::now();
  auto secs = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };

  orchestrator::LocalMesh mesh(mo);
  fmt::print("Starting {} lean nodes in {} ...\n", o.nodes, root.string());
  mesh.start();
  if (!mesh.wait_mesh_formed(30s)) {
    fmt::print(stderr, "mesh did not form within 30 s\n");
    return kExitFail;
  }
  auto& nodes = mesh.nodes();
  const std::size_t n = nodes.size();
  std::vector<std::string> agents(n);
  fmt::print("\n{:<11} {:<22} {:<22} {:<18} {}\n", "node", "api", "mesh", "agent", "peers");
  for (std::size_t i = 0; i < n; ++i) {
    probes::RestClient c(nodes[i].api_base, nodes[i].token);
    agents[i] = c.get_json("/agent")["agent_id"];
    auto peers = c.get_json("/health")["peers"].get<int>();
    fmt::print("{:<11} {:<22} {:<22} {:<18} {}\n", nodes[i].name, nodes[i].api_base.substr(7), nodes[i].mesh_addr,
               agents[i].substr(0, 16) + "…", peers);
  }

  // Subscribe and attach SSE readers on every node.
  const std::string topic = "x0x.demo.v1";
  std::vector<std::unique_ptr<NodeStreams>> streams;
  for (std::size_t i = 0; i < n; ++i) {
    probes::RestClient c(nodes[i].api_base, nodes[i].token);
    c.post_json("/subscribe", {{"topic", topic}});
    auto s = std::make_unique<NodeStreams>();
    auto* ev = &s->events;
    auto* ib = &s->inbox;
    s->events_sse = std::make_unique<probes::SseStream>(probes::SseStream::Options{nodes[i].api_base, "/events", nodes[i].token},
                                                        [ev](const probes::SseEvent& e) { ev->add(e); });
    s->inbox_sse = std::make_unique<probes::SseStream>(probes::SseStream::Options{nodes[i].api_base, "/direct/events", nodes[i].token},
                                                       [ib](const probes::SseEvent& e) { ib->add(e); });
    s->events_sse->start();
    s->inbox_sse->start();
    if (!s->events_sse->wait_connected(10s) || !s->inbox_sse->wait_connected(10s)) {
      fmt::print(stderr, "SSE streams on {} did not connect\n", nodes[i].name);
      return kExitFail;
    }
    streams.push_back(std::move(s));
  }

  // One publish from the first node must reach every node's subscriber.
  auto payload = base64_encode("hello from " + nodes[0].name);
  auto t_pub = std::chrono::steady_clock::now();
  probes::RestClient(nodes[0].api_base, nodes[0].token).post_json("/publish", {{"topic", topic}, {"payload", payload}});
  std::size_t pub_ok = 0;
  double pub_ms = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bool got = streams[i]->events.wait_for([&](auto& evs) {
      for (auto& e : evs)
        if (json::parse(e.data)["data"]["payload"] == payload) return true;
      return false;
    }, 10s);
    if (got) ++pub_ok;
  }
  pub_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_pub).count();
  fmt::print("\nPublish on {}: delivered to {}/{} subscribers ({:.0f} ms)\n", topic, pub_ok, n, pub_ms);

  // All directed pairs, concurrently (bounded).
  struct Result { int status = 0; std::string error; double ms = 0; };
  std::map<std::pair<std::size_t, std::size_t>, Result> results;
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (std::size_t s = 0; s < n; ++s)
    for (std::size_t d = 0; d < n; ++d)
      if (s != d) pairs.emplace_back(s, d);
  std::mutex mu;
  // A failed send is that pair's result, never the end of the others.
  parallel_for(pairs.size(), static_cast<std::size_t>(std::max(1, o.parallel)), [&](std::size_t k) {
    auto [s, d] = pairs[k];
    probes::RestClient c(nodes[s].api_base, nodes[s].token);
    Result r;
    auto t0 = std::chrono::steady_clock::now();
    try {
      auto resp = c.post("/direct/send", json{{"agent_id", agents[d]}, {"payload", base64_encode(fmt::format("demo {}->{}", s, d))}}.dump());
      r.status = static_cast<int>(resp.status);
      if (!resp.ok()) r.error = resp.body;
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard lk(mu);
    results[{s, d}] = r;
  });
  std::size_t receipts = 0;
  for (auto& [_, r] : results) receipts += r.status == 200;
  std::size_t received = 0;
  for (std::size_t d = 0; d < n; ++d) {
    streams[d]->inbox.wait_for([&](auto& evs) { return evs.size() >= n - 1; }, 10s);
    std::set<std::string> senders;
    for (auto& e : streams[d]->inbox.snapshot()) senders.insert(json::parse(e.data)["sender"]);
    received += senders.size();
  }
  std::size_t expected = n * (n - 1);
  fmt::print("\nDirect messages (✓ receipt, ✗ failed), latency in ms:\n{:<11}", "src\\dst");
  for (std::size_t d = 0; d < n; ++d) fmt::print("{:>11}", nodes[d].name);
  fmt::print("\n");
  for (std::size_t s = 0; s < n; ++s) {
    fmt::print("{:<11}", nodes[s].name);
    for (std::size_t d = 0; d < n; ++d) {
      if (s == d) {
        fmt::print("{:>11}", "·");
        continue;
      }
      auto& r = results[{s, d}];
      fmt::print("{:>11}", fmt::format("{} {:.0f}", r.status == 200 ? "✓" : "✗", r.ms));
    }
    fmt::print("\n");
  }
  for (auto& [pair, r] : results)
    if (r.status != 200)
      fmt::print("  failed {} -> {}: HTTP {} {}\n", nodes[pair.first].name, nodes[pair.second].name, r.status, r.error);
  fmt::print("\n  Sent:     {} / {}\n  Received: {} / {}\n", receipts, expected, received, expected);

  streams.clear();
  mesh.stop_all();
  if (!o.keep && o.dir.empty()) fs::remove_all(root);
  bool pass = pub_ok == n && receipts == expected && received == expected;
  fmt::print("\nDemo: {} — publish {}/{}, direct messages {}/{} ({:.1f} s; nodes stopped{})\n", pass ? "PASS" : "FAIL",
             pub_ok, n, received, expected, secs(), o.keep || !o.dir.empty() ? ", logs kept in " + root.string() : "");
  return pass ? kExitPass : kExitFail;
}

}  // namespace

void register_demo(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<DemoOptions>();
  auto* sub = app.add_subcommand("demo", "Start a local mesh of lean nodes, check a publish and all-pairs DMs, stop it");
  sub->add_option("--nodes", opts->nodes, "number of lean nodes")->capture_default_str();
  sub->add_option("--dir", opts->dir, "directory for node data and logs (kept); default: a temporary one (removed)");
  sub->add_option("--node-binary", opts->node_binary, "path to x0x-lean-node (default: next to x0xctl)");
  sub->add_option("--parallel", opts->parallel, "concurrent direct messages")->capture_default_str();
  sub->add_flag("--keep", opts->keep, "keep the temporary directory with the node logs");
  sub->callback([opts, &exit_code] {
    try {
      exit_code = run_demo(*opts);
    } catch (const std::exception& e) {
      fmt::print(stderr, "x0xctl demo: {}\n", e.what());
      exit_code = kExitFail;
    }
  });
}

}  // namespace x0x::cli
