#include "harness/snapshots.h"


#include "core/parallel_for.h"
#include "probes/rest_client.h"

namespace x0x::harness {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

gates::RawFetch fetch_json(const NodeApi& node, const std::string& path, std::chrono::milliseconds timeout) {
  gates::RawFetch f;
  try {
    probes::RestClient c(node.base_url, node.token, timeout);
    auto r = c.get(path);
    f.unix_time = unix_now();
    f.http_status = r.status;
    f.body = nlohmann::json::parse(r.body, nullptr, false);
    if (f.body.is_discarded()) {
      f.body = nullptr;
      f.error = "HTTP " + std::to_string(r.status) + ": body is not JSON: " + probes::detail::snippet(r.body, 120);
    } else {
      f.fetched = true;
    }
  } catch (const std::exception& e) {
    f.unix_time = unix_now();
    f.error = e.what();
  }
  return f;
}

// Every node at once: a fetch never throws (a failure is kept in the RawFetch),
// so all nodes are always fetched.
template <typename Fn>
static void for_each_parallel(const std::vector<NodeApi>& nodes, Fn fn) {
  parallel_for(nodes.size(), nodes.size(), fn);
}

std::map<std::string, gates::RawSnapshot> take_snapshots(const std::vector<NodeApi>& nodes,
                                                         std::chrono::milliseconds timeout) {
  std::vector<gates::RawSnapshot> snaps(nodes.size());
  for_each_parallel(nodes, [&](std::size_t i) {
    snaps[i].gossip = fetch_json(nodes[i], "/diagnostics/gossip", timeout);
    snaps[i].connectivity = fetch_json(nodes[i], "/diagnostics/connectivity", timeout);
  });
  std::map<std::string, gates::RawSnapshot> out;
  for (std::size_t i = 0; i < nodes.size(); ++i) out[nodes[i].name] = std::move(snaps[i]);
  return out;
}

std::map<std::string, gates::RawFetch> fetch_all(const std::vector<NodeApi>& nodes, const std::string& path,
                                                 std::chrono::milliseconds timeout) {
  std::vector<gates::RawFetch> got(nodes.size());
  for_each_parallel(nodes, [&](std::size_t i) { got[i] = fetch_json(nodes[i], path, timeout); });
  std::map<std::string, gates::RawFetch> out;
  for (std::size_t i = 0; i < nodes.size(); ++i) out[nodes[i].name] = std::move(got[i]);
  return out;
}

}  // namespace x0x::harness
