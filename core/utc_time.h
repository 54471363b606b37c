// A UNIX time as text in UTC, in any strftime format: bundle names, log
// stamps, report times.
#pragma once
#include <ctime>
#include <string>

namespace x0x {

// format_utc(t, "%Y%m%dT%H%M%SZ") -> "20261121T203546Z"
std::string format_utc(std::time_t t, const char* format);

// Now, as "20261121T203546Z": bundle and run names.
std::string utc_stamp();

}  // namespace x0x
