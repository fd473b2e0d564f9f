// strata-cli's pure parts: argument parsing, escaping, stats layout.
#include <catch2/catch.hpp>

#include "cli/args.h"
#include "cli/output.h"

using namespace strata::cli;

TEST_CASE("cli output: escaping keeps printable ASCII, hex-escapes the rest") {
  CHECK(Escape("abc XYZ~") == "abc XYZ~");
  CHECK(Escape(std::string("a\0\n\xff\\", 5)) == "a\\x00\\x0a\\xff\\\\");
}

TEST_CASE("cli output: stats sorted and aligned") {
  CHECK(FormatStats({{"zz", 1}, {"a", 2.5}, {"mid_name", 1234567}}) ==
        "a         2.5\nmid_name  1234567\nzz        1\n");
}

TEST_CASE("cli args: defaults, env socket, options anywhere") {
  const char* argv1[] = {"strata-cli", "get", "k"};
  auto a = ParseArgs(3, argv1, nullptr);
  REQUIRE(a.ok());
  CHECK(a->socket == "./strata.sock");
  CHECK(a->timeout_ms == 2000);
  CHECK(a->command == "get");
  CHECK(ParseArgs(3, argv1, "/x.sock")->socket == "/x.sock");

  const char* argv2[] = {"strata-cli", "set", "k", "-", "--ttl", "5m", "--timeout=250ms", "--nx",
                         "-s", "/s"};
  auto b = ParseArgs(10, argv2, "/env");
  REQUIRE(b.ok());
  CHECK(b->ttl_ms == 300000);
  CHECK(b->timeout_ms == 250);
  CHECK(b->nx);
  CHECK(b->socket == "/s");
  CHECK(b->args == std::vector<std::string>{"k", "-"});

  const char* argv3[] = {"strata-cli", "--bogus", "ping"};
  CHECK(ParseArgs(3, argv3, nullptr).status().code() == strata::Code::kBadArgs);
  const char* argv4[] = {"strata-cli", "--ttl"};
  CHECK_FALSE(ParseArgs(2, argv4, nullptr).ok());
}
