#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include "core/encoding.h"
#include "node/identity.h"

using namespace x0x::node;
namespace fs = std::filesystem;

TEST_CASE("identity: ids are 64 lowercase hex and survive a restart") {
  auto dir = fs::temp_directory_path() / ("x0x-id-" + x0x::random_hex(6));
  auto first = Identity::load_or_create(dir);
  CHECK(x0x::is_hex(first.agent_id, 64));
  CHECK(x0x::is_hex(first.machine_id, 64));
  CHECK(first.agent_id != first.machine_id);
  CHECK(first.agent_id.find_first_of("ABCDEF") == std::string::npos);
  struct stat st {};
  REQUIRE(::stat((dir / "agent.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = Identity::load_or_create(dir);
  CHECK(again.agent_id == first.agent_id);
  CHECK(again.machine_id == first.machine_id);
  fs::remove_all(dir);
}

TEST_CASE("identity: signatures verify only with the signer's key and message") {
  auto a = KeyPair::generate(), b = KeyPair::generate();
  auto sig = sign(a, "hello");
  CHECK(verify(a.pk, "hello", sig));
  CHECK_FALSE(verify(b.pk, "hello", sig));
  CHECK_FALSE(verify(a.pk, "hellO", sig));
}

TEST_CASE("identity: a truncated key file is a clear error") {
  auto dir = fs::temp_directory_path() / ("x0x-id-" + x0x::random_hex(6));
  fs::create_directories(dir);
  { std::ofstream(dir / "machine.key") << "short"; }
  CHECK_THROWS_WITH(Identity::load_or_create(dir), Catch::Contains("machine.key") && Catch::Contains("truncated"));
  fs::remove_all(dir);
}
