#include "cli/phase_a_output.h"

#include <unistd.h>

#include <map>

#include <fmt/core.h>

namespace x0x::cli {

static bool g_progress_shown = false;

void progress_line(const std::string& text) {
  if (!::isatty(STDERR_FILENO)) return;
  fmt::print(stderr, "\r\033[K{}", text);
  std::fflush(stderr);
  g_progress_shown = true;
}

void end_progress() {
  if (g_progress_shown) fmt::print(stderr, "\r\033[K");
  g_progress_shown = false;
}

static std::string short_stage(harness::PairStage stage) {
  using harness::PairStage;
  switch (stage) {
    case PairStage::not_discovered: return "✗ disc";
    case PairStage::not_delivered: return "✗ cmd";
    case PairStage::send_failed: return "✗ send";
    case PairStage::not_received: return "✗ recv";
    case PairStage::result_lost: return "✗ res";
    case PairStage::delivered: break;
  }
  return "✗";
}

void print_phase_a(std::FILE* out, const harness::PhaseAReport& rep) {
  const auto& names = rep.allow_missing ? rep.discovered : rep.nodes;
  std::map<std::pair<std::string, std::string>, const harness::PairResult*> by_pair;
  for (auto& p : rep.pairs) by_pair[{p.src, p.dst}] = &p;
  std::size_t w = 9;
  for (auto& n : names) w = std::max(w, n.size() + 1);
  fmt::print(out, "\n{:<{}}", "src\\dst", w);
  for (auto& d : names) fmt::print(out, "{:>{}}", d, w);
  fmt::print(out, "\n");
  for (auto& s : names) {
    fmt::print(out, "{:<{}}", s, w);
    for (auto& d : names) {
      std::string cell = "·";
      if (auto it = by_pair.find({s, d}); it != by_pair.end()) {
        auto& p = *it->second;
        cell = p.delivered() ? fmt::format("✓ {:.0f}ms", p.latency_ms) : short_stage(p.stage);
      }
      // Pad by code points: ✓/✗/· are one column but three bytes.
      std::size_t cols = 0;
      for (unsigned char c : cell) cols += (c & 0xC0) != 0x80;
      fmt::print(out, "{}{}", std::string(w > cols ? w - cols : 1, ' '), cell);
    }
    fmt::print(out, "\n");
  }
  if (!rep.missing.empty()) {
    fmt::print(out, "\nNot discovered: ");
    for (std::size_t i = 0; i < rep.missing.size(); ++i) fmt::print(out, "{}{}", i ? ", " : "", rep.missing[i]);
    fmt::print(out, "{}\n", rep.allow_missing ? " (--allow-missing: left out of the matrix)" : "");
  }
  std::size_t failed = 0;
  for (auto& p : rep.pairs)
    if (!p.delivered()) {
      if (!failed++) fmt::print(out, "\nFailed pairs:\n");
      fmt::print(out, "  {} -> {}: {}{}\n", p.src, p.dst, harness::stage_text(p.stage), p.detail.empty() ? "" : " (" + p.detail + ")");
    }
  fmt::print(out, "\n  Sent:     {} / {}\n  Received: {} / {}\n", rep.send_ok, rep.expected_pairs, rep.received, rep.expected_pairs);
  fmt::print(out, "  discovery {:.2f} s, matrix {:.2f} s\n\n{}\n", rep.discover_secs, rep.matrix_secs, rep.verdict());
}

}  // namespace x0x::cli
