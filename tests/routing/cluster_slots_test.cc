#include "routing/cluster_slots.h"

#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace strata {
namespace {

TEST_CASE("Crc16 is CRC16-XMODEM as in Redis", "[cluster_slots]") {
  CHECK(Crc16("123456789") == 0x31C3);  // the check value Redis's crc16.c cites
  CHECK(Crc16("") == 0);
  CHECK(Crc16("A") == 0x58E5);
  CHECK(Crc16(std::string_view("\0", 1)) == 0);
  CHECK(Crc16(std::string(1, '\xff')) == 0x1EF0);
}

TEST_CASE("KeySlot matches Redis for plain and tagged keys", "[cluster_slots]") {
  // Values from CLUSTER KEYSLOT (the [redis] test below checks thousands more).
  CHECK(KeySlot("foo") == 12182);
  CHECK(KeySlot("bar") == 5061);
  CHECK(KeySlot("somekey") == 11058);
  CHECK(KeySlot("foo{hash_tag}") == 2515);
  CHECK(KeySlot("bar{hash_tag}") == 2515);
  CHECK(KeySlot("{user42}:a") == KeySlot("{user42}:b"));
  CHECK(KeySlot("{user42}:a") == KeySlot("user42"));
  CHECK(KeySlot("") == 0);
  for (int i = 0; i < 1000; i++) {
    int s = KeySlot("key:" + std::to_string(i));
    REQUIRE(s >= 0);
    REQUIRE(s < kClusterSlots);
  }
}

TEST_CASE("HashTagContent follows keyHashSlot's edge rules", "[cluster_slots]") {
  CHECK(HashTagContent("{user42}:a") == "user42");
  CHECK(HashTagContent("plain") == "plain");
  CHECK(HashTagContent("{}") == "{}");        // empty tag: whole key
  CHECK(HashTagContent("{}{a}") == "{}{a}");  // first '{' decides, even if empty
  CHECK(HashTagContent("{{a}}") == "{a");     // first '{', first '}' after it
  CHECK(HashTagContent("a{b}c{d}") == "b");   // only the first tag
  CHECK(HashTagContent("a{bc") == "a{bc");    // no closing brace
  CHECK(HashTagContent("a}b{c}") == "c");     // a '}' before the '{' is ignored
  CHECK(HashTagContent("}{") == "}{");
  CHECK(HashTagContent("{a}") == "a");
  CHECK(KeySlot("{}") == Crc16("{}") % kClusterSlots);
  CHECK(KeySlot("{{a}}") == KeySlot("{a"));
  CHECK(KeySlot("a{b}c{d}") == KeySlot("b"));
}

ClusterNodeInfo Node(std::string host, int port, std::string id = "") {
  return ClusterNodeInfo{std::move(host), port, std::move(id)};
}

std::vector<ClusterSlotRange> ThreeMasters() {
  return {
      {0, 5460, Node("127.0.0.1", 7000), {Node("127.0.0.1", 7003)}},
      {5461, 10922, Node("127.0.0.1", 7001), {Node("127.0.0.1", 7004)}},
      {10923, 16383, Node("127.0.0.1", 7002), {}},
  };
}

TEST_CASE("SlotMap builds from CLUSTER SLOTS ranges and looks up owners", "[cluster_slots]") {
  StatusOr<SlotMap> map = SlotMap::Build(ThreeMasters());
  REQUIRE(map.ok());
  CHECK(map->CoveredSlots() == kClusterSlots);
  CHECK(map->Lookup(0) == "127.0.0.1:7000");
  CHECK(map->Lookup(5460) == "127.0.0.1:7000");
  CHECK(map->Lookup(5461) == "127.0.0.1:7001");
  CHECK(map->Lookup(16383) == "127.0.0.1:7002");
  CHECK(map->Lookup(-1).empty());
  CHECK(map->Lookup(16384).empty());
  CHECK(map->Replicas(100) == std::vector<std::string>{"127.0.0.1:7003"});
  CHECK(map->Replicas(16000).empty());
  CHECK(map->Replicas(99999).empty());
  CHECK(map->Masters() ==
        std::vector<std::string>{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"});
  CHECK(map->Nodes() == std::vector<std::string>{"127.0.0.1:7000", "127.0.0.1:7001",
                                                 "127.0.0.1:7002", "127.0.0.1:7003",
                                                 "127.0.0.1:7004"});
}

TEST_CASE("SlotMap leaves uncovered slots unknown and merges a master's ranges",
          "[cluster_slots]") {
  StatusOr<SlotMap> map = SlotMap::Build({
      {0, 99, Node("10.0.0.1", 6379), {Node("10.0.0.2", 6379)}},
      {200, 299, Node("10.0.0.1", 6379), {Node("10.0.0.3", 6379)}},
  });
  REQUIRE(map.ok());
  CHECK(map->CoveredSlots() == 200);
  CHECK(map->Lookup(150).empty());
  CHECK(map->Lookup(250) == "10.0.0.1:6379");
  CHECK(map->Replicas(0) == std::vector<std::string>{"10.0.0.2:6379", "10.0.0.3:6379"});
  CHECK(map->Masters() == std::vector<std::string>{"10.0.0.1:6379"});
  CHECK(map->Nodes() ==
        std::vector<std::string>{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"});

  SlotMap empty;
  CHECK(empty.CoveredSlots() == 0);
  CHECK(empty.Lookup(0).empty());
  CHECK(empty.Masters().empty());
  CHECK(empty.Nodes().empty());
  CHECK(SlotMap::Build({}).ok());
}

TEST_CASE("SlotMap::Build names the bad field", "[cluster_slots]") {
  auto error_of = [](std::vector<ClusterSlotRange> ranges) {
    StatusOr<SlotMap> m = SlotMap::Build(ranges);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == Code::kBadArgs);
    return m.status().message();
  };
  using Catch::Matchers::Contains;
  std::vector<ClusterSlotRange> r = ThreeMasters();
  r[1].start = -1;
  CHECK_THAT(error_of(r), Contains("ranges[1].start"));
  r = ThreeMasters();
  r[2].end = 16384;
  CHECK_THAT(error_of(r), Contains("ranges[2].end"));
  r = ThreeMasters();
  r[0].start = 10;
  r[0].end = 9;
  CHECK_THAT(error_of(r), Contains("ranges[0].start"));
  r = ThreeMasters();
  r[0].master.host = "";
  CHECK_THAT(error_of(r), Contains("ranges[0].master.host"));
  r = ThreeMasters();
  r[1].master.port = 0;
  CHECK_THAT(error_of(r), Contains("ranges[1].master.port"));
  r = ThreeMasters();
  r[1].master.port = 65536;
  CHECK_THAT(error_of(r), Contains("ranges[1].master.port"));
  r = ThreeMasters();
  r[0].replicas[0].port = -5;
  CHECK_THAT(error_of(r), Contains("ranges[0].replicas[0].port"));
  r = ThreeMasters();
  r[1].start = 5000;  // overlaps range 0
  CHECK_THAT(error_of(r), Contains("ranges[1]"));
  CHECK_THAT(error_of(r), Contains("5000"));
}

TEST_CASE("SlotMap::Update applies MOVED", "[cluster_slots]") {
  StatusOr<SlotMap> built = SlotMap::Build(ThreeMasters());
  REQUIRE(built.ok());
  SlotMap map = std::move(built).value();

  REQUIRE(map.Update(100, "127.0.0.1:7001").ok());  // to a known master: its replicas follow
  CHECK(map.Lookup(100) == "127.0.0.1:7001");
  CHECK(map.Replicas(100) == std::vector<std::string>{"127.0.0.1:7004"});
  CHECK(map.Lookup(101) == "127.0.0.1:7000");

  REQUIRE(map.Update(200, "127.0.0.1:7009").ok());  // a new node: no replicas known yet
  CHECK(map.Lookup(200) == "127.0.0.1:7009");
  CHECK(map.Replicas(200).empty());
  CHECK(map.Masters().size() == 4);
  // Every slot of 7002 moves away: it and its (none) replicas leave Nodes().
  for (int slot = 10923; slot <= 16383; ++slot) REQUIRE(map.Update(slot, "127.0.0.1:7001").ok());
  CHECK(map.Nodes() == std::vector<std::string>{"127.0.0.1:7000", "127.0.0.1:7001",
                                                "127.0.0.1:7003", "127.0.0.1:7004",
                                                "127.0.0.1:7009"});

  REQUIRE(map.Update(300, "[::1]:7010").ok());  // normalised to Redis's own spelling
  CHECK(map.Lookup(300) == "::1:7010");

  CHECK(map.Update(-1, "127.0.0.1:7001").code() == Code::kBadArgs);
  CHECK(map.Update(16384, "127.0.0.1:7001").code() == Code::kBadArgs);
  CHECK(map.Update(5, "127.0.0.1").code() == Code::kBadArgs);
  CHECK(map.Update(5, ":7001").code() == Code::kBadArgs);
  CHECK(map.Update(5, "127.0.0.1:0").code() == Code::kBadArgs);
  CHECK(map.Lookup(5) == "127.0.0.1:7000");  // failed updates change nothing

  // Moving every slot of a master away drops it from Masters().
  for (int s = 10923; s <= 16383; s++) REQUIRE(map.Update(s, "127.0.0.1:7000").ok());
  for (const std::string& m : map.Masters()) CHECK(m != "127.0.0.1:7002");
}

TEST_CASE("ParseRedirect parses MOVED and ASK", "[cluster_slots]") {
  StatusOr<Redirect> m = ParseRedirect("MOVED 3999 127.0.0.1:6381");
  REQUIRE(m.ok());
  CHECK(m->kind == Redirect::Kind::kMoved);
  CHECK(m->slot == 3999);
  CHECK(m->host == "127.0.0.1");
  CHECK(m->port == 6381);
  CHECK(m->Address() == "127.0.0.1:6381");

  StatusOr<Redirect> a = ParseRedirect("ASK 0 redis-7.internal:6379");
  REQUIRE(a.ok());
  CHECK(a->kind == Redirect::Kind::kAsk);
  CHECK(a->slot == 0);
  CHECK(a->host == "redis-7.internal");

  StatusOr<Redirect> v6 = ParseRedirect("MOVED 16383 ::1:7000");  // as Redis prints IPv6
  REQUIRE(v6.ok());
  CHECK(v6->slot == 16383);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 7000);

  StatusOr<Redirect> bracketed = ParseRedirect("ASK 1 [fe80::1]:7000");
  REQUIRE(bracketed.ok());
  CHECK(bracketed->host == "fe80::1");

  StatusOr<Redirect> unknown_endpoint = ParseRedirect("MOVED 3999 :6380");  // Redis 7
  REQUIRE(unknown_endpoint.ok());
  CHECK(unknown_endpoint->host.empty());
  CHECK(unknown_endpoint->port == 6380);
}

TEST_CASE("ParseRedirect rejects hostile input", "[cluster_slots]") {
  const std::vector<std::string> bad = {
      "",
      "MOVED",
      "MOVED ",
      "MOVED 3999",
      "MOVED 3999 ",
      "MOVED  3999 127.0.0.1:6381",
      "MOVED 3999  127.0.0.1:6381",
      "MOVED 3999 127.0.0.1",
      "MOVED 3999 127.0.0.1:",
      "MOVED 3999 127.0.0.1:abc",
      "MOVED 3999 127.0.0.1:0",
      "MOVED 3999 127.0.0.1:65536",
      "MOVED 3999 127.0.0.1:-1",
      "MOVED 3999 127.0.0.1:+80",
      "MOVED 3999 127.0.0.1:99999999999999999999",
      "MOVED 16384 127.0.0.1:6381",
      "MOVED -1 127.0.0.1:6381",
      "MOVED +1 127.0.0.1:6381",
      "MOVED 0x10 127.0.0.1:6381",
      "MOVED 99999999999999999999 127.0.0.1:6381",
      "MOVED abc 127.0.0.1:6381",
      "MOVED 3999 127.0.0.1:6381 extra",
      "MOVED 3999 127.0.0.1:6381\r\n",
      std::string("MOVED 3999 127.0.0.1\0:6381", 26),
      "-MOVED 3999 127.0.0.1:6381",
      "moved 3999 127.0.0.1:6381",
      "ASKING 3999 127.0.0.1:6381",
      "ERR unknown command",
      "CLUSTERDOWN The cluster is down",
      "TRYAGAIN Multiple keys request during rehashing of slot",
  };
  for (const std::string& s : bad) {
    INFO("input: '" << s << "'");
    StatusOr<Redirect> r = ParseRedirect(s);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.status().code() == Code::kBadArgs);
  }
  // Long garbage: the error message is bounded.
  StatusOr<Redirect> huge = ParseRedirect(std::string(1 << 20, 'x'));
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.status().message().size() < 300);
}

// ---------------------------------------------------------------------------
// Cross-check against a real redis-server: CLUSTER KEYSLOT works on a lone
// cluster-enabled node, no cluster creation needed. Skipped (with a warning)
// when /usr/bin/redis-server is absent.

using testing::kRedisServerPath;
using testing::RedisServer;
using testing::TempDir;

// A minimal blocking RESP client: enough for CLUSTER KEYSLOT.
class RespConnection {
 public:
  ~RespConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Retries for up to ~5 s while redis-server starts.
  bool Connect(int port) {
    for (int i = 0; i < 100; i++) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd_ < 0) return false;
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(uint16_t(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        timeval tv{5, 0};  // every read and write is bounded
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        return true;
      }
      ::close(fd_);
      fd_ = -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  static void AppendKeyslot(std::string* out, std::string_view key) {
    *out += "*3\r\n$7\r\nCLUSTER\r\n$7\r\nKEYSLOT\r\n$";
    *out += std::to_string(key.size());
    *out += "\r\n";
    out->append(key);
    *out += "\r\n";
  }

  bool SendAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(size_t(n));
    }
    return true;
  }

