#include "proofs/html_util.h"

#include <cstdio>
#include <iterator>

#include "proofs/render_text.h"

namespace x0x::proofs::html {

const char* const kBaseStyle = R"(
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; margin: 0; color: #1f2328; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 0 24px 48px; }
header.verdict { padding: 28px 24px; color: #fff; }
header.go { background: #1a7f37; }
header.nogo { background: #b42318; }
header.interrupted { background: #bf8700; }
header .word { font-size: 64px; font-weight: 800; letter-spacing: 2px; line-height: 1; }
header .meta { margin-top: 10px; font-size: 16px; opacity: .95; }
h2 { margin: 32px 0 12px; padding-bottom: 6px; border-bottom: 2px solid #d0d7de; }
h3 { margin: 22px 0 8px; font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.missing { color: #8c959f; font-style: italic; }
.pass { background: #dafbe1; color: #116329; }
.fail { background: #ffebe9; color: #a40e26; font-weight: 600; }
.not_run { background: #fff8c5; color: #7d4e00; font-weight: 600; }
.na { background: #f6f8fa; color: #8c959f; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px; }
.reason { padding: 8px 12px; border-left: 4px solid #bf8700; background: #fff8c5; }
.note { color: #57606a; }
code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; }
svg text { font: 11px "DejaVu Sans", Arial, sans-serif; fill: #1f2328; }
.wide { overflow-x: auto; max-width: 100%; }
table.grid td, table.grid th { min-width: 70px; }
table.small { font-size: 12.5px; }
td.evidence { max-width: 240px; word-break: break-all; }
td.msg { min-width: 280px; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
)";

std::string f1(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", d);
  return buf;
}

std::string short_label(const std::string& s, std::size_t max) {
  return s.size() <= max ? s : s.substr(0, max - 1) + "…";
}

std::string breakable(std::string_view s) {
  std::string out;
  for (char c : text::html_escape(s)) {
    out += c;
    if (c == '_') out += "<wbr>";
  }
  return out;
}

const char* series_colour(std::size_t i) {
  static const char* palette[] = {"#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00",
                                  "#1b7c83", "#bf3989", "#6e7781", "#9a6700", "#0550ae"};
  return palette[i % std::size(palette)];
}

}  // namespace x0x::proofs::html
