// Two in-process meshes on loopback: how a late send is charged, and what
// data_tx_depth counts.
#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <mutex>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "node/mesh.h"

using namespace x0x;
using namespace x0x::node;
using namespace std::chrono_literals;

namespace {

Identity test_identity() {
  Identity id;
  id.machine = KeyPair::generate();
  id.agent = KeyPair::generate();
  id.machine_id = derive_machine_id(id.machine.pk);
  id.agent_id = derive_agent_id(id.agent.pk);
  return id;
}

template <class Pred>
bool eventually(Pred p, std::chrono::milliseconds limit = 10000ms) {
  auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (p()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return p();
}

}  // namespace

TEST_CASE("mesh: a late frame is charged once to every topic its SendMeta names") {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  auto id_a = test_identity(), id_b = test_identity();
  RecvPump pump_a(100, 100, 100), pump_b(100, 100, 100);
  Faults faults_a, faults_b;
  std::mutex mu;
  std::vector<std::tuple<std::string, std::string, bool>> results;
  MeshCallbacks cb_a;
  cb_a.on_send_result = [&](const std::string& m, const std::string& topic, bool late) {
    std::lock_guard lk(mu);
    results.emplace_back(m, topic, late);
  };
  MeshOptions opt_a;
  opt_a.bind = {"127.0.0.1", 0};
  opt_a.name = "a";
  opt_a.peer_send_timeout = 100ms;
  Mesh a(io, id_a, opt_a, pump_a, faults_a, cb_a);
  a.start();
  MeshOptions opt_b;
  opt_b.bind = {"127.0.0.1", 0};
  opt_b.name = "b";
  opt_b.bootstrap = {*parse_socket_addr(a.listen_addr())};
  Mesh b(io, id_b, opt_b, pump_b, faults_b, {});
  b.start();
  std::vector<std::thread> loop;
  for (int i = 0; i < 2; ++i) loop.emplace_back([&] { io.run(); });

  REQUIRE(eventually([&] { return a.peer_count() == 1 && b.peer_count() == 1; }));
  faults_a.apply({{"delay_ms", 400}, {"lease_secs", 30}});  // every frame a sends is 300 ms late
  auto ihave = wire::encode_ihave({{wire::MsgId{}, "t1"}, {wire::MsgId{}, "t2"}});
  REQUIRE(a.send(id_b.machine_id, wire::FrameType::ihave, ihave, SendMeta{{"t1", "t2"}, true}));
  CHECK(a.data_tx_json()["data_tx_depth"] == 1);  // held by the delay
  // Written after 400 ms: late for both topics, once each.
  REQUIRE(eventually([&] { return a.data_tx_json()["data_tx_depth"] == 0; }));
  REQUIRE(eventually([&] {
    std::lock_guard lk(mu);
    return results.size() >= 2;
  }));
  {
    std::lock_guard lk(mu);
    std::sort(results.begin(), results.end());
    CHECK(results == std::vector<std::tuple<std::string, std::string, bool>>{{id_b.machine_id, "t1", true},
                                                                             {id_b.machine_id, "t2", true}});
  }

  a.stop();
  b.stop();
  work.reset();
  for (auto& t : loop) t.join();
}
