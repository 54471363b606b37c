#include "tests/support/fleet_fixture.h"

#include <cstdlib>
#include <stdexcept>

#include "core/encoding.h"

namespace x0x::testing {

namespace fs = std::filesystem;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  auto pause = 5ms;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
  return pred();
}

TestFleet::TestFleet(int nodes, std::string extra_toml, bool runners, std::vector<std::string> names) {
  dir_ = fs::temp_directory_path() / ("x0x-test-" + random_hex(6));
  orchestrator::LocalMesh::Options o;
  o.node_binary = X0X_LEAN_NODE_BIN;
  o.root_dir = dir_;
  o.nodes = nodes;
  o.names = std::move(names);
  o.extra_toml = std::move(extra_toml);
  o.log_level = "info";
  if (runners) o.runner_binary = X0X_TEST_RUNNER_BIN;
  mesh_ = std::make_unique<orchestrator::LocalMesh>(o);
  try {
    mesh_->start();
    if (!mesh_->wait_mesh_formed(30s)) throw std::runtime_error("mesh did not form within 30 s");
    for (std::size_t i = 0; i < mesh_->nodes().size(); ++i) {
      auto a = get(i, "/agent");
      agents_.push_back(a["agent_id"]);
      machines_.push_back(a["machine_id"]);
    }
  } catch (...) {
    mesh_.reset();
    fs::remove_all(dir_);
    throw;
  }
}

TestFleet::~TestFleet() {
  streams_.clear();  // stop readers before the nodes go
  mesh_.reset();
  if (!std::getenv("X0X_KEEP_TEST_DIRS")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

probes::RestClient TestFleet::client(std::size_t i) {
  auto& n = mesh_->nodes().at(i);
  return probes::RestClient(n.api_base, n.token, 15s);
}

nlohmann::json TestFleet::get(std::size_t i, const std::string& path) { return client(i).get_json(path); }

nlohmann::json TestFleet::post(std::size_t i, const std::string& path, const nlohmann::json& body) {
  return client(i).post_json(path, body);
}

probes::HttpResponse TestFleet::post_raw(std::size_t i, const std::string& path, const nlohmann::json& body) {
  return client(i).post(path, body.dump());
}

std::size_t TestFleet::peers(std::size_t i) { return get(i, "/health")["peers"].get<std::size_t>(); }

probes::SseCollector& TestFleet::stream(std::size_t i, const std::string& path) {
  auto& n = mesh_->nodes().at(i);
  Stream s;
  s.events = std::make_unique<probes::SseCollector>();
  auto* sink = s.events.get();
  s.sse = std::make_unique<probes::SseStream>(probes::SseStream::Options{n.api_base, path, n.token},
                                              [sink](const probes::SseEvent& e) { sink->add(e); });
  s.sse->start();
  if (!s.sse->wait_connected(10s)) throw std::runtime_error("SSE " + path + " on " + n.name + " did not connect");
  streams_.push_back(std::move(s));
  return *streams_.back().events;
}

}  // namespace x0x::testing
