// The message of every log line with its control characters escaped (a spdlog
// flag used in place of %v): peer names, paths, command fields and error texts
// from the network or a bundle cannot forge a log line or send terminal codes,
// and the harvest's greps count only lines the program wrote. Header-only, for
// the binaries that log with spdlog (the lean node, the runner).
#pragma once
#include <spdlog/pattern_formatter.h>

#include "core/text.h"

namespace x0x {

class EscapedMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    auto text = printable(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<EscapedMessageFlag>(); }
};

}  // namespace x0x
