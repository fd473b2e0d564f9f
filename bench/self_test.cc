#include "bench/self_test.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/codec.h"
#include "bench/histogram.h"
#include "bench/server_process.h"
#include "bench/workload.h"

namespace strata::bench {
namespace {

int g_failures = 0;

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "self-test FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                               \
    }                                                                             \
  } while (0)

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// Feeds `stream` to Codec::Decode in chunks of `chunk` bytes the way the load
// loop does, and returns the replies, or stops at the first malformed one.
template <class Codec>
std::vector<Reply> DecodeStream(const std::string& stream, size_t chunk, bool* malformed) {
  std::vector<Reply> out;
  ByteBuffer in(8);
  *malformed = false;
  for (size_t pos = 0; pos < stream.size();) {
    const size_t n = std::min(chunk, stream.size() - pos);
    in.Append(stream.data() + pos, n);
    pos += n;
    for (;;) {
      Reply r;
      size_t used = 0;
      const DecodeStatus st = Codec::Decode(in.data(), in.size(), &r, &used);
      if (st == DecodeStatus::kNeedMore) break;
      if (st == DecodeStatus::kMalformed) {
        *malformed = true;
        return out;
      }
      in.Consume(used);
      out.push_back(r);
    }
  }
  CHECK(in.empty());
  return out;
}

void TestMsgpackEncode() {
  ByteBuffer b;
  MsgpackCodec::EncodeGet(b, 7, "ab");
  CHECK(std::string(b.data(), b.size()) ==
        Bytes({0x94, 0x00, 0x07, 0xa3, 'g', 'e', 't', 0x91, 0xc4, 0x02, 'a', 'b'}));
  b.Clear();
  MsgpackCodec::EncodeSet(b, 70000, "k", "vv");
  CHECK(std::string(b.data(), b.size()) ==
        Bytes({0x94, 0x00, 0xce, 0x00, 0x01, 0x11, 0x70, 0xa3, 's', 'e', 't', 0x92, 0xc4, 0x01, 'k',
               0xc4, 0x02, 'v', 'v'}));
  b.Clear();
  MsgpackCodec::EncodeGet(b, 300, std::string(300, 'x'));
  CHECK(b.size() == 1 + 1 + 3 + 4 + 1 + 3 + 300);
  CHECK(static_cast<uint8_t>(b.data()[2]) == 0xcd);
  CHECK(static_cast<uint8_t>(b.data()[10]) == 0xc5);
}

void TestMsgpackDecode() {
  std::string s;
  s += Bytes({0x94, 0x01, 0x05, 0xc0, 0xc4, 0x03, 'a', 'b', 'c'});          // hit
  s += Bytes({0x94, 0x01, 0xcc, 0xc8, 0xc0, 0xc0});                         // miss, msgid 200
  s += Bytes({0x94, 0x01, 0xcd, 0x01, 0x2c, 0x92, 0x05, 0xa1, 'x', 0xc0});  // error [5,"x"]
  s += Bytes({0x93, 0x02, 0xa3, 'i', 'n', 'v', 0x91, 0xa1, 'k'});           // notification
  s += Bytes({0x94, 0x01, 0xce, 0x12, 0x34, 0x56, 0x78, 0xc0, 0xc3});       // true
  s += Bytes({0xdc, 0x00, 0x04, 0x01, 0x09, 0xc0,                           // array16 header,
              0xdb, 0x00, 0x00, 0x00, 0x02, 'h', 'i'});                     // str32 result
  // A map and a float inside the error, ext in the result: skipped correctly.
  s += Bytes({0x94, 0x01, 0x0a, 0x81, 0xa1, 'c', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xd4, 0x01, 0x02});
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{13}, s.size()}) {
    bool bad = false;
    const std::vector<Reply> r = DecodeStream<MsgpackCodec>(s, chunk, &bad);
    CHECK(!bad);
    CHECK(r.size() == 7);
    if (r.size() != 7) continue;
    CHECK(r[0].msgid == 5 && !r[0].error && !r[0].nil && !r[0].notification);
    CHECK(r[1].msgid == 200 && !r[1].error && r[1].nil);
    CHECK(r[2].msgid == 300 && r[2].error);
    CHECK(r[3].notification);
    CHECK(r[4].msgid == 0x12345678 && !r[4].error && !r[4].nil);
    CHECK(r[5].msgid == 9 && !r[5].error && !r[5].nil);
    CHECK(r[6].msgid == 10 && r[6].error && !r[6].nil);
  }
  bool bad = false;
  DecodeStream<MsgpackCodec>(Bytes({0x94, 0x00, 0x01, 0xc0, 0xc0}), 1, &bad);  // a request
  CHECK(bad);
  DecodeStream<MsgpackCodec>(Bytes({0x94, 0x01, 0x01, 0xc1, 0xc0}), 1, &bad);  // 0xc1
  CHECK(bad);
  DecodeStream<MsgpackCodec>(Bytes({0xa3, 'a', 'b', 'c'}), 1, &bad);  // not an array
  CHECK(bad);
  DecodeStream<MsgpackCodec>(Bytes({0x94, 0x01, 0xa1, 'x', 0xc0, 0xc0}), 1, &bad);  // str msgid
  CHECK(bad);
}

