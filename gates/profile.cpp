// Gate profiles as data: TOML in, GateProfile out, every error naming
// file:line: key. toml++ stays inside this file.
#include "gates/profile.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/toml_text.h"
#include "gates/builtin_profiles.h"

namespace x0x::gates {
namespace {

namespace fs = std::filesystem;

enum class Kind { kCount, kNumber };  // kCount: a non-negative integer; kNumber: any non-negative number

struct RuleSpec {
  const char* key;
  Kind kind;
};

// Every threshold key a profile may set (min_phase_a_pairs and min_phase_b_checks are handled apart: they may be "all").
constexpr RuleSpec kRules[] = {
    {kDispatcherTimedOut, Kind::kCount},      {kDroppedFull, Kind::kCount},
    {kPerPeerTimeout, Kind::kCount},          {kPerPeerTimeoutRatio, Kind::kNumber},
    {kDataTxHighWater, Kind::kCount},         {kSuppressedSteady, Kind::kCount},
    {kSuppressionRatio, Kind::kNumber},       {kMaxRecoverySecs, Kind::kNumber},
    {kMaxPartitionRecoverySecs, Kind::kNumber},
};

constexpr const char* kExemptionKinds[] = {kExemptDispatcherTimeout, kExemptSuppressionRatio};

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "the string " + x0x::toml_quote(n.as_string()->get());
    case toml::node_type::integer: return fmt::format("the integer {}", n.as_integer()->get());
    case toml::node_type::floating_point: return fmt::format("the float {}", n.as_floating_point()->get());
    case toml::node_type::boolean: return n.as_boolean()->get() ? "true" : "false";
    default: return "a date or time";
  }
}

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const toml::node& n, const std::string& key, const std::string& what) const {
    auto line = n.source().begin.line;
    throw ProfileError(line ? fmt::format("{}:{}: {}: {}", source_, line, key, what)
                            : fmt::format("{}: {}: {}", source_, key, what));
  }

  const std::string& string(const toml::node& n, const std::string& key) const {
    if (!n.is_string()) fail(n, key, "expected a string, got " + describe(n));
    return n.as_string()->get();
  }

  const toml::table& table(const toml::node& n, const std::string& key) const {
    if (!n.is_table()) fail(n, key, "expected a table, got " + describe(n));
    return *n.as_table();
  }

  std::vector<std::string> strings(const toml::node& n, const std::string& key) const {
    if (!n.is_array()) fail(n, key, "expected an array of strings, got " + describe(n));
    std::vector<std::string> out;
    std::size_t i = 0;
    for (auto& item : *n.as_array()) {
      std::string item_key = fmt::format("{}[{}]", key, i++);
      const std::string& s = string(item, item_key);
      if (s.empty()) fail(item, item_key, "expected a non-empty string");
      out.push_back(s);
    }
    return out;
  }

  double threshold(const toml::node& n, const std::string& key, Kind kind) const {
    if (kind == Kind::kCount) {
      if (!n.is_integer()) fail(n, key, "expected a non-negative integer, got " + describe(n));
    } else if (!n.is_number()) {
      fail(n, key, "expected a non-negative number, got " + describe(n));
    }
    double v = n.is_integer() ? static_cast<double>(n.as_integer()->get()) : n.as_floating_point()->get();
    if (!(v >= 0) || v == std::numeric_limits<double>::infinity())
      fail(n, key, "expected a non-negative " + std::string(kind == Kind::kCount ? "integer" : "number") + ", got " + describe(n));
    return v;
  }

 private:
  const std::string& source_;
};

void parse_thresholds(const Reader& r, const toml::table& t, GateProfile& p) {
  for (auto&& [k, node] : t) {
    std::string key = "thresholds." + std::string(k.str());
    if (k.str() == kMinPhaseAPairs || k.str() == kMinPhaseBChecks) {
      bool& all = k.str() == kMinPhaseAPairs ? p.phase_a_all_pairs : p.phase_b_all_checks;
      if (node.is_string()) {
        if (node.as_string()->get() != "all")
          r.fail(node, key, "expected \"all\" or a non-negative integer, got " + describe(node));
        all = true;
      } else {
        if (!node.is_integer()) r.fail(node, key, "expected \"all\" or a non-negative integer, got " + describe(node));
        p.thresholds[std::string(k.str())] = r.threshold(node, key, Kind::kCount);
      }
      continue;
    }
    const RuleSpec* spec = nullptr;
    for (auto& s : kRules)
      if (k.str() == s.key) spec = &s;
    if (!spec) r.fail(node, key, "unknown key");
    p.thresholds[spec->key] = r.threshold(node, key, spec->kind);
  }
}

void parse_phase_a(const Reader& r, const toml::table& t, GateProfile& p) {
  for (auto&& [k, node] : t) {
    std::string key = "phase_a." + std::string(k.str());
    if (k.str() != "scenarios") r.fail(node, key, "unknown key");
    for (auto& s : r.strings(node, key)) p.phase_a_scenarios.insert(s);
  }
}

void parse_exemptions(const Reader& r, const toml::table& t, GateProfile& p) {
  for (auto&& [scenario, scenario_node] : t) {
    std::string scenario_key = "exemptions." + std::string(scenario.str());
    auto& by_kind = p.exemptions[std::string(scenario.str())];
    for (auto&& [kind, node] : r.table(scenario_node, scenario_key)) {
      std::string key = scenario_key + "." + std::string(kind.str());
      bool known = false;
      for (auto* k : kExemptionKinds) known = known || kind.str() == k;
      if (!known) r.fail(node, key, fmt::format("unknown exemption kind (expected {} or {})", kExemptDispatcherTimeout, kExemptSuppressionRatio));
      by_kind[std::string(kind.str())] = r.strings(node, key);
    }
  }
}

