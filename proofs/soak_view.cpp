#include "proofs/soak_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "proofs/render_text.h"

namespace x0x::proofs::soak_view {

using text::at;
using text::str;

std::vector<const json*> windows(const json& soak) {
  std::vector<const json*> out;
  auto& ws = at(soak, "windows");
  if (ws.is_array())
    for (auto& w : ws)
      if (w.is_object()) out.push_back(&w);
  return out;
}

int window_index(const json& w, std::size_t position) {
  auto& i = at(w, "index");
  if (i.is_number_integer() && i.get<long long>() > 0 && i.get<long long>() < 1000000) return static_cast<int>(i.get<long long>());
  return static_cast<int>(position) + 1;
}

std::string window_dir_label(int index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03d", index);
  return buf;
}

std::string window_class(const json& w) {
  static const char* known[] = {"clean", "tolerated_dispatcher", "tolerated_phase_a", "tolerated_infra_phase_a",
                                "effective_failed", "warmup", "not_counted"};
  auto c = str(w, "class");
  for (auto k : known)
    if (c == k) return c;
  return {};
}

bool is_tolerated(const std::string& cls) { return cls.rfind("tolerated_", 0) == 0; }

bool counted(const json& w) {
  auto cls = window_class(w);
  if (cls == "warmup" || cls == "not_counted") return false;
  if (at(w, "warmup") == true) return false;
  auto state = str(w, "state"), verdict = str(w, "verdict");
  return state != "skipped" && state != "interrupted" && verdict != "SKIPPED" && verdict != "INTERRUPTED";
}

std::string window_verdict(const json& w) {
  auto v = str(w, "verdict");
  return v.empty() ? "?" : v;
}

bool effective_failed(const json& soak, const json& w, int index) {
  if (window_class(w) == "effective_failed") return true;
  return list_has(at(at(soak, "policy"), "effective_failed"), index);
}

std::string overall(const json& soak) {
  auto v = str(soak, "verdict");
  return v == "GO" || v == "INTERRUPTED" ? v : "NO-GO";
}

bool is_pubsub_pressure(const json& soak) { return str(at(soak, "config"), "variant") == "pubsub-pressure"; }

const json& continuous(const json& w) {
  static const json null_value;
  auto& c = at(w, "continuous");
  return c.is_object() && at(c, "has_data") == true ? c : null_value;
}

std::vector<std::string> node_names(const json& soak) {
  std::vector<std::string> out;
  auto add = [&](const json& n) {
    if (n.is_string() && std::find(out.begin(), out.end(), n.get<std::string>()) == out.end()) out.push_back(n.get<std::string>());
  };
  if (auto& ns = at(at(soak, "config"), "nodes"); ns.is_array())
    for (auto& n : ns) add(n);
  for (auto* w : windows(soak)) {
    if (auto& order = at(*w, "node_order"); order.is_array())
      for (auto& n : order) add(n);
    if (auto& nodes = at(*w, "nodes"); nodes.is_object())
      for (auto& [name, _] : nodes.items()) add(json(name));
  }
  return out;
}

std::string num(const json& v, std::string_view missing) {
  if (v.is_string() && v.get<std::string>() == "inf") return "inf";
  if (!v.is_number() || (v.is_number_float() && std::isnan(v.get<double>()))) return std::string(missing);
  return text::number(v);
}

std::string ratio(const json& v, int dp, std::string_view missing) {
  auto r = text::ratio(v, dp);
  return r == "MISSING" || r == "-inf" ? std::string(missing) : r;
}

std::string whole_secs(const json& v, std::string_view missing) {
  if (!v.is_number()) return std::string(missing);
  double d = v.get<double>();
  if (!std::isfinite(d) || d <= 0 || d > 1e15) return std::string(missing);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", std::floor(d));
  return buf;
}

std::optional<double> finite(const json& v) {
  if (!v.is_number()) return std::nullopt;
  double d = v.get<double>();
  return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
}

std::string violations_count(const json& w, std::string_view missing) {
  auto n = num(at(at(w, "scenario_summary"), "violations"));
  if (!n.empty()) return n;
  auto& vs = at(w, "violations");
  if (str(w, "state") == "ran" && vs.is_array()) return std::to_string(vs.size());
  return std::string(missing);
}

std::string join_strings(const json& arr, std::string_view sep) {
  std::string out;
  if (arr.is_array())
    for (auto& s : arr)
      if (s.is_string()) out += (out.empty() ? "" : std::string(sep)) + s.get<std::string>();
  return out;
}

std::string index_list(const json& arr) {
  std::string out;
  if (arr.is_array())
    for (auto& i : arr)
      if (i.is_number_integer()) out += (out.empty() ? "" : ", ") + i.dump();
  return out.empty() ? "none" : out;
}

bool list_has(const json& arr, int index) {
  if (!arr.is_array()) return false;
  for (auto& i : arr)
    if (i.is_number_integer() && i.get<long long>() == index) return true;
  return false;
}

}  // namespace x0x::proofs::soak_view
