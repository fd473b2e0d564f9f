// request_decoder_fuzz: arbitrary bytes through the loop a connection runs
// (proxy/connection.cc, Connection::Process): ScanObject -> ParseRequest ->
// Dispatcher::Handle on a real L1-backed chain, until the bytes run out or a
// fatal status (malformed, too deep, too large) would close the connection.
//
// Input layout: two control bytes, then the stream. The control bytes choose
// where the stream is split into two reads, and the chunk size of a third
// run that drips the stream in. All three runs must produce byte-identical
// responses: incremental scanning may not change what is decoded.
//
// Invariants checked besides "no crash, leak or hang" (ASan/UBSan/libFuzzer):
// incomplete hints always ask for more than is buffered; a complete object
// lies within the buffer and the limit; shape errors are BAD_REQUEST; every
// complete object gets exactly one well-formed response, plus one for a
// fatal status; Hold/Release balance.
#include <msgpack.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "proxy/dispatch.h"
#include "proxy/msgpack_reader.h"
#include "proxy/rpc_request.h"
#include "tiers/chain.h"
#include "tiers/l1_cache.h"

namespace strata {
namespace {

constexpr uint64_t kMaxMessage = 1 << 20;

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) {       \
      __builtin_trap();  \
    }                    \
  } while (0)

class BufferSink final : public ResponseSink {
 public:
  std::string* output() override { return &out; }
  bool alive() const override { return true; }
  void Hold() override { ++holds; }
  void Release() override { ++releases; }

  std::string out;
  int64_t holds = 0;
  int64_t releases = 0;
};

// One simulated connection with its own cache, so runs are independent and
// deterministic.
class Conn {
 public:
  Conn()
      : l1_(L1Options{.max_bytes = 64 << 10, .shards = 2, .clock = &clock_}),
        chain_({&l1_}, ChainOptions{.l1_max_ttl_ms = 0, .clock = &clock_}),
        dispatcher_(&chain_, Limits(), [this] { return Stats(); }, &clock_) {}

  // Appends bytes that were "read" and processes what is complete.
  void Read(const uint8_t* data, size_t n) {
    if (closed_) return;
    // The unconsumed bytes and the new ones, in a buffer of exactly their
    // size: a scan past them is an ASan error, not a read of spare capacity.
    std::vector<uint8_t> next(in_.size() - start_ + n);
    std::copy(in_.begin() + static_cast<std::ptrdiff_t>(start_), in_.end(), next.begin());
    std::copy(data, data + n, next.end() - static_cast<std::ptrdiff_t>(n));
    in_.swap(next);
    start_ = 0;
    Process();
  }

  const std::string& responses() const { return sink_.out; }
  uint64_t objects() const { return objects_; }
  bool closed() const { return closed_; }
  const BufferSink& sink() const { return sink_; }

 private:
  static RequestLimits Limits() {
    RequestLimits l;
    l.max_key_bytes = 64;
    l.max_value_bytes = 1024;
    l.max_batch_keys = 16;
    return l;
  }

  std::vector<std::pair<std::string, double>> Stats() {
    L1Stats s = l1_.GetStats();
    return {{"requests_total", double(dispatcher_.counters().requests.load())},
            {"errors_total", double(dispatcher_.counters().errors.load())},
            {"l1_items", double(s.items)},
            {"l1_bytes", double(s.bytes)},
            {"l1_evictions", double(s.evictions)}};
  }

