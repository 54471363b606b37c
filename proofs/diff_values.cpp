#include "proofs/diff_values.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "proofs/render_text.h"

namespace x0x::proofs::diff_values {

using nlohmann::json;

const json& array_of(const json& j) {
  static const json empty = json::array();
  return j.is_array() ? j : empty;
}

const json& object_of(const json& j) {
  static const json empty = json::object();
  return j.is_object() ? j : empty;
}

std::optional<double> number_of(const json& j) {
  if (j.is_number()) {
    double d = j.get<double>();
    if (std::isnan(d)) return std::nullopt;
    return d;
  }
  if (j.is_string() && j.get<std::string>() == "inf") return std::numeric_limits<double>::infinity();
  return std::nullopt;
}

std::string value_text(const json& j) {
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number() || j.is_boolean()) return text::number(j);
  if (j.is_array()) {
    if (j.empty()) return "none";
    std::string out;
    for (auto& e : j) {
      if (e.is_object() || e.is_array()) continue;  // only lists of scalars are values
      if (!out.empty()) out += ",";
      out += e.is_null() ? std::string("null") : value_text(e);
    }
    return out;
  }
  return "";
}

std::optional<double> percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

std::string short_number(std::optional<double> v) {
  if (!v) return "unknown";
  if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
  char buf[64];
  if (*v == std::floor(*v) && std::fabs(*v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", *v);
  else std::snprintf(buf, sizeof buf, "%.1f", *v);
  return buf;
}

}  // namespace x0x::proofs::diff_values
