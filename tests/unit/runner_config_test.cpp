#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/encoding.h"
#include "runners/runner.h"

using namespace x0x::runners;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
Result result_at(std::uint64_t ts, std::string id) {
  Result r;
  r.kind = "ack";
  r.command_id = std::move(id);
  r.ts_ms = ts;
  return r;
}
}  // namespace

TEST_CASE("runner: the result queue drops the oldest when full, as the reference pins it") {
  ResultQueue q(2, 300s);
  auto now = unix_ms_now();
  q.push({result_at(now, "old"), ""});
  q.push({result_at(now, "middle"), ""});
  auto rep = q.push({result_at(now, "new"), ""});
  CHECK(rep.dropped_oldest == 1);
  auto items = q.snapshot();
  REQUIRE(items.size() == 2);
  CHECK(*items[0].result.command_id == "middle");
  CHECK(*items[1].result.command_id == "new");
}

TEST_CASE("runner: results older than the max age relative to the newest are pruned") {
  ResultQueue q(10, 300s);
  auto now = unix_ms_now();
  q.push({result_at(now - 400'000, "stale"), ""});
  q.push({result_at(now - 100'000, "fresh"), ""});
  auto rep = q.push({result_at(now, "newest"), ""});
  CHECK(rep.pruned_stale == 1);
  CHECK(q.size() == 2);
  auto first = q.pop(10ms);
  REQUIRE(first);
  CHECK(*first->result.command_id == "fresh");
  q.close();
  CHECK(q.pop(10ms));
  CHECK_FALSE(q.pop(10ms));
}

TEST_CASE("runner: repeated command ids are remembered up to the capacity") {
  RecentIds ids(2);
  CHECK(ids.insert("a"));
  CHECK_FALSE(ids.insert("a"));
  CHECK(ids.insert("b"));
  CHECK(ids.insert("c"));  // evicts "a"
  CHECK(ids.insert("a"));
}

TEST_CASE("runner: X0X_API_TOKEN is a file path or a literal — a missing path is an error, never a token") {
  auto dir = fs::temp_directory_path() / ("x0x-runner-" + x0x::random_hex(4));
  fs::create_directories(dir);
  { std::ofstream(dir / "api-token") << std::string(64, 'f') << "\n"; }
  std::string source;
  CHECK(resolve_token((dir / "api-token").string(), &source) == std::string(64, 'f'));
  CHECK(source.find("file") != std::string::npos);
  CHECK(source.find("ffff") == std::string::npos);  // the token is never in a message
  CHECK(resolve_token("literal-token-value", &source) == "literal-token-value");
  CHECK_THROWS_AS(resolve_token((dir / "missing").string()), ConfigError);
  CHECK_THROWS_AS(resolve_token(""), ConfigError);
  fs::remove_all(dir);
}

TEST_CASE("runner: flags win over the environment, and bad values are configuration errors") {
  std::map<std::string, std::string> env = {{"NODE_NAME", "sfo"}, {"X0X_API_BASE", "http://127.0.0.1:13600"},
                                            {"X0X_API_TOKEN", "tok"}, {"X0X_NO_PUBSUB_AFTER_DISCOVER", "Yes"},
                                            {"X0X_RESULT_RAW_QUIC_ACK_MS", "off"}};
  auto get = [&](const char* k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional(it->second);
  };
  ConfigInputs flags;
  flags.node_name = "nyc";
  auto cfg = resolve_config(flags, get);
  CHECK(cfg.node_name == "nyc");
  CHECK(cfg.api_base == "http://127.0.0.1:13600");
  CHECK(cfg.no_pubsub_after_discover);
  CHECK_FALSE(cfg.result_raw_quic_ack_ms.has_value());
  CHECK(parse_raw_quic_ack_ms("") == 12000);
  CHECK(parse_raw_quic_ack_ms("3000") == 3000);
  CHECK_THROWS_AS(parse_raw_quic_ack_ms("soon"), ConfigError);
  CHECK_THROWS_AS(parse_log_level("chatty"), ConfigError);
  CHECK(is_truthy(" ON "));
  CHECK_FALSE(is_truthy("0"));
}