void TestResp() {
  ByteBuffer b;
  RespCodec::EncodeGet(b, 0, "key:1");
  CHECK(std::string(b.data(), b.size()) == "*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n");
  b.Clear();
  RespCodec::EncodeSet(b, 0, "k", std::string(12, 'v'));
  CHECK(std::string(b.data(), b.size()) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nvvvvvvvvvvvv\r\n");

  const std::string s =
      "+OK\r\n$5\r\nhello\r\n$-1\r\n-ERR wrong\r\n:12\r\n*2\r\n$1\r\na\r\n$-1\r\n"
      "$6\r\na\r\nb\rc\r\n$0\r\n\r\n*-1\r\n";
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, s.size()}) {
    bool bad = false;
    const std::vector<Reply> r = DecodeStream<RespCodec>(s, chunk, &bad);
    CHECK(!bad);
    CHECK(r.size() == 9);
    if (r.size() != 9) continue;
    CHECK(!r[0].error && !r[0].nil);
    CHECK(!r[1].error && !r[1].nil);
    CHECK(r[2].nil);
    CHECK(r[3].error);
    CHECK(!r[4].error && !r[4].nil);
    CHECK(!r[5].error && !r[5].nil);
    CHECK(!r[6].nil);  // payload with CR LF inside
    CHECK(!r[7].nil);  // empty string is a value
    CHECK(r[8].nil);
  }
  bool bad = false;
  DecodeStream<RespCodec>("?what\r\n", 1, &bad);
  CHECK(bad);
  DecodeStream<RespCodec>("$3\r\nabcd\r\n", 1, &bad);  // length lies
  CHECK(bad);
}

void TestHistogram() {
  Histogram h;
  for (uint64_t v = 1; v <= 1000000; ++v) h.Record(v * 100);  // 100 ns .. 100 ms
  const auto near = [](double got, double want) { return std::fabs(got / want - 1) < 0.01; };
  CHECK(near(static_cast<double>(h.Percentile(0.5)), 50e6));
  CHECK(near(static_cast<double>(h.Percentile(0.99)), 99e6));
  CHECK(near(static_cast<double>(h.Percentile(0.999)), 99.9e6));
  CHECK(h.Percentile(1.0) == 100000000);
  CHECK(h.max() == 100000000 && h.min() == 100);
  CHECK(near(h.Mean(), 50000050.0));
  for (uint64_t v :
       {0ull, 1ull, 255ull, 256ull, 257ull, 1000ull, 123456789ull, 1ull << 40, ~0ull}) {
    const size_t i = Histogram::Index(v);
    const uint64_t hi = Histogram::HighestEquivalent(i);
    CHECK(hi >= v);
    CHECK(static_cast<double>(hi - v) <= static_cast<double>(v) / 128.0);
    if (v > 0) CHECK(Histogram::Index(v - 1) <= i);
  }
  Histogram a, b2;
  a.Record(10);
  b2.Record(20);
  a.Merge(b2);
  CHECK(a.count() == 2 && a.max() == 20 && a.min() == 10);
}

