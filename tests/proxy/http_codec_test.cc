#include "proxy/http_codec.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace strata {
namespace {

std::vector<HttpRequest> FeedAll(HttpRequestParser* p, const std::string& bytes, Status* st) {
  std::vector<HttpRequest> out;
  *st = p->Feed(bytes, &out);
  return out;
}

std::vector<HttpRequest> FeedBytewise(HttpRequestParser* p, const std::string& bytes,
                                      Status* st) {
  std::vector<HttpRequest> out;
  for (char ch : bytes) {
    *st = p->Feed(std::string_view(&ch, 1), &out);
    if (!st->ok()) break;
  }
  return out;
}

const char kGet[] =
    "GET /metrics?x=1 HTTP/1.1\r\n"
    "Host: localhost:9100\r\n"
    "User-Agent: test\r\n"
    "X-Empty:\r\n"
    "\r\n";

}  // namespace

TEST_CASE("parser: one GET with headers", "[http]") {
  HttpRequestParser p;
  Status st;
  auto reqs = FeedAll(&p, kGet, &st);
  REQUIRE(st.ok());
  REQUIRE(reqs.size() == 1);
  const HttpRequest& r = reqs[0];
  CHECK(r.method == "GET");
  CHECK(r.target == "/metrics?x=1");
  CHECK(r.path() == "/metrics");
  CHECK(r.version_major == 1);
  CHECK(r.version_minor == 1);
  CHECK(r.keep_alive);
  REQUIRE(r.headers.size() == 3);
  CHECK(r.headers[0] == std::make_pair(std::string("Host"), std::string("localhost:9100")));
  CHECK(r.headers[2].first == "X-Empty");
  CHECK(r.headers[2].second.empty());
  REQUIRE(r.Header("user-agent") != nullptr);
  CHECK(*r.Header("USER-AGENT") == "test");
  CHECK(r.Header("Accept") == nullptr);
  CHECK(r.body.empty());
  CHECK_FALSE(p.mid_request());
  CHECK_FALSE(p.failed());
}

TEST_CASE("parser: a request split at every byte", "[http]") {
  HttpRequestParser p;
  Status st;
  std::vector<HttpRequest> reqs;
  std::string bytes = kGet;
  for (size_t i = 0; i < bytes.size(); ++i) {
    st = p.Feed(std::string_view(&bytes[i], 1), &reqs);
    REQUIRE(st.ok());
    if (i + 1 < bytes.size()) {
      REQUIRE(reqs.empty());
      CHECK(p.mid_request());
    }
  }
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/metrics?x=1");
  CHECK(reqs[0].headers.size() == 3);
  CHECK(*reqs[0].Header("host") == "localhost:9100");
  CHECK_FALSE(p.mid_request());
}

TEST_CASE("parser: pipelined requests in one chunk come out in order", "[http]") {
  HttpRequestParser p;
  Status st;
  std::string bytes =
      "GET /healthz HTTP/1.1\r\n\r\n"
      "POST /stats HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
      "HEAD /readyz HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /par";  // and the start of a fourth
  auto reqs = FeedAll(&p, bytes, &st);
  REQUIRE(st.ok());
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].target == "/healthz");
  CHECK(reqs[1].method == "POST");
  CHECK(reqs[1].target == "/stats");
  CHECK(reqs[1].body == "hello");
  CHECK(reqs[2].method == "HEAD");
  CHECK(reqs[2].target == "/readyz");
  CHECK(reqs[2].headers.size() == 1);
  CHECK(p.mid_request());

  reqs.clear();
  st = p.Feed("tial HTTP/1.1\r\n\r\n", &reqs);
  REQUIRE(st.ok());
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/partial");
  CHECK(reqs[0].headers.empty());
}

TEST_CASE("parser: pipelined requests fed byte by byte", "[http]") {
  HttpRequestParser p;
  Status st;
  std::string one = "GET /a HTTP/1.1\r\nX: 1\r\n\r\n";
  auto reqs = FeedBytewise(&p, one + one + one, &st);
  REQUIRE(st.ok());
  REQUIRE(reqs.size() == 3);
  for (const auto& r : reqs) CHECK(*r.Header("x") == "1");
}

TEST_CASE("parser: keep-alive follows the HTTP/1.x rules", "[http]") {
  struct Case {
    const char* bytes;
    bool keep_alive;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const Case& c : cases) {
    INFO(c.bytes);
    HttpRequestParser p;
    Status st;
    auto reqs = FeedAll(&p, c.bytes, &st);
    REQUIRE(st.ok());
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].keep_alive == c.keep_alive);
    CHECK(p.finished() == !c.keep_alive);
  }
  HttpRequestParser p;
  Status st;
  auto reqs = FeedAll(&p, "GET / HTTP/1.0\r\n\r\n", &st);
  CHECK(reqs[0].version_minor == 0);
}

TEST_CASE("parser: nothing is yielded after a request that closes", "[http]") {
  HttpRequestParser p;
  Status st;
  auto reqs = FeedAll(
      &p, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n", &st);
  REQUIRE(st.ok());
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/a");
  reqs = FeedAll(&p, "GET /c HTTP/1.1\r\n\r\n", &st);
  CHECK(st.ok());
  CHECK(reqs.empty());
}

TEST_CASE("parser: malformed bytes are a final error", "[http]") {
  HttpRequestParser p;
  Status st;
  auto reqs = FeedAll(&p, "GET /ok HTTP/1.1\r\n\r\n\x01\x02garbage\r\n\r\n", &st);
  REQUIRE(reqs.size() == 1);  // the good request before the garbage survives
  CHECK(reqs[0].target == "/ok");
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == Code::kBadRequest);
  CHECK(st.message().find("malformed HTTP request") != std::string::npos);
  CHECK(p.failed());

  reqs = FeedAll(&p, "GET / HTTP/1.1\r\n\r\n", &st);
  CHECK(reqs.empty());
  CHECK(st.code() == Code::kBadRequest);
}

