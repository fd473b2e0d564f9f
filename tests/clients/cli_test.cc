// strata-cli against a real strata, run with stdout a pipe (so raw output).
#include <catch2/catch.hpp>

#include <fstream>

#include "server_fixture.h"

using strata::testing::ProcessResult;
using strata::testing::RunProcess;
using strata::testing::StrataServer;

namespace {

ProcessResult Cli(const StrataServer& s, std::vector<std::string> args,
                  const std::string& input = "") {
  std::vector<std::string> argv = {STRATA_CLI_BIN, "-s", s.socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, input);
}

std::string Binary() {
  std::string v;
  for (int i = 0; i < 256; ++i) v += static_cast<char>(i);
  return v + std::string("\n\0\r\n", 4);
}

}  // namespace

TEST_CASE("cli: binary round trip via --value-file and via stdin") {
  StrataServer server;
  REQUIRE(server.Start());
  std::string value = Binary();
  std::string file = server.dir() + "/value.bin";
  std::ofstream(file, std::ios::binary) << value;

  auto set = Cli(server, {"set", "f", "--value-file", file});
  CHECK(set.exit_code == 0);
  CHECK(set.out == "OK\n");
  auto get = Cli(server, {"get", "f"});
  CHECK(get.exit_code == 0);
  CHECK(get.out == value);  // raw, no newline added on a pipe

  auto set2 = Cli(server, {"set", "s", "-"}, value);
  CHECK(set2.exit_code == 0);
  CHECK(Cli(server, {"get", "s"}).out == value);
}

TEST_CASE("cli: commands, outputs and exit codes") {
  StrataServer server;
  REQUIRE(server.Start());
  CHECK(Cli(server, {"ping"}).out == "pong\n");

  // A miss: nothing on a pipe, exit 0.
  auto miss = Cli(server, {"get", "nope"});
  CHECK(miss.exit_code == 0);
  CHECK(miss.out.empty());

  CHECK(Cli(server, {"set", "k", "v1", "--ttl", "30s"}).exit_code == 0);
  auto ttl = Cli(server, {"ttl", "k"});
  CHECK(ttl.exit_code == 0);
  long left = std::stol(ttl.out);
  CHECK(left > 20000);
  CHECK(left <= 30000);

  // --nx unmet: "(not set)", exit 1; --xx met: OK.
  auto nx = Cli(server, {"set", "--nx", "k", "v2"});
  CHECK(nx.exit_code == 1);
  CHECK(nx.out == "(not set)\n");
  CHECK(Cli(server, {"set", "k", "v3", "--xx"}).exit_code == 0);
  CHECK(Cli(server, {"get", "k"}).out == "v3");

  CHECK(Cli(server, {"expire", "k", "1h"}).out == "1\n");
  CHECK(Cli(server, {"expire", "zz", "1h"}).out == "0\n");
  CHECK(Cli(server, {"set", "k2", "two"}).exit_code == 0);
  CHECK(Cli(server, {"exists", "k", "k2", "zz"}).out == "2\n");
  CHECK(Cli(server, {"mget", "k", "zz", "k2"}).out == "v3\n\ntwo\n");
  CHECK(Cli(server, {"del", "k", "k2"}).exit_code == 0);
  CHECK(Cli(server, {"exists", "k", "k2"}).out == "0\n");
  CHECK(Cli(server, {"ttl", "k"}).out == "-2\n");

  // A key that starts with '-' after "--".
  CHECK(Cli(server, {"set", "--", "-dash", "d"}).exit_code == 0);
  CHECK(Cli(server, {"get", "--", "-dash"}).out == "d");

  // stats: sorted, aligned "name  value".
  auto stats = Cli(server, {"stats"});
  CHECK(stats.exit_code == 0);
  CHECK(stats.out.find("l1_items") != std::string::npos);
  std::vector<std::string> lines;
  size_t pos = 0, col = std::string::npos;
  while (pos < stats.out.size()) {
    size_t nl = stats.out.find('\n', pos);
    std::string line = stats.out.substr(pos, nl - pos);
    pos = nl + 1;
    lines.push_back(line.substr(0, line.find(' ')));
    size_t value_col = line.find_first_not_of(' ', line.find(' '));
    if (col == std::string::npos) col = value_col;
    CHECK(value_col == col);
  }
  CHECK(std::is_sorted(lines.begin(), lines.end()));
}

TEST_CASE("cli: errors go to stderr with the code name, exit 2") {
  StrataServer server;
  REQUIRE(server.Start({"--server.max_value_bytes=1KiB", "--server.max_message_bytes=64KiB"}));
  auto big = Cli(server, {"set", "k", "-"}, std::string(2000, 'x'));
  CHECK(big.exit_code == 2);
  CHECK(big.out.empty());
  CHECK(big.err.find("TOO_LARGE") != std::string::npos);
  CHECK(big.err.find("max_value_bytes") != std::string::npos);

  auto both = Cli(server, {"set", "k", "v", "--nx", "--xx"});
  CHECK(both.exit_code == 2);
  CHECK(both.err.find("BAD_ARGS") != std::string::npos);

  auto unknown = Cli(server, {"frobnicate"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("BAD_ARGS") != std::string::npos);

  auto arity = Cli(server, {"get"});
  CHECK(arity.exit_code == 2);

  auto badttl = Cli(server, {"set", "k", "v", "--ttl", "3 weeks"});
  CHECK(badttl.exit_code == 2);

  auto nosock = RunProcess({STRATA_CLI_BIN, "-s", server.dir() + "/none.sock", "ping"}, "");
  CHECK(nosock.exit_code == 2);
  CHECK(nosock.err.find("UNAVAILABLE") != std::string::npos);
}

TEST_CASE("cli: $STRATA_SOCKET is the default socket") {
  StrataServer server;
  REQUIRE(server.Start());
  auto r = RunProcess({STRATA_CLI_BIN, "ping"}, "", {"STRATA_SOCKET=" + server.socket()});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "pong\n");
}