void TestZipf() {
  for (double s : {0.99, 1.0, 1.2}) {
    const uint64_t n = 1000;
    ZipfSampler z(n, s);
    Rng rng(42);
    std::vector<uint64_t> counts(n + 1, 0);
    const int kSamples = 2000000;
    for (int i = 0; i < kSamples; ++i) {
      const uint64_t k = z.Sample(rng);
      CHECK(k >= 1 && k <= n);
      if (k >= 1 && k <= n) ++counts[k];
    }
    double norm = 0;
    for (uint64_t k = 1; k <= n; ++k) norm += std::pow(static_cast<double>(k), -s);
    for (uint64_t k : {1, 2, 10, 100}) {
      const double want = std::pow(static_cast<double>(k), -s) / norm * kSamples;
      const double got = static_cast<double>(counts[k]);
      // 5 standard deviations of a binomial count, at least 1%.
      const double tol = std::max(5 * std::sqrt(want), 0.01 * want);
      if (std::fabs(got - want) > tol) {
        fprintf(stderr, "zipf s=%.2f rank %llu: got %.0f want %.0f\n", s,
                static_cast<unsigned long long>(k), got, want);
      }
      CHECK(std::fabs(got - want) <= tol);
    }
  }
  // Scattered Zipf keys cover the keyspace bijectively: the hottest ranks map
  // to distinct keys.
  WorkloadSpec spec;
  spec.keyspace = 97;
  spec.dist = Dist::kZipf;
  Workload w(spec);
  Rng rng(1);
  std::vector<int> seen(97, 0);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t k = w.NextKey(rng);
    CHECK(k < 97);
    if (k < 97) seen[k] = 1;
  }
  int distinct = 0;
  for (int v : seen) distinct += v;
  CHECK(distinct == 97);
}

void TestKeys() {
  WorkloadSpec spec;
  Workload w(spec);
  char key[16];
  w.FormatKey(42, key);
  CHECK(std::string(key, 16) == "key:000000000042");
  w.FormatKey(999999, key);
  CHECK(std::string(key, 16) == "key:000000999999");
  spec.key_size = 20;
  Workload w20(spec);
  char k20[20];
  w20.FormatKey(7, k20);
  CHECK(std::string(k20, 20) == "key:0000000000000007");
  spec.key_size = 9;
  CHECK(!ValidateWorkload(spec).empty());  // 6 digits + "key:" do not fit in 9
  spec.key_size = 10;
  CHECK(ValidateWorkload(spec).empty());
  Rng rng(3);
  int gets = 0;
  for (int i = 0; i < 100000; ++i) gets += w.NextOp(rng) == Op::kGet;
  CHECK(gets > 89000 && gets < 91000);
}

double CpuNow(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// A server's forked child (Redis's AOF rewrite) is server CPU: counted while
// it runs (a live descendant) and after its parent reaps it (cutime).
void TestProcessTreeCpu() {
  const ProcessTreeCpu before = ReadProcessTreeCpu(getpid());
  CHECK(before.self_s >= 0);
  int ready[2];
  if (pipe(ready) != 0) {
    CHECK(!"pipe");
    return;
  }
  const pid_t child = fork();
  if (child == 0) {
    // Burn 0.3 s of CPU (at most 5 s of wall time), say so, wait to be killed.
    const double start = CpuNow(CLOCK_MONOTONIC);
    volatile unsigned long sink = 0;
    while (CpuNow(CLOCK_PROCESS_CPUTIME_ID) < 0.3 && CpuNow(CLOCK_MONOTONIC) - start < 5) {
      for (int i = 0; i < 100000; ++i) sink = sink + i;
    }
    char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  const bool burned = child > 0 && read(ready[0], &c, 1) == 1;
  close(ready[0]);
  CHECK(burned);
  const ProcessTreeCpu live = ReadProcessTreeCpu(getpid());
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  const ProcessTreeCpu reaped = ReadProcessTreeCpu(getpid());
  // /proc reports whole clock ticks (10 ms); the child burned 300 ms.
  CHECK(live.children_s - before.children_s >= 0.25);
  CHECK(reaped.children_s - before.children_s >= 0.25);
  CHECK(reaped.total() >= live.total() - 0.02);
  CHECK(ProcessCpuSeconds(getpid()) >= 0);
}

}  // namespace

bool RunSelfTest() {
  TestMsgpackEncode();
  TestMsgpackDecode();
  TestResp();
  TestHistogram();
  TestZipf();
  TestKeys();
  TestProcessTreeCpu();
  if (g_failures == 0) printf("self-test: all checks passed\n");
  return g_failures == 0;
}

}  // namespace strata::bench
