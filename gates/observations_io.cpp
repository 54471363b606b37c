// ScenarioRun <-> proof bundle files, so `proof rescore` sees exactly what the
// scorer saw at run time.
#include "gates/observations_io.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include "core/contained_files.h"

namespace x0x::gates {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSides[] = {"pre", "post"};

// A scenario or node name becomes a path component, so it must stay one.
void check_component(const std::string& what, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find_first_of("/\\") != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw std::runtime_error(fmt::format("{} \"{}\" cannot be a file name in a proof bundle", what, name));
}

std::string body_path(const std::string& dir, const std::string& scenario, const std::string& node, const char* side) {
  return fmt::format("{}/{}/{}-{}.json", dir, scenario, node, side);
}

json fetch_record(const RawFetch& f, const std::string& file) {
  return {{"fetched", f.fetched},
          {"http_status", f.http_status},
          {"error", f.error},
          {"unix_time", f.unix_time},
          {"file", f.body.is_null() ? json(nullptr) : json(file)}};
}

// The largest JSON file a bundle may hand the scorer.
constexpr std::size_t kMaxBundleJsonBytes = 64u * 1024 * 1024;

// A JSON file inside the bundle (contained_files.h: no path out of it, no
// symlink, only a regular file of bounded size), named by its relative path.
json read_json_file(const fs::path& bundle, const std::string& rel) {
  std::string text;
  try {
    text = contained::read_file(bundle, rel, kMaxBundleJsonBytes);
  } catch (const contained::ContainedError& e) {
    throw contained::ContainedError((bundle / e.what()).string());  // "<bundle>/<rel>: why"
  } catch (const std::exception& e) {
    throw std::runtime_error((bundle / e.what()).string());
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error((bundle / rel).string() + ": not valid JSON");
  return j;
}

// Typed access to scenario.json with errors that name the file and field.
class Fields {
 public:
  Fields(const json& j, std::string file) : j_(j), file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw std::runtime_error(fmt::format("{}: {}: {}", file_, field, what));
  }

  const json& get(const json& obj, const std::string& key, const std::string& field, json::value_t type,
                  const char* type_name) const {
    if (!obj.is_object()) fail(field, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(field, "missing");
    bool ok = it->type() == type || (type == json::value_t::number_float && it->is_number()) ||
              (type == json::value_t::number_integer && it->is_number_integer());
    if (!ok) fail(field, std::string("expected ") + type_name + ", got " + it->type_name());
    return *it;
  }
  std::string str(const json& obj, const std::string& key, const std::string& field) const {
    return get(obj, key, field, json::value_t::string, "a string").get<std::string>();
  }
  double num(const json& obj, const std::string& key, const std::string& field) const {
    return get(obj, key, field, json::value_t::number_float, "a number").get<double>();
  }
  std::vector<std::string> strings(const json& obj, const std::string& key, const std::string& field) const {
    const json& a = get(obj, key, field, json::value_t::array, "an array");
    std::vector<std::string> out;
    for (auto& s : a) {
      if (!s.is_string()) fail(field, "expected an array of strings");
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  const json& root() const { return j_; }
  const std::string& file() const { return file_; }

 private:
  const json& j_;
  std::string file_;
};

// A bundle-relative file named inside scenario.json; never outside the bundle.
std::string bundle_file(const std::string& rel, const Fields& f, const std::string& field) {
  try {
    contained::checked_relative(rel);
  } catch (const contained::ContainedError& e) {
    f.fail(field, std::string("expected a path inside the bundle: ") + e.what());
  }
  return rel;
}

RawFetch read_fetch(const fs::path& bundle, const json& rec, const Fields& f, const std::string& field) {
  RawFetch out;
  if (!rec.is_object()) f.fail(field, "expected an object");
  out.fetched = f.get(rec, "fetched", field + ".fetched", json::value_t::boolean, "true or false").get<bool>();
  out.http_status = f.get(rec, "http_status", field + ".http_status", json::value_t::number_integer, "an integer").get<long>();
  out.error = f.str(rec, "error", field + ".error");
  out.unix_time = f.num(rec, "unix_time", field + ".unix_time");
  auto file = rec.find("file");
  if (file != rec.end() && !file->is_null()) {
    if (!file->is_string()) f.fail(field + ".file", "expected a string or null");
    out.body = read_json_file(bundle, bundle_file(file->get<std::string>(), f, field + ".file"));
  }
  return out;
}

ScenarioRun read_run(const fs::path& bundle, const std::string& rel) {
  json j = read_json_file(bundle, rel);
  Fields f(j, (bundle / rel).string());
  if (!j.is_object()) f.fail("(top level)", "expected an object");
  ScenarioRun run;
  run.name = f.str(j, "name", "name");
  run.index = f.get(j, "index", "index", json::value_t::number_integer, "an integer").get<int>();
  auto status = f.str(j, "status", "status");
  auto parsed = parse_run_status(status);
  if (!parsed) f.fail("status", "expected \"ran\", \"not_run\" or \"errored\", got \"" + status + "\"");
  run.status = *parsed;
  run.reason = f.str(j, "reason", "reason");
  run.nodes = f.strings(j, "nodes", "nodes");
  const json& roles = f.get(j, "roles", "roles", json::value_t::object, "an object");
  for (auto& [role, nodes] : roles.items()) run.roles[role] = f.strings(roles, role, "roles." + role);
  run.metrics = f.get(j, "metrics", "metrics", json::value_t::object, "an object");
  run.started_unix = f.num(j, "started_unix", "started_unix");
  run.ended_unix = f.num(j, "ended_unix", "ended_unix");
  if (auto pa = j.find("phase_a_file"); pa != j.end() && !pa->is_null()) {
    if (!pa->is_string()) f.fail("phase_a_file", "expected a string or null");
    run.phase_a = read_json_file(bundle, bundle_file(pa->get<std::string>(), f, "phase_a_file"));
  }
  if (auto pb = j.find("phase_b_file"); pb != j.end() && !pb->is_null()) {
    if (!pb->is_string()) f.fail("phase_b_file", "expected a string or null");
    run.phase_b = read_json_file(bundle, bundle_file(pb->get<std::string>(), f, "phase_b_file"));
  }
  if (auto st = j.find("settle"); st != j.end() && !st->is_null()) {
    auto& w = run.settle;
    w.recorded = true;
    w.min_secs = f.num(*st, "min_secs", "settle.min_secs");
    w.max_secs = f.num(*st, "max_secs", "settle.max_secs");
    w.waited_secs = f.num(*st, "waited_secs", "settle.waited_secs");
    w.settled = f.get(*st, "settled", "settle.settled", json::value_t::boolean, "true or false").get<bool>();
    w.polls = f.get(*st, "polls", "settle.polls", json::value_t::number_integer, "an integer").get<int>();
    const json& pending = f.get(*st, "pending", "settle.pending", json::value_t::object, "an object");
    for (auto& [node, what] : pending.items()) w.pending[node] = f.strings(pending, node, "settle.pending." + node);
  }
  const json& faults = f.get(j, "faults", "faults", json::value_t::array, "an array");
  for (std::size_t i = 0; i < faults.size(); ++i) {
    std::string field = fmt::format("faults[{}]", i);
    run.faults.push_back({f.str(faults[i], "node", field + ".node"), f.str(faults[i], "kind", field + ".kind"),
                          f.str(faults[i], "detail", field + ".detail"), f.num(faults[i], "start_unix", field + ".start_unix"),
                          f.num(faults[i], "end_unix", field + ".end_unix")});
  }
  const json& fetches = f.get(j, "fetches", "fetches", json::value_t::object, "an object");
  for (auto* side : kSides) {
    auto& snaps = std::string(side) == "pre" ? run.pre : run.post;
    const json& by_node = f.get(fetches, side, std::string("fetches.") + side, json::value_t::object, "an object");
    for (auto& [node, rec] : by_node.items()) {
      std::string field = fmt::format("fetches.{}.{}", side, node);
      RawSnapshot s;
      s.gossip = read_fetch(bundle, f.get(rec, "gossip", field + ".gossip", json::value_t::object, "an object"), f, field + ".gossip");
      s.connectivity = read_fetch(bundle, f.get(rec, "connectivity", field + ".connectivity", json::value_t::object, "an object"),
                                  f, field + ".connectivity");
      snaps[node] = std::move(s);
    }
  }
  return run;
}

}  // namespace

void write_scenario_run(const ScenarioRun& run, const JsonSink& sink) {
  check_component("scenario name", run.name);
  for (auto& node : run.nodes) check_component("node name", node);
  json fetches = {{"pre", json::object()}, {"post", json::object()}};
  for (auto* side : kSides) {
    const auto& snaps = std::string(side) == "pre" ? run.pre : run.post;
    for (auto& [node, s] : snaps) {
      check_component("node name", node);
      std::string gossip_file = body_path("diagnostics", run.name, node, side);
      std::string conn_file = body_path("diagnostics_connectivity", run.name, node, side);
      if (!s.gossip.body.is_null()) sink(gossip_file, s.gossip.body);
      if (!s.connectivity.body.is_null()) sink(conn_file, s.connectivity.body);
      fetches[side][node] = {{"gossip", fetch_record(s.gossip, gossip_file)},
                             {"connectivity", fetch_record(s.connectivity, conn_file)}};
    }
  }
  json faults = json::array();
  for (auto& f : run.faults)
    faults.push_back({{"node", f.node}, {"kind", f.kind}, {"detail", f.detail}, {"start_unix", f.start_unix}, {"end_unix", f.end_unix}});
  std::string phase_a_file = "scenarios/" + run.name + "/phase-a.json";
  if (!run.phase_a.is_null()) sink(phase_a_file, run.phase_a);
  std::string phase_b_file = "scenarios/" + run.name + "/phase-b.json";
  if (!run.phase_b.is_null()) sink(phase_b_file, run.phase_b);
  sink("scenarios/" + run.name + "/scenario.json",
       {{"name", run.name},
        {"index", run.index},
        {"status", to_string(run.status)},
        {"reason", run.reason},
        {"nodes", run.nodes},
        {"roles", run.roles},
        {"metrics", run.metrics.is_null() ? json::object() : run.metrics},
        {"phase_a_file", run.phase_a.is_null() ? json(nullptr) : json(phase_a_file)},
        {"phase_b_file", run.phase_b.is_null() ? json(nullptr) : json(phase_b_file)},
        {"faults", faults},
        {"started_unix", run.started_unix},
        {"ended_unix", run.ended_unix},
        {"settle", run.settle.recorded ? settle_json(run.settle) : json(nullptr)},
        {"fetches", fetches}});
}

std::vector<ScenarioRun> read_scenario_runs(const std::filesystem::path& bundle_dir) {
  std::vector<ScenarioRun> runs;
  fs::path dir = bundle_dir / "scenarios";
  std::error_code ec;
  auto dir_st = fs::symlink_status(dir, ec);
  if (fs::is_symlink(dir_st)) throw contained::ContainedError("scenarios: is a symlink (a bundle holds only regular files and folders)");
  if (!fs::is_directory(dir_st)) throw std::runtime_error(dir.string() + ": no scenarios in this bundle");
  for (auto& entry : fs::directory_iterator(dir)) {
    auto st = entry.symlink_status();
    auto name = entry.path().filename().string();
    if (fs::is_symlink(st)) throw contained::ContainedError("scenarios/" + name + ": is a symlink (a bundle holds only regular files and folders)");
    auto rel = "scenarios/" + name + "/scenario.json";
    if (fs::is_directory(st) && fs::exists(fs::symlink_status(bundle_dir / rel))) runs.push_back(read_run(bundle_dir, rel));
  }
  // verdict.json's order when there is one; else the run's own order (index, then name).
  std::vector<std::string> order;
  if (fs::exists(fs::symlink_status(bundle_dir / "verdict.json"))) {
    json v = read_json_file(bundle_dir, "verdict.json");
    if (v.is_object() && v.contains("scenarios") && v["scenarios"].is_array())
      for (auto& s : v["scenarios"])
        if (s.is_object() && s.contains("name") && s["name"].is_string()) order.push_back(s["name"].get<std::string>());
  }
  auto rank = [&](const ScenarioRun& r) {
    auto it = std::find(order.begin(), order.end(), r.name);
    return it == order.end() ? order.size() : static_cast<std::size_t>(it - order.begin());
  };
  std::stable_sort(runs.begin(), runs.end(), [&](const ScenarioRun& a, const ScenarioRun& b) {
    return std::tuple(rank(a), a.index, a.name) < std::tuple(rank(b), b.index, b.name);
  });
  return runs;
}

}  // namespace x0x::gates
