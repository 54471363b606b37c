// A direct transcription of the BLAKE3 reference algorithm: 1 KiB chunks
// hashed block by block, their chaining values merged into a binary tree
// whose root is compressed with the ROOT flag. No SIMD, no keyed modes.
#include "core/blake3.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "core/encoding.h"

namespace x0x {
namespace {

using Words8 = std::array<std::uint32_t, 8>;
using Words16 = std::array<std::uint32_t, 16>;

constexpr std::size_t kBlockLen = 64;
constexpr std::size_t kChunkLen = 1024;

constexpr std::uint32_t kChunkStart = 1u << 0;
constexpr std::uint32_t kChunkEnd = 1u << 1;
constexpr std::uint32_t kParent = 1u << 2;
constexpr std::uint32_t kRoot = 1u << 3;

constexpr Words8 kIv = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                        0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

constexpr std::array<std::size_t, 16> kMsgPermutation = {2, 6,  3,  10, 7,  0,  4,  13,
                                                         1, 11, 12, 5,  9,  14, 15, 8};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void g(Words16& s, int a, int b, int c, int d, std::uint32_t mx, std::uint32_t my) {
  s[a] = s[a] + s[b] + mx;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = s[a] + s[b] + my;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 7);
}

void round_fn(Words16& s, const Words16& m) {
  // Columns, then diagonals.
  g(s, 0, 4, 8, 12, m[0], m[1]);
  g(s, 1, 5, 9, 13, m[2], m[3]);
  g(s, 2, 6, 10, 14, m[4], m[5]);
  g(s, 3, 7, 11, 15, m[6], m[7]);
  g(s, 0, 5, 10, 15, m[8], m[9]);
  g(s, 1, 6, 11, 12, m[10], m[11]);
  g(s, 2, 7, 8, 13, m[12], m[13]);
  g(s, 3, 4, 9, 14, m[14], m[15]);
}

Words16 compress(const Words8& cv, const Words16& block, std::uint64_t counter,
                 std::uint32_t block_len, std::uint32_t flags) {
  Words16 s = {cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
               kIv[0], kIv[1], kIv[2], kIv[3],
               static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32),
               block_len, flags};
  Words16 m = block;
  for (int r = 0; r < 7; ++r) {
    round_fn(s, m);
    if (r == 6) break;
    Words16 permuted;
    for (std::size_t i = 0; i < 16; ++i) permuted[i] = m[kMsgPermutation[i]];
    m = permuted;
  }
  for (std::size_t i = 0; i < 8; ++i) {
    s[i] ^= s[i + 8];
    s[i + 8] ^= cv[i];
  }
  return s;
}

Words8 first8(const Words16& w) {
  Words8 out;
  std::copy_n(w.begin(), 8, out.begin());
  return out;
}

// Little-endian words from up to 64 bytes; the tail is zero padded.
Words16 load_block(const std::uint8_t* p, std::size_t len) {
  std::uint8_t buf[kBlockLen] = {};
  if (len > 0) std::memcpy(buf, p, len);
  Words16 w;
  for (std::size_t i = 0; i < 16; ++i) {
    w[i] = std::uint32_t(buf[4 * i]) | std::uint32_t(buf[4 * i + 1]) << 8 |
           std::uint32_t(buf[4 * i + 2]) << 16 | std::uint32_t(buf[4 * i + 3]) << 24;
  }
  return w;
}

// Inputs to the one compression not yet done: it becomes either a chaining
// value (no ROOT flag) or, for the last node, the root output.
struct Output {
  Words8 input_cv;
  Words16 block;
  std::uint64_t counter;
  std::uint32_t block_len;
  std::uint32_t flags;

  Words8 chaining_value() const { return first8(compress(input_cv, block, counter, block_len, flags)); }
  Words8 root_words() const { return first8(compress(input_cv, block, 0, block_len, flags | kRoot)); }
};

// Hashes one chunk (at most 1 KiB) up to, but not including, its last block.
Output chunk_output(const std::uint8_t* p, std::size_t len, std::uint64_t chunk_counter) {
  Words8 cv = kIv;
  std::uint32_t start = kChunkStart;
  // Every block but the last is compressed now; the last (possibly empty or
  // partial) one carries CHUNK_END and is deferred.
  while (len > kBlockLen) {
    cv = first8(compress(cv, load_block(p, kBlockLen), chunk_counter, kBlockLen, start));
    start = 0;
    p += kBlockLen;
    len -= kBlockLen;
  }
  return {cv, load_block(p, len), chunk_counter, static_cast<std::uint32_t>(len),
          start | kChunkEnd};
}

Output parent_output(const Words8& left, const Words8& right) {
  Words16 block;
  std::copy(left.begin(), left.end(), block.begin());
  std::copy(right.begin(), right.end(), block.begin() + 8);
  return {kIv, block, 0, kBlockLen, kParent};
}

}  // namespace

std::array<std::uint8_t, 32> blake3(std::string_view data) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t remaining = data.size();
  std::uint64_t chunk_counter = 0;
  std::vector<Words8> cv_stack;  // one entry per set bit of the chunk count

  // All chunks but the last are complete and merged eagerly: after chunk n,
  // merge as many subtrees as n has trailing zero bits (the reference's
  // add_chunk_chaining_value). The last chunk may be a full 1 KiB too.
  while (remaining > kChunkLen) {
    Words8 cv = chunk_output(p, kChunkLen, chunk_counter).chaining_value();
    ++chunk_counter;
    for (std::uint64_t total = chunk_counter; (total & 1) == 0; total >>= 1) {
      cv = parent_output(cv_stack.back(), cv).chaining_value();
      cv_stack.pop_back();
    }
    cv_stack.push_back(cv);
    p += kChunkLen;
    remaining -= kChunkLen;
  }

  // Fold the stack right to left; the final node gets the ROOT flag.
  Output out = chunk_output(p, remaining, chunk_counter);
  for (auto it = cv_stack.rbegin(); it != cv_stack.rend(); ++it) {
    out = parent_output(*it, out.chaining_value());
  }
  Words8 root = out.root_words();

  std::array<std::uint8_t, 32> hash;
  for (std::size_t i = 0; i < 8; ++i) {
    for (std::size_t b = 0; b < 4; ++b) hash[4 * i + b] = static_cast<std::uint8_t>(root[i] >> (8 * b));
  }
  return hash;
}

std::string topic_id16(std::string_view topic) {
  auto h = blake3(topic);
  return to_hex(std::span<const std::uint8_t>(h.data(), 8));
}

}  // namespace x0x
