#include "core/atomic_file.h"

#include <sys/stat.h>

#include <fstream>
#include <stdexcept>

namespace x0x {

void write_file_atomically(const std::filesystem::path& path, std::string_view content, unsigned mode) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(tmp.string() + ": cannot write");
    if (mode != 0) ::chmod(tmp.c_str(), mode);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) throw std::runtime_error(tmp.string() + ": cannot write");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace x0x
