// http_parser_fuzz: arbitrary bytes through the admin endpoint's request
// parser (proxy/http_codec.h, HttpRequestParser) with small limits, fed as
// one read and again in chunks, as a connection would feed it.
//
// Input layout: one control byte, then the stream. The control byte picks
// the chunk sizes of the second run (1..32 bytes, fixed or alternating with
// single bytes). Both runs must yield the same requests and the same
// outcome: where reads split the bytes may not change what is parsed.
//
// Invariants checked besides "no crash, leak or hang" (ASan/UBSan/libFuzzer):
// once failed, the parser yields nothing more and stays failed with the same
// code (kBadRequest or kTooLarge); Feed's Status agrees with failed(); every
// yielded request has a method and a target; no yielded request holds more
// header bytes than the header limit allows, nor a larger body than the
// body limit; a request without keep-alive is the last one yielded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proxy/http_codec.h"

namespace strata {
namespace {

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) {       \
      __builtin_trap();  \
    }                    \
  } while (0)

constexpr HttpParserLimits kLimits{.max_header_bytes = 1024, .max_body_bytes = 256};

// The fewest wire bytes that can carry `r`'s request line and headers:
// "METHOD SP target" plus one byte of line end, "name:value" plus one byte of
// line end per header, one byte for the blank line. The version is left out
// (a lower bound need not guess its spelling), so this never exceeds what
// the parser was shown.
size_t MinHeaderBytes(const HttpRequest& r) {
  size_t n = r.method.size() + 1 + r.target.size() + 1;
  for (const auto& [name, value] : r.headers) n += name.size() + 1 + value.size() + 1;
  return n + 1;
}

void CheckRequest(const HttpRequest& r) {
  FUZZ_CHECK(!r.method.empty());
  FUZZ_CHECK(!r.target.empty());
  FUZZ_CHECK(MinHeaderBytes(r) <= kLimits.max_header_bytes);
  FUZZ_CHECK(r.body.size() <= kLimits.max_body_bytes);
}

bool SameRequest(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.target == b.target && a.version_major == b.version_major &&
         a.version_minor == b.version_minor && a.keep_alive == b.keep_alive &&
         a.headers == b.headers && a.body == b.body;
}

// One simulated connection: feeds reads and checks the parser after each.
class Conn {
 public:
  void Read(std::string_view bytes) {
    const bool failed_before = parser_.failed();
    const Code code_before = parser_.error().code();
    const bool finished_before = parser_.finished();
    const size_t before = requests_.size();

    Status st = parser_.Feed(bytes, &requests_);

    FUZZ_CHECK(st.ok() == !parser_.failed());
    FUZZ_CHECK(st.code() == parser_.error().code());
    if (failed_before) {
      FUZZ_CHECK(parser_.failed() && parser_.error().code() == code_before);
      FUZZ_CHECK(requests_.size() == before);
    }
    if (parser_.failed()) {
      FUZZ_CHECK(st.code() == Code::kBadRequest || st.code() == Code::kTooLarge);
    }
    if (finished_before) FUZZ_CHECK(requests_.size() == before);
    for (size_t i = before; i < requests_.size(); ++i) {
      const HttpRequest& r = requests_[i];
      CheckRequest(r);
      // Only the last request may close; yielding one that does finishes
      // the parser.
      if (!r.keep_alive) FUZZ_CHECK(i + 1 == requests_.size() && parser_.finished());
    }
    if (parser_.finished()) {
      FUZZ_CHECK(!requests_.empty() && !requests_.back().keep_alive);
    }
  }

  const std::vector<HttpRequest>& requests() const { return requests_; }
  const HttpRequestParser& parser() const { return parser_; }

 private:
  HttpRequestParser parser_{kLimits};
  std::vector<HttpRequest> requests_;
};

void CheckSame(const Conn& a, const Conn& b) {
  FUZZ_CHECK(a.requests().size() == b.requests().size());
  for (size_t i = 0; i < a.requests().size(); ++i) {
    FUZZ_CHECK(SameRequest(a.requests()[i], b.requests()[i]));
  }
  FUZZ_CHECK(a.parser().failed() == b.parser().failed());
  FUZZ_CHECK(a.parser().error().code() == b.parser().error().code());
  FUZZ_CHECK(a.parser().finished() == b.parser().finished());
  // mid_request is left as it was when a read fails, so it depends on how
  // much of the failing request earlier reads carried.
  if (!a.parser().failed()) FUZZ_CHECK(a.parser().mid_request() == b.parser().mid_request());
}

}  // namespace
}  // namespace strata

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using strata::Conn;
  if (size < 1) return 0;
  const unsigned control = data[0];
  // Each read gets a buffer of exactly its size, so that the parser reading
  // past it is an ASan error and not a read of the next chunk.
  const std::vector<char> stream(data + 1, data + size);

  Conn whole;
  whole.Read(std::string_view(stream.data(), stream.size()));
  // And once more with nothing: a read of zero bytes changes nothing.
  whole.Read(std::string_view());

  const size_t chunk = 1 + (control & 0x1f);    // 1..32 bytes
  const bool alternate = (control & 0x20) != 0;  // chunk, 1, chunk, 1, ...
  Conn chunked;
  size_t off = 0;
  for (size_t i = 0; off < stream.size(); ++i) {
    size_t n = alternate && i % 2 == 1 ? 1 : chunk;
    if (n > stream.size() - off) n = stream.size() - off;
    std::vector<char> read(stream.begin() + static_cast<std::ptrdiff_t>(off),
                           stream.begin() + static_cast<std::ptrdiff_t>(off + n));
    chunked.Read(std::string_view(read.data(), read.size()));
    off += n;
  }
  strata::CheckSame(whole, chunked);
  return 0;
}