TEST_CASE("parser: bad version and bad header are rejected", "[http]") {
  for (const char* bytes : {"GET / HTTP/9.9\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
                            "BREW /pot HTTP/1.1\r\n\r\n"}) {
    INFO(bytes);
    HttpRequestParser p;
    Status st;
    auto reqs = FeedAll(&p, bytes, &st);
    CHECK(reqs.empty());
    CHECK(st.code() == Code::kBadRequest);
  }
}

TEST_CASE("parser: CONNECT, '*', HTTP/0.9 and chunked trailers are rejected (found by fuzzing)",
          "[http]") {
  const std::string trailers = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "3\r\nabc\r\n0\r\nX-Trailer: " + std::string(2000, 't') +
                               "\r\n\r\n";
  for (const std::string& bytes :
       {std::string("CONNECT \r\n\r\n"), std::string("CONNECT  HTTP/1.1\r\n\r\n"),
        std::string("CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
        std::string("OPTIONS * HTTP/1.1\r\n\r\n"), std::string("GET /\r\n\r\n"), trailers}) {
    INFO(bytes.substr(0, 60));
    HttpRequestParser p;
    Status st;
    auto reqs = FeedAll(&p, bytes, &st);
    CHECK(reqs.empty());
    CHECK(st.code() == Code::kBadRequest);
  }
}

TEST_CASE("parser: the header limit is exact and named", "[http]") {
  std::string request = "GET / HTTP/1.1\r\nX-Pad: " + std::string(100, 'a') + "\r\n\r\n";
  {
    HttpRequestParser p(HttpParserLimits{request.size(), 4096});
    Status st;
    auto reqs = FeedAll(&p, request + request, &st);
    CHECK(st.ok());
    CHECK(reqs.size() == 2);  // the count restarts with each request
  }
  {
    HttpRequestParser p(HttpParserLimits{request.size() - 1, 4096});
    Status st;
    auto reqs = FeedAll(&p, request, &st);
    CHECK(reqs.empty());
    CHECK(st.code() == Code::kTooLarge);
    CHECK(st.message() == "request headers exceed " + std::to_string(request.size() - 1) +
                              " bytes (admin request limit)");
  }
  {
    HttpRequestParser p;  // default 8 KiB, fed in small pieces
    Status st;
    std::string big = "GET / HTTP/1.1\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n";
    std::vector<HttpRequest> reqs;
    for (size_t i = 0; i < big.size() && st.ok(); i += 100) {
      st = p.Feed(std::string_view(big).substr(i, 100), &reqs);
    }
    CHECK(reqs.empty());
    CHECK(st.message() == "request headers exceed 8192 bytes (admin request limit)");
  }
}

TEST_CASE("parser: the body limit applies to declared and chunked bodies", "[http]") {
  {
    HttpRequestParser p(HttpParserLimits{8192, 16});
    Status st;
    auto reqs = FeedAll(&p, "POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n", &st);
    CHECK(reqs.empty());
    CHECK(st.code() == Code::kTooLarge);
    CHECK(st.message() == "request body of 17 bytes exceeds 16 bytes (admin request limit)");
  }
  {
    HttpRequestParser p(HttpParserLimits{8192, 16});
    Status st;
    auto reqs = FeedAll(&p,
                        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
                        &st);
    CHECK(reqs.empty());
    CHECK(st.code() == Code::kTooLarge);
    CHECK(st.message() == "request body exceeds 16 bytes (admin request limit)");
  }
  {
    HttpRequestParser p(HttpParserLimits{8192, 16});
    Status st;
    auto reqs = FeedAll(&p,
                        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n0\r\n\r\n",
                        &st);
    REQUIRE(st.ok());
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].body == "hello");
  }
}

TEST_CASE("response bytes: exact layout", "[http]") {
  CHECK(HttpResponseBytes(200, "text/plain", "ok\n", true) ==
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 3\r\n"
        "Connection: keep-alive\r\n"
        "Cache-Control: no-store\r\n"
        "\r\n"
        "ok\n");
  CHECK(HttpHeadResponseBytes(503, "application/json", "{\"ready\":false}", false) ==
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 15\r\n"
        "Connection: close\r\n"
        "Cache-Control: no-store\r\n"
        "\r\n");
  HttpResponse r{405, "text/plain", "no\n", {{"Allow", "GET, HEAD"}, {"X-Evil", "a\r\nSet: b"}}};
  CHECK(SerializeHttpResponse(r, true, false) ==
        "HTTP/1.1 405 Method Not Allowed\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 3\r\n"
        "Connection: keep-alive\r\n"
        "Cache-Control: no-store\r\n"
        "Allow: GET, HEAD\r\n"
        "\r\n"
        "no\n");
  CHECK(HttpReasonPhrase(404) == "Not Found");
  CHECK(HttpReasonPhrase(400) == "Bad Request");
  CHECK(HttpReasonPhrase(799) == "Unknown");
}

}  // namespace strata