void parse_settle(const Reader& r, const toml::table& t, GateProfile& p) {
  for (auto&& [scenario, scenario_node] : t) {
    std::string scenario_key = "settle." + std::string(scenario.str());
    auto& bounds = p.settle[std::string(scenario.str())];
    for (auto&& [k, node] : r.table(scenario_node, scenario_key)) {
      std::string key = scenario_key + "." + std::string(k.str());
      if (k.str() == "min_settle_secs") bounds.min_secs = r.threshold(node, key, Kind::kNumber);
      else if (k.str() == "max_settle_secs") bounds.max_secs = r.threshold(node, key, Kind::kNumber);
      else r.fail(node, key, "unknown key (expected min_settle_secs or max_settle_secs)");
    }
    if (bounds.min_secs && bounds.max_secs && *bounds.min_secs > *bounds.max_secs)
      r.fail(scenario_node, scenario_key, fmt::format("min_settle_secs {} is above max_settle_secs {}", *bounds.min_secs, *bounds.max_secs));
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProfileError(fmt::format("{}: cannot read the gate profile: {}", path.string(), std::strerror(errno)));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool looks_like_path(const std::string& s) {
  return s.find('/') != std::string::npos || (s.size() > 5 && s.compare(s.size() - 5, 5, ".toml") == 0);
}

}  // namespace

std::optional<long> GateProfile::min_phase_a_pairs(std::size_t n) const {
  if (phase_a_all_pairs) return n == 0 ? 0L : static_cast<long>(n * (n - 1));
  auto it = thresholds.find(kMinPhaseAPairs);
  if (it == thresholds.end()) return std::nullopt;
  return static_cast<long>(it->second);
}

std::optional<long> GateProfile::min_phase_b_checks(std::size_t n) const {
  if (phase_b_all_checks) return n == 0 ? 0L : static_cast<long>(10 * n + 10);
  auto it = thresholds.find(kMinPhaseBChecks);
  if (it == thresholds.end()) return std::nullopt;
  return static_cast<long>(it->second);
}

GateProfile parse_profile(std::string_view toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    throw ProfileError(fmt::format("{}:{}:{}: invalid TOML: {}", source, e.source().begin.line, e.source().begin.column,
                                   e.description()));
  }
  GateProfile p;
  p.source = source;
  p.text = std::string(toml_text);
  Reader r(source);
  bool has_name = false;
  for (auto&& [k, node] : root) {
    std::string key(k.str());
    if (key == "name") {
      p.name = r.string(node, key);
      if (p.name.empty()) r.fail(node, key, "must not be empty");
      has_name = true;
    } else if (key == "description") {
      p.description = r.string(node, key);
    } else if (key == "thresholds") {
      parse_thresholds(r, r.table(node, key), p);
    } else if (key == "phase_a") {
      parse_phase_a(r, r.table(node, key), p);
    } else if (key == "exemptions") {
      parse_exemptions(r, r.table(node, key), p);
    } else if (key == "settle") {
      parse_settle(r, r.table(node, key), p);
    } else {
      r.fail(node, key, "unknown key (expected name, description, thresholds, phase_a, settle or exemptions)");
    }
  }
  if (!has_name) throw ProfileError(source + ":1: name: required (the profile's name, e.g. \"limited-production\")");
  return p;
}

GateProfile load_profile_file(const std::filesystem::path& path) { return parse_profile(read_file(path), path.string()); }

GateProfile resolve_profile(const std::string& name_or_path) {
  if (name_or_path.empty()) throw ProfileError("gate profile: empty name (expected a NAME or a PATH to a .toml file)");
  if (looks_like_path(name_or_path)) {
    std::error_code ec;
    if (!fs::is_regular_file(name_or_path, ec)) throw ProfileError(name_or_path + ": no such gate profile file");
    return load_profile_file(name_or_path);
  }
  std::vector<std::string> looked;
  if (const char* dir = std::getenv("X0X_GATES_DIR"); dir && *dir) {
    fs::path candidate = fs::path(dir) / (name_or_path + ".toml");
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return load_profile_file(candidate);
    looked.push_back(candidate.string() + " ($X0X_GATES_DIR)");
  }
  fs::path local = fs::path("gates") / (name_or_path + ".toml");
  std::error_code ec;
  if (fs::is_regular_file(local, ec)) return load_profile_file(local);
  looked.push_back("./" + local.string());
  for (auto& b : builtin::kProfiles)
    if (name_or_path == b.name) return parse_profile(b.text, std::string("built-in:") + b.name);
  std::string builtins;
  for (auto& n : builtin_profile_names()) builtins += (builtins.empty() ? "" : ", ") + n;
  looked.push_back("built-in (" + builtins + ")");
  std::string where;
  for (auto& l : looked) where += (where.empty() ? "" : ", ") + l;
  throw ProfileError(fmt::format("unknown gate profile \"{}\": looked in {}", name_or_path, where));
}

std::vector<std::string> builtin_profile_names() {
  std::vector<std::string> names;
  for (auto& b : builtin::kProfiles) names.push_back(b.name);
  return names;
}

}  // namespace x0x::gates
