#include "core/utc_time.h"

namespace x0x {

std::string format_utc(std::time_t t, const char* format) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  auto n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

std::string utc_stamp() { return format_utc(std::time(nullptr), "%Y%m%dT%H%M%SZ"); }

}  // namespace x0x