  void Process() {
    for (;;) {
      size_t avail = in_.size() - start_;
      if (avail == 0 || avail < need_) break;
      const char* at = reinterpret_cast<const char*>(in_.data()) + start_;
      size_t len = 0;
      // Resumable, as the connection scans; checked against a one-shot scan.
      ScanStatus st = scanner_.Scan(at, avail, kMaxMessage, &len);
      size_t one_shot_len = 0;
      ScanStatus one_shot = ScanObject(at, avail, kMaxMessage, &one_shot_len);
      FUZZ_CHECK(st == one_shot);
      FUZZ_CHECK(st != ScanStatus::kComplete || len == one_shot_len);
      if (st == ScanStatus::kIncomplete) {
        FUZZ_CHECK(len > avail);
        need_ = len;
        break;
      }
      need_ = 0;
      if (st != ScanStatus::kComplete) {
        FUZZ_CHECK(st == ScanStatus::kMalformed || st == ScanStatus::kTooDeep ||
                   st == ScanStatus::kTooLarge);
        Code code = st == ScanStatus::kTooLarge ? Code::kTooLarge : Code::kBadRequest;
        dispatcher_.Fail(0, Status(code, "fatal"), &sink_);
        closed_ = true;
        break;
      }
      FUZZ_CHECK(len > 0 && len <= avail && len <= kMaxMessage);
      ++objects_;
      // The message alone, so that parsing or dispatch reading past its end
      // (into the next message) is an ASan error too.
      std::vector<char> msg(at, at + len);
      RpcRequest req;
      uint32_t err_msgid = 0;
      Status s = ParseRequest(msg.data(), msg.size(), &req, &err_msgid);
      if (s.ok()) {
        dispatcher_.Handle(req, &sink_);
      } else {
        FUZZ_CHECK(s.code() == Code::kBadRequest);
        dispatcher_.Fail(err_msgid, s, &sink_);
      }
      FUZZ_CHECK(sink_.holds == sink_.releases);  // L1 answers inline
      start_ += len;
      clock_.Advance(1);  // lets small TTLs expire within one input
    }
  }

  ManualClock clock_;
  L1Cache l1_;
  Chain chain_;
  Dispatcher dispatcher_;
  BufferSink sink_;
  std::vector<uint8_t> in_;
  size_t start_ = 0;
  size_t need_ = 0;
  ObjectScanner scanner_;
  uint64_t objects_ = 0;
  bool closed_ = false;
};

// Every response is a well-formed [1, msgid, error, result]; returns how many.
uint64_t CountResponses(const std::string& out) {
  uint64_t n = 0;
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  while (off < out.size()) {
    FUZZ_CHECK(msgpack_unpack_next(&u, out.data(), out.size(), &off) == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object& o = u.data;
    FUZZ_CHECK(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4);
    FUZZ_CHECK(o.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER);
    FUZZ_CHECK(o.via.array.ptr[0].via.u64 == 1);
    FUZZ_CHECK(o.via.array.ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER);
    const msgpack_object& err = o.via.array.ptr[2];
    if (err.type != MSGPACK_OBJECT_NIL) {
      FUZZ_CHECK(err.type == MSGPACK_OBJECT_ARRAY && err.via.array.size == 2);
      FUZZ_CHECK(err.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER);
      FUZZ_CHECK(err.via.array.ptr[0].via.u64 >= 1 && err.via.array.ptr[0].via.u64 <= 9);
      FUZZ_CHECK(o.via.array.ptr[3].type == MSGPACK_OBJECT_NIL);
    }
    ++n;
  }
  msgpack_unpacked_destroy(&u);
  return n;
}

// The other runs are compared byte for byte with the first, so only the
// first is decoded.
void CheckRun(const Conn& c, bool decode) {
  FUZZ_CHECK(c.sink().holds == c.sink().releases);
  if (decode) FUZZ_CHECK(CountResponses(c.responses()) == c.objects() + (c.closed() ? 1 : 0));
}

}  // namespace
}  // namespace strata

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using strata::Conn;
  if (size < 2) return 0;
  const unsigned control = (unsigned(data[0]) << 8) | data[1];
  const uint8_t* stream = data + 2;
  const size_t n = size - 2;

  // One read with everything.
  Conn whole;
  whole.Read(stream, n);
  strata::CheckRun(whole, true);

  // Two reads, split where the fuzzer says.
  const size_t split = control % (n + 1);
  Conn halves;
  halves.Read(stream, split);
  halves.Read(stream + split, n - split);
  strata::CheckRun(halves, false);
  FUZZ_CHECK(halves.responses() == whole.responses());
  FUZZ_CHECK(halves.closed() == whole.closed());

  // Many small reads (bounded: each read may rescan the buffered object).
  if (n <= 2048) {
    const size_t chunk = 1 + (control >> 12);  // 1..16 bytes
    Conn drip;
    for (size_t off = 0; off < n; off += chunk) {
      drip.Read(stream + off, off + chunk <= n ? chunk : n - off);
    }
    strata::CheckRun(drip, false);
    FUZZ_CHECK(drip.responses() == whole.responses());
  }
  return 0;
}
