// Reading a bundle's JSON for `proof diff` (private to proofs/): a field of
// the wrong type reads as absent, never as a crash, and values are rendered
// one way on both sides so that equal means equal.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace x0x::proofs::diff_values {

// j if it is an array (an object), else an empty one: iterating a scalar
// would otherwise visit the scalar itself.
const nlohmann::json& array_of(const nlohmann::json& j);
const nlohmann::json& object_of(const nlohmann::json& j);
// A number, or "inf" (soak.json's infinite ratios) as +inf; nullopt otherwise.
std::optional<double> number_of(const nlohmann::json& j);
// A scalar or a list of scalars as text: numbers as the renderers print them,
// lists comma separated ("none" when empty), null "null"; absent or an object "".
std::string value_text(const nlohmann::json& j);
// Nearest-rank percentile (p in (0, 100]) of values (any order); nullopt when empty.
std::optional<double> percentile(std::vector<double> values, double p);
// A number for people: up to 1 decimal, integers without; +inf "inf"; nullopt "unknown".
std::string short_number(std::optional<double> v);

}  // namespace x0x::proofs::diff_values