  // Reads one reply; returns the integer of ":<int>\r\n", or sets *error.
  bool ReadInteger(long* value, std::string* error) {
    std::string line;
    if (!ReadLine(&line)) {
      *error = "connection closed or timed out";
      return false;
    }
    if (line.empty() || line[0] != ':') {
      *error = "unexpected reply: " + line;
      return false;
    }
    *value = std::strtol(line.c_str() + 1, nullptr, 10);
    return true;
  }

 private:
  bool ReadLine(std::string* line) {
    for (;;) {
      size_t eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        *line = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        return true;
      }
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf_.append(chunk, size_t(n));
    }
  }

  int fd_ = -1;
  std::string buf_;
};

std::vector<std::string> CrossCheckKeys() {
  // clang-format off
  std::vector<std::string> keys = {
      "", "{", "}", "{}", "}{", "{}{}", "{{}}", "{{a}}", "{a}}", "a{b}c{d}", "{}{a}", "a{}b{c}",
      "{user42}:a", "{user42}:b", "user42", "foo{bar", "foo}bar{", "{ }", "{\r\n}",
      std::string("{\0}", 3), std::string("\0\0\0", 3), "123456789", "\xff\xfe{\xff}",
  };
  // clang-format on
  for (int i = 0; i < 1000; i++) keys.push_back("key:" + std::to_string(i));
  for (int i = 0; i < 200; i++)
    keys.push_back("{tag" + std::to_string(i % 17) + "}:" + std::to_string(i));
  std::mt19937 rng(42);  // seeded: the same keys every run
  const std::string alphabet = "{}ab";
  while (keys.size() < 2000) {
    std::string k(rng() % 24, '\0');
    if (keys.size() % 2 == 0) {
      for (char& c : k) c = char(rng() & 0xff);  // arbitrary bytes, NULs and CRLFs included
    } else {
      for (char& c : k) c = alphabet[rng() % alphabet.size()];  // brace-heavy
    }
    keys.push_back(std::move(k));
  }
  return keys;
}

