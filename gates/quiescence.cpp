#include "gates/quiescence.h"

#include <fmt/format.h>

namespace x0x::gates {

using nlohmann::json;

namespace {

constexpr const char* kStreams[] = {"pubsub", "membership", "bulk"};

// The body of a fetch that answered 200 with an object, or why not.
const json* body_of(const RawFetch& f, const char* what, std::vector<std::string>& out) {
  if (!f.fetched) out.push_back(fmt::format("{} unreadable: {}", what, f.error.empty() ? "no response" : f.error));
  else if (f.http_status != 200) out.push_back(fmt::format("{} unreadable: HTTP {}", what, f.http_status));
  else if (!f.body.is_object()) out.push_back(fmt::format("{} unreadable: not a JSON object", what));
  else return &f.body;
  return nullptr;
}

std::optional<double> number_at(const json& body, const std::string& pointer) {
  auto ptr = json::json_pointer(pointer);
  if (!body.contains(ptr) || !body[ptr].is_number()) return std::nullopt;
  return body[ptr].get<double>();
}

}  // namespace

std::vector<std::string> pending_work(const RawSnapshot& s) {
  std::vector<std::string> out;
  if (const json* g = body_of(s.gossip, "/diagnostics/gossip", out)) {
    for (auto* stream : kStreams) {
      auto base = std::string("/dispatcher/") + stream;
      auto received = number_at(*g, base + "/received"), completed = number_at(*g, base + "/completed"),
           timed_out = number_at(*g, base + "/timed_out");
      if (!received || !completed || !timed_out)
        out.push_back(fmt::format("dispatcher {}: received/completed/timed_out unreadable", stream));
      else if (*received > *completed + *timed_out)
        out.push_back(fmt::format("dispatcher {}: received {} > completed {} + timed_out {}", stream, render(received),
                                  render(completed), render(timed_out)));
      auto depth = number_at(*g, std::string("/recv_pump/") + stream + "/latest_depth");
      if (!depth) out.push_back(fmt::format("recv_pump {}: latest_depth unreadable", stream));
      else if (*depth > 0) out.push_back(fmt::format("recv_pump {}: {} queued", stream, render(depth)));
    }
  }
  if (const json* c = body_of(s.connectivity, "/diagnostics/connectivity", out)) {
    auto depth = number_at(*c, "/data_tx/data_tx_depth");
    if (!depth) out.push_back("data_tx: data_tx_depth unreadable");
    else if (*depth > 0) out.push_back(fmt::format("data_tx: {} frames in flight", render(depth)));
  }
  return out;
}

}  // namespace x0x::gates
