// HTML helpers shared by the self-contained reports (report.html of a gate
// run, report.html of a soak; private to proofs/): the base stylesheet, number
// formatting for SVG coordinates, and label shortening. Text escaping is
// render_text.h's html_escape.
#pragma once
#include <string>
#include <string_view>

namespace x0x::proofs::html {

// The common stylesheet: page layout, the verdict banner (header.verdict.go /
// .nogo / .interrupted), tables, status cells and legends.
extern const char* const kBaseStyle;

std::string f1(double d);  // one decimal: SVG coordinates
// Long names are shortened on the axes; the full name goes in the tooltip.
std::string short_label(const std::string& s, std::size_t max = 14);
// Escaped, with a <wbr> after each underscore so long rule names can wrap.
std::string breakable(std::string_view s);

// A fixed palette for series (node lines, fault kinds), cycled.
const char* series_colour(std::size_t i);

}  // namespace x0x::proofs::html