TEST_CASE("KeySlot agrees with CLUSTER KEYSLOT of a real redis-server", "[cluster_slots][redis]") {
  if (::access(kRedisServerPath, X_OK) != 0) {
    WARN("skipped: " << kRedisServerPath << " not found");
    return;
  }
  TempDir dir;
  auto redis = RedisServer::Tcp({"--cluster-enabled", "yes", "--cluster-config-file",
                                 dir.path() + "/nodes.conf", "--dir", dir.path()},
                                /*cluster_bus=*/true);
  RespConnection conn;
  REQUIRE(conn.Connect(redis->port()));

  const std::vector<std::string> keys = CrossCheckKeys();
  REQUIRE(keys.size() == 2000);
  int mismatches = 0;
  std::string first_mismatches;   // reported once, not attached to the next passing REQUIRE
  constexpr size_t kBatch = 200;  // pipelined, so 2000 queries take a few ms
  for (size_t begin = 0; begin < keys.size(); begin += kBatch) {
    const size_t end = std::min(keys.size(), begin + kBatch);
    std::string req;
    for (size_t i = begin; i < end; i++) RespConnection::AppendKeyslot(&req, keys[i]);
    REQUIRE(conn.SendAll(req));
    for (size_t i = begin; i < end; i++) {
      long slot = -1;
      std::string error;
      INFO("key #" << i);
      REQUIRE(conn.ReadInteger(&slot, &error));
      if (slot != KeySlot(keys[i])) {
        if (++mismatches <= 10) {
          first_mismatches += "key #" + std::to_string(i) + ": redis " + std::to_string(slot) +
                              ", strata " + std::to_string(KeySlot(keys[i])) + "\n";
        }
      }
    }
  }
  INFO(first_mismatches);
  CHECK(mismatches == 0);
  redis->Stop();
}

}  // namespace
}  // namespace strata
