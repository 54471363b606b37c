#include "core/contained_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/encoding.h"
#include "core/sha256.h"

namespace x0x::contained {

namespace fs = std::filesystem;

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};


std::string why_not_opened(int err) {
  switch (err) {
    case ELOOP: return "is a symlink (a bundle holds only regular files and folders)";
    case ENOENT: return "missing";
    case ENOTDIR: return "a folder on its path is a symlink or a file";
    case EACCES: return "permission denied";
    default: return std::string("cannot open (") + std::strerror(err) + ")";
  }
}

[[noreturn]] void fail(std::string_view rel, const std::string& why) {
  throw ContainedError(std::string(rel) + ": " + why);
}

// A missing file is not hostile, only absent: a plain runtime_error.
[[noreturn]] void fail_open(std::string_view rel, int err) {
  if (err == ENOENT) throw std::runtime_error(std::string(rel) + ": missing");
  fail(rel, why_not_opened(err));
}

// The folder holding rel's last component, walked from root without following links.
Fd open_parent(const fs::path& root, const fs::path& rel, std::string_view shown, bool create) {
  Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) fail(root.string(), "cannot open the folder (" + std::string(std::strerror(errno)) + ")");
  fs::path walked;
  for (auto it = rel.begin(); it != rel.end() && std::next(it) != rel.end(); ++it) {
    walked /= *it;
    int next = ::openat(dir.fd, it->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(dir.fd, it->c_str(), 0755) != 0 && errno != EEXIST)
        fail(shown, "cannot create " + walked.string() + " (" + std::strerror(errno) + ")");
      next = ::openat(dir.fd, it->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      int e = errno;
      if (e == ENOENT) fail_open(shown, e);
      fail(shown, walked.string() + (e == ELOOP || e == ENOTDIR ? " is a symlink or not a folder" : ": " + why_not_opened(e)));
    }
    Fd tmp(next);
    std::swap(dir.fd, tmp.fd);
  }
  return dir;
}

// A regular file at rel, opened without following a link and without blocking on a FIFO.
Fd open_regular(const fs::path& root, std::string_view rel, struct stat& st) {
  auto path = checked_relative(rel);
  auto dir = open_parent(root, path, rel, false);
  Fd f(::openat(dir.fd, path.filename().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (f.fd < 0) fail_open(rel, errno);
  if (::fstat(f.fd, &st) != 0) fail(rel, "cannot stat");
  if (!S_ISREG(st.st_mode)) fail(rel, "not a regular file (a FIFO, device, socket or folder)");
  // Reads of a regular file never block; back to blocking for plain reads.
  ::fcntl(f.fd, F_SETFL, ::fcntl(f.fd, F_GETFL) & ~O_NONBLOCK);
  return f;
}

}  // namespace

fs::path checked_relative(std::string_view rel) {
  if (rel.empty()) fail("\"\"", "an empty path");
  if (rel.find('\0') != std::string_view::npos) fail("(a path with a NUL byte)", "not a path");
  fs::path p(rel);
  if (p.is_absolute()) fail(rel, "an absolute path leaves the bundle");
  for (auto& part : p) {
    if (part == "..") fail(rel, "leaves the bundle (..)");
    if (part.empty() || part == ".") fail(rel, "has an empty or '.' component");
  }
  if (rel.back() == '/') fail(rel, "names a folder, not a file");
  if (rel.find("//") != std::string_view::npos) fail(rel, "has an empty or '.' component");
  return p;
}

std::string read_file(const fs::path& root, std::string_view rel, std::size_t max_bytes) {
  struct stat st {};
  auto f = open_regular(root, rel, st);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    fail(rel, "larger than " + std::to_string(max_bytes) + " bytes (" + std::to_string(st.st_size) + ")");
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (true) {
    if (got == out.size()) {  // the file grew since fstat: read on, up to the limit
      if (out.size() >= max_bytes + 1) break;
      out.resize(std::min(max_bytes + 1, std::max<std::size_t>(out.size() * 2, 4096)));
    }
    auto n = ::read(f.fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(rel, std::string("read error (") + std::strerror(errno) + ")");
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_bytes) fail(rel, "larger than " + std::to_string(max_bytes) + " bytes");
  out.resize(got);
  return out;
}

std::string sha256_file(const fs::path& root, std::string_view rel) {
  struct stat st {};
  auto f = open_regular(root, rel, st);
  try {
    return x0x::sha256_fd(f.fd, std::string(rel));
  } catch (const std::runtime_error& e) {
    fail(rel, "read error");
  }
}

void write_file(const fs::path& root, std::string_view rel, std::string_view content) {
  auto path = checked_relative(rel);
  auto dir = open_parent(root, path, rel, true);
  auto name = path.filename().string();
  auto tmp = "." + name + ".tmp-" + random_hex(6);
  Fd f(::openat(dir.fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (f.fd < 0) fail(rel, std::string("cannot create (") + std::strerror(errno) + ")");
  std::size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(f.fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::unlinkat(dir.fd, tmp.c_str(), 0);
      fail(rel, std::string("cannot write (") + std::strerror(e) + ")");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::renameat(dir.fd, tmp.c_str(), dir.fd, name.c_str()) != 0) {
    int e = errno;
    ::unlinkat(dir.fd, tmp.c_str(), 0);
    fail(rel, e == EISDIR ? "is a folder" : std::string("cannot replace (") + std::strerror(e) + ")");
  }
}

}  // namespace x0x::contained
