#include "proxy/huge_pages.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/redis_server.h"

namespace strata {
namespace {

using testing::TempDir;

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST_CASE("huge pages: the tunables are added to what the operator set", "[huge_pages]") {
  CHECK(HugePageTunables(nullptr) == kHugePageTunables);
  CHECK(HugePageTunables("") == kHugePageTunables);
  CHECK(HugePageTunables("glibc.malloc.arena_max=2") ==
        std::string("glibc.malloc.arena_max=2:") + kHugePageTunables);
  // An operator's own top_pad is kept, not overridden.
  CHECK(HugePageTunables("glibc.malloc.top_pad=1048576") ==
        "glibc.malloc.top_pad=1048576:glibc.malloc.hugetlb=1");
  // Any explicit hugetlb (on, off, hugetlbfs) is the operator's choice: no change.
  CHECK(HugePageTunables("glibc.malloc.hugetlb=0").empty());
  CHECK(HugePageTunables("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2").empty());
  // A name that merely contains the tunable's name is a different tunable.
  CHECK(HugePageTunables("x.glibc.malloc.hugetlb=0") ==
        std::string("x.glibc.malloc.hugetlb=0:") + kHugePageTunables);
}

TEST_CASE("huge pages: the kernel's mode is the bracketed word", "[huge_pages]") {
  TempDir dir;
  CHECK(ThpMode(WriteFile(dir, "a", "always [madvise] never\n").c_str()) == "madvise");
  CHECK(ThpMode(WriteFile(dir, "b", "[always] madvise never\n").c_str()) == "always");
  CHECK(ThpMode(WriteFile(dir, "c", "always madvise [never]\n").c_str()) == "never");
  CHECK(ThpMode(WriteFile(dir, "d", "garbage\n").c_str()).empty());
  CHECK(ThpMode((dir.path() + "/missing").c_str()).empty());
}

TEST_CASE("huge pages: the state follows GLIBC_TUNABLES", "[huge_pages]") {
  const char* old = getenv("GLIBC_TUNABLES");
  const std::string saved = old != nullptr ? old : "";
  unsetenv("GLIBC_TUNABLES");
  CHECK(HugePagesState() == "off");
  setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0", 1);
  CHECK(HugePagesState() == "off");
  setenv("GLIBC_TUNABLES", kHugePageTunables, 1);
  const std::string mode = ThpMode();
  CHECK(HugePagesState() == (mode == "always" || mode == "madvise" ? "on" : "unavailable"));
  if (old != nullptr) {
    setenv("GLIBC_TUNABLES", saved.c_str(), 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
}

TEST_CASE("huge pages: off in the configuration means no re-execution", "[huge_pages]") {
  char arg0[] = "strata";
  char* argv[] = {arg0, nullptr};
  // Would not return if it exec'd.
  CHECK(MaybeReexecWithHugePages(false, argv) == "server.huge_pages is false");
}

TEST_CASE("huge pages: resident memory is read from smaps_rollup", "[huge_pages]") {
  TempDir dir;
  ProcessMemory mem;
  const std::string rollup = WriteFile(dir, "rollup",
                                       "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0 [rollup]\n"
                                       "Rss:              272152 kB\n"
                                       "Pss:              270000 kB\n"
                                       "AnonHugePages:    256000 kB\n"
                                       "Swap:                  0 kB\n");
  REQUIRE(ReadProcessMemory(&mem, rollup.c_str()));
  CHECK(mem.resident_bytes == 272152ull * 1024);
  CHECK(mem.huge_page_bytes == 256000ull * 1024);

  CHECK_FALSE(ReadProcessMemory(&mem, WriteFile(dir, "empty", "").c_str()));
  CHECK_FALSE(ReadProcessMemory(&mem, (dir.path() + "/missing").c_str()));

  // This process's own: something is resident.
  REQUIRE(ReadProcessMemory(&mem));
  CHECK(mem.resident_bytes > 0);
  CHECK(mem.huge_page_bytes <= mem.resident_bytes);
}

TEST_CASE("huge pages: resident bytes come from statm, huge pages from a sample",
          "[huge_pages]") {
  TempDir dir;
  uint64_t resident = 0;
  REQUIRE(ReadResidentBytes(&resident, WriteFile(dir, "statm", "1000 300 20 5 0 250 0\n").c_str()));
  CHECK(resident == 300 * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
  CHECK_FALSE(ReadResidentBytes(&resident, WriteFile(dir, "bad", "x\n").c_str()));
  CHECK_FALSE(ReadResidentBytes(&resident, (dir.path() + "/missing").c_str()));

  // This process: statm and smaps_rollup agree within what changes between
  // the two reads; the sample (fresh on the first call) is below resident.
  ProcessMemory now, rollup;
  REQUIRE(CurrentProcessMemory(&now));
  REQUIRE(ReadProcessMemory(&rollup));
  CHECK(now.resident_bytes > 0);
  CHECK(now.huge_page_bytes <= rollup.resident_bytes);
  CHECK(now.resident_bytes / 2 < rollup.resident_bytes);
  CHECK(rollup.resident_bytes / 2 < now.resident_bytes);
}

}  // namespace
}  // namespace strata
