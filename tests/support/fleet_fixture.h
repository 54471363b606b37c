// A local mesh of real x0x-lean-node processes for integration tests: a
// temporary directory, the processes, REST clients and SSE collectors, all
// cleaned up when the fixture goes away (also when the test failed).
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/lifecycle/local_mesh.h"
#include "probes/rest_client.h"
#include "probes/sse.h"

namespace x0x::testing {

using namespace std::chrono_literals;

// Polls pred until it holds or the deadline passes; never a fixed sleep.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s);

class TestFleet {
 public:
  // With runners, an x0x-test-runner runs beside each node.
  // names[i] names node i (default: nyc, sfo, helsinki, ...).
  explicit TestFleet(int nodes, std::string extra_toml = {}, bool runners = false, std::vector<std::string> names = {});
  ~TestFleet();

  orchestrator::LocalMesh& mesh() { return *mesh_; }
  std::size_t size() const { return agents_.size(); }
  probes::RestClient client(std::size_t i);
  const std::string& agent_id(std::size_t i) const { return agents_[i]; }
  const std::string& machine_id(std::size_t i) const { return machines_[i]; }
  nlohmann::json get(std::size_t i, const std::string& path);
  nlohmann::json post(std::size_t i, const std::string& path, const nlohmann::json& body);
  probes::HttpResponse post_raw(std::size_t i, const std::string& path, const nlohmann::json& body);
  std::size_t peers(std::size_t i);

  // Opens an SSE stream on node i ("/events" or "/direct/events") feeding a
  // collector; waits until it is connected.
  probes::SseCollector& stream(std::size_t i, const std::string& path);

 private:
  std::filesystem::path dir_;
  std::unique_ptr<orchestrator::LocalMesh> mesh_;
  std::vector<std::string> agents_, machines_;
  struct Stream {
    std::unique_ptr<probes::SseCollector> events;
    std::unique_ptr<probes::SseStream> sse;
  };
  std::vector<Stream> streams_;
};

}  // namespace x0x::testing
