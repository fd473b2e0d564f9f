// HTTP/1.1 codec for the admin endpoint: an incremental request parser and
// the response serializer. This is the only file that includes llhttp; its
// error codes become Status here and nowhere else.
//
// The parser takes bytes as they arrive from the socket, split at any byte,
// several pipelined requests in one chunk, and yields complete requests in
// order. It copies what it keeps, so the caller may reuse its read buffer as
// soon as Feed returns. Limits bound what one request may make it hold: the
// header section (request line and headers, counted exactly in bytes on the
// wire) and the body. Any error is final: the parser yields nothing more and
// the connection is expected to answer 400 and close.
//
// Thread affinity: none; one parser belongs to one connection, used by one
// thread at a time. The functions are pure.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace strata {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ... as llhttp names it
  std::string target;  // path and query, as sent ("/metrics?x=1")
  int version_major = 1;
  int version_minor = 1;
  // Whether the connection may carry another request after this one (1.1:
  // unless "Connection: close"; 1.0: only with "Connection: keep-alive").
  bool keep_alive = true;
  HttpHeaders headers;  // in order, names as sent
  std::string body;

  // The first header named `name` (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
  // The target up to (not including) '?'.
  std::string_view path() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  // Extra headers (e.g. "Allow" on a 405). Content-Type, Content-Length,
  // Connection and Cache-Control are always written by the serializer and
  // must not be repeated here.
  HttpHeaders headers;
};

struct HttpParserLimits {
  size_t max_header_bytes = 8 << 10;  // request line + headers + blank line
  size_t max_body_bytes = 4 << 10;    // admin requests carry no body
};

class HttpRequestParser {
 public:
  explicit HttpRequestParser(HttpParserLimits limits = {});
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses `bytes`, appending each request completed by them to `out`.
  // Requests completed before an error in the same chunk are still appended.
  // Returns the parser's error (kBadRequest for malformed bytes, kTooLarge
  // for an exceeded limit, naming it), now or from an earlier call; once
  // failed, nothing more is parsed.
  //
  // After a request that does not keep the connection alive, later bytes
  // are ignored: the connection will close after answering it.
  Status Feed(std::string_view bytes, std::vector<HttpRequest>* out);

  bool failed() const { return !error_.ok(); }
  const Status& error() const { return error_; }
  // True while part of a request has been received but not all of it.
  bool mid_request() const { return mid_request_; }
  // True once a request without keep-alive has been yielded.
  bool finished() const { return finished_; }

 private:
  struct Impl;
  friend struct HttpParserCallbacks;

  HttpParserLimits limits_;
  std::unique_ptr<Impl> impl_;
  Status error_;
  bool mid_request_ = false;
  bool finished_ = false;
};

// The standard reason phrase for `status` ("Not Found"); "Unknown" if none.
std::string_view HttpReasonPhrase(int status);

// A complete response: status line, Content-Type, Content-Length,
// Connection: keep-alive|close, Cache-Control: no-store, then the body.
std::string HttpResponseBytes(int status, const std::string& content_type,
                              const std::string& body, bool keep_alive);

// The answer to a HEAD: the same head as HttpResponseBytes, with the
// Content-Length the GET would have had, and no body.
std::string HttpHeadResponseBytes(int status, const std::string& content_type,
                                  const std::string& body, bool keep_alive);

// Serializes `response` including its extra headers; `head_only` drops the
// body but keeps its Content-Length (for HEAD). Extra headers whose name or
// value contains CR or LF are dropped rather than allowed to split the head.
std::string SerializeHttpResponse(const HttpResponse& response, bool keep_alive, bool head_only);

}  // namespace strata
