// Enum <-> spelling tables: states are enums inside and strings only at the
// JSON/CSV edge; each enum keeps one table of its spellings and looks both ways
// through these two functions.
#pragma once
#include <iterator>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace x0x {

// The spelling of `value` in `table` (an array of {enum, text} pairs), or `fallback`.
template <class Table, class E>
constexpr std::string_view name_in(const Table& table, E value, std::string_view fallback = "?") {
  for (auto& [v, text] : table)
    if (v == value) return text;
  return fallback;
}

// The enum spelled `text` in `table`, if any.
template <class Table>
constexpr auto value_in(const Table& table, std::string_view text)
    -> std::optional<std::remove_cvref_t<decltype(std::begin(table)->first)>> {
  for (auto& [v, t] : table)
    if (t == text) return v;
  return std::nullopt;
}

}  // namespace x0x
