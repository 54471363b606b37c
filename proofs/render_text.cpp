#include "proofs/render_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/utc_time.h"

namespace x0x::proofs::text {

using nlohmann::json;

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string clean;
  clean.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') clean += '?';  // not representable in XML 1.0
    else clean += c;
  }
  return html_escape(clean);
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string md_cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

namespace {
std::string fixed(double d, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, d);
  return buf;
}
}  // namespace

std::string number(const json& v) {
  if (v.is_string()) return v.get<std::string>() == "inf" ? "inf" : v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (!v.is_number()) return "MISSING";
  if (v.is_number_integer()) return v.dump();
  double d = v.get<double>();
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (std::isnan(d)) return "MISSING";
  if (d == std::floor(d) && std::fabs(d) < 1e15) return fixed(d, 0);
  auto s = fixed(d, 6);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string ratio(const json& v, int decimals) {
  if (v.is_string() && v.get<std::string>() == "inf") return "inf";
  if (!v.is_number()) return "MISSING";
  double d = v.get<double>();
  if (std::isinf(d)) return "inf";
  if (std::isnan(d)) return "MISSING";
  return fixed(d, decimals);
}

std::string boolean(const json& v) { return v.is_boolean() ? (v.get<bool>() ? "true" : "false") : "MISSING"; }

std::string scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean() || v.is_null()) return number(v);
  return v.dump();
}

std::string utc_time(double unix_secs) { return format_utc(static_cast<std::time_t>(unix_secs), "%Y-%m-%d %H:%M:%S"); }

const json& at(const json& obj, std::string_view key) {
  static const json null_value;
  if (!obj.is_object()) return null_value;
  auto it = obj.find(key);
  return it == obj.end() ? null_value : *it;
}

std::optional<gates::ScenarioStatus> scenario_status(const json& scenario) {
  return gates::parse_scenario_status(str(scenario, "status"));
}

std::optional<gates::RuleStatus> rule_status(const json& rule) { return gates::parse_rule_status(str(rule, "status")); }

bool is_go(const json& verdict) { return gates::parse_verdict(str(verdict, "verdict")) == gates::Verdict::go; }

std::string str(const json& obj, std::string_view key) {
  auto& v = at(obj, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

double num(const json& obj, std::string_view key, double fallback) {
  auto& v = at(obj, key);
  return v.is_number() ? v.get<double>() : fallback;
}

std::vector<std::string> scenario_nodes(const json& verdict, const json& scenario) {
  std::vector<std::string> out;
  auto& nodes = at(scenario, "nodes");
  if (nodes.is_object())
    for (auto& [name, _] : nodes.items()) out.push_back(name);
  for (auto key : {"scored_nodes", "nodes"}) {  // a scenario not run has no node data
    if (!out.empty()) break;
    auto& list = key == std::string_view("scored_nodes") ? at(scenario, key) : at(verdict, key);
    for (auto& n : list)
      if (n.is_string()) out.push_back(n.get<std::string>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string node_text(const json& node, std::string_view name) {
  auto& t = at(node, "text");
  if (at(t, name).is_string()) return t[std::string(name)].get<std::string>();
  return str(at(t, "post"), name);  // tolerate {"pre": {...}, "post": {...}}
}

double generated_unix(const json& verdict) {
  if (at(verdict, "generated_unix").is_number()) return verdict["generated_unix"].get<double>();
  double last = 0;
  if (at(verdict, "scenarios").is_array())
    for (auto& s : verdict["scenarios"]) last = std::max(last, num(s, "ended_unix"));
  return last > 0 ? last : static_cast<double>(std::time(nullptr));
}

}  // namespace x0x::proofs::text
