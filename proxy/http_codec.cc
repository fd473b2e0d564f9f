#include "proxy/http_codec.h"

#include <llhttp.h>
#include <strings.h>

#include <cstdio>

namespace strata {

struct HttpRequestParser::Impl {
  llhttp_t parser;
  llhttp_settings_t settings;
  HttpRequestParser* owner = nullptr;
  std::vector<HttpRequest>* out = nullptr;  // set for the duration of Feed
  HttpRequest current;
  bool in_header_value = false;  // the last header callback was a value
  bool headers_done = false;     // of the current request
  bool completed = false;        // on_message_complete paused the parser
  size_t header_bytes = 0;       // of the current request, counted so far
  Status callback_error;         // why a callback returned HPE_USER
};

// The llhttp callbacks, with access to the parser's state. A callback that
// rejects the request stores the Status and returns HPE_USER.
struct HttpParserCallbacks {
  static HttpRequestParser::Impl* Of(llhttp_t* p) {
    return static_cast<HttpRequestParser::Impl*>(p->data);
  }

  static int Fail(llhttp_t* p, Status status) {
    Of(p)->callback_error = std::move(status);
    llhttp_set_error_reason(p, "rejected by strata");
    return HPE_USER;
  }

  static int OnMessageBegin(llhttp_t* p) {
    auto* impl = Of(p);
    impl->current = HttpRequest();
    impl->in_header_value = false;
    impl->headers_done = false;
    return 0;
  }

  static int OnUrl(llhttp_t* p, const char* at, size_t n) {
    Of(p)->current.target.append(at, n);
    return 0;
  }

  static int OnHeaderField(llhttp_t* p, const char* at, size_t n) {
    auto* impl = Of(p);
    // Trailers (after a chunked body) would escape the header limit.
    if (impl->headers_done) return Fail(p, Status::BadRequest("chunked trailers are not accepted"));
    HttpHeaders& headers = impl->current.headers;
    if (headers.empty() || impl->in_header_value) headers.emplace_back();
    impl->in_header_value = false;
    headers.back().first.append(at, n);
    return 0;
  }

  static int OnHeaderValue(llhttp_t* p, const char* at, size_t n) {
    auto* impl = Of(p);
    if (impl->headers_done) return Fail(p, Status::BadRequest("chunked trailers are not accepted"));
    impl->in_header_value = true;
    HttpHeaders& headers = impl->current.headers;
    if (headers.empty()) headers.emplace_back();  // llhttp sends a name first; be safe
    headers.back().second.append(at, n);
    return 0;
  }

  static int OnHeadersComplete(llhttp_t* p) {
    auto* impl = Of(p);
    impl->headers_done = true;
    HttpRequest& r = impl->current;
    r.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
    r.version_major = llhttp_get_http_major(p);
    r.version_minor = llhttp_get_http_minor(p);
    // Only origin-form targets ("/path?query") over HTTP/1.x: no CONNECT
    // authority, no "*", no HTTP/0.9 request line without a version.
    if (r.version_major != 1) {
      return Fail(p, Status::BadRequest("HTTP version must be 1.0 or 1.1"));
    }
    if (r.target.empty() || r.target[0] != '/') {
      return Fail(p, Status::BadRequest("request target must start with '/'"));
    }
    // Refuse a declared body before any of it arrives.
    size_t max_body = impl->owner->limits_.max_body_bytes;
    if ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > max_body) {
      return Fail(p, Status::TooLarge("request body of " + std::to_string(p->content_length) +
                                      " bytes exceeds " + std::to_string(max_body) +
                                      " bytes (admin request limit)"));
    }
    return 0;
  }

  static int OnBody(llhttp_t* p, const char* at, size_t n) {
    auto* impl = Of(p);
    size_t max_body = impl->owner->limits_.max_body_bytes;
    if (impl->current.body.size() + n > max_body) {  // chunked bodies end up here
      return Fail(p, Status::TooLarge("request body exceeds " + std::to_string(max_body) +
                                      " bytes (admin request limit)"));
    }
    impl->current.body.append(at, n);
    return 0;
  }

  static int OnMessageComplete(llhttp_t* p) {
    auto* impl = Of(p);
    // An upgrade (or CONNECT) turns the connection into something else,
    // which the admin endpoint does not speak: answer this one, then close.
    impl->current.keep_alive = llhttp_should_keep_alive(p) != 0 && p->upgrade == 0;
    impl->out->push_back(std::move(impl->current));
    impl->current = HttpRequest();
    impl->completed = true;
    // Pausing returns control to Feed after each request, which lets it
    // reset the header count and stop after a request that closes.
    return HPE_PAUSED;
  }
};

HttpRequestParser::HttpRequestParser(HttpParserLimits limits)
    : limits_(limits), impl_(std::make_unique<Impl>()) {
  llhttp_settings_t& s = impl_->settings;
  llhttp_settings_init(&s);
  s.on_message_begin = HttpParserCallbacks::OnMessageBegin;
  s.on_url = HttpParserCallbacks::OnUrl;
  s.on_header_field = HttpParserCallbacks::OnHeaderField;
  s.on_header_value = HttpParserCallbacks::OnHeaderValue;
  s.on_headers_complete = HttpParserCallbacks::OnHeadersComplete;
  s.on_body = HttpParserCallbacks::OnBody;
  s.on_message_complete = HttpParserCallbacks::OnMessageComplete;
  llhttp_init(&impl_->parser, HTTP_REQUEST, &impl_->settings);
  impl_->parser.data = impl_.get();
  impl_->owner = this;
}

HttpRequestParser::~HttpRequestParser() = default;

Status HttpRequestParser::Feed(std::string_view bytes, std::vector<HttpRequest>* out) {
  if (failed()) return error_;
  Impl& impl = *impl_;
  impl.out = out;
  const char* data = bytes.data();
  size_t pos = 0;
  while (pos < bytes.size() && !finished_) {
    size_t slice = bytes.size() - pos;
    if (!impl.headers_done) {
      // Never show llhttp more header bytes than the limit allows, so the
      // count is exact and an oversized head is never buffered.
      size_t room = limits_.max_header_bytes - impl.header_bytes;
      if (room == 0) {
        error_ = Status::TooLarge("request headers exceed " +
                                  std::to_string(limits_.max_header_bytes) +
                                  " bytes (admin request limit)");
        break;
      }
      if (slice > room) slice = room;
    }
    impl.completed = false;
    llhttp_errno_t err = llhttp_execute(&impl.parser, data + pos, slice);
    size_t consumed = slice;
    if (err == HPE_PAUSED) {
      consumed = static_cast<size_t>(llhttp_get_error_pos(&impl.parser) - (data + pos));
      llhttp_resume(&impl.parser);
    } else if (!impl.callback_error.ok()) {
      // HPE_USER, or HPE_CB_HEADERS_COMPLETE when on_headers_complete refused.
      error_ = impl.callback_error;
      break;
    } else if (err != HPE_OK) {
      error_ = Status::BadRequest(std::string("malformed HTTP request: ") +
                                  llhttp_get_error_reason(&impl.parser) + " (" +
                                  llhttp_errno_name(err) + ")");
      break;
    }
    pos += consumed;
    if (impl.completed) {
      impl.header_bytes = 0;
      impl.headers_done = false;
      mid_request_ = false;
      if (!out->back().keep_alive) finished_ = true;
    } else {
      if (!impl.headers_done) impl.header_bytes += consumed;
      if (consumed > 0) mid_request_ = true;
    }
  }
  impl.out = nullptr;
  return error_;
}

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  }
  return nullptr;
}

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view HttpReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

namespace {

bool HasLineBreak(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

}  // namespace

std::string SerializeHttpResponse(const HttpResponse& r, bool keep_alive, bool head_only) {
  char status_line[64];
  std::string_view reason = HttpReasonPhrase(r.status);
  snprintf(status_line, sizeof(status_line), "HTTP/1.1 %03d %.*s\r\n", r.status,
           static_cast<int>(reason.size()), reason.data());
  std::string out;
  out.reserve(160 + (head_only ? 0 : r.body.size()));
  out += status_line;
  if (!r.content_type.empty() && !HasLineBreak(r.content_type)) out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "Cache-Control: no-store\r\n";
  for (const auto& [name, value] : r.headers) {
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) continue;
    out += name + ": " + value + "\r\n";
  }
  out += "\r\n";
  if (!head_only) out += r.body;
  return out;
}

std::string HttpResponseBytes(int status, const std::string& content_type,
                              const std::string& body, bool keep_alive) {
  return SerializeHttpResponse(HttpResponse{status, content_type, body, {}}, keep_alive, false);
}

std::string HttpHeadResponseBytes(int status, const std::string& content_type,
                                  const std::string& body, bool keep_alive) {
  return SerializeHttpResponse(HttpResponse{status, content_type, body, {}}, keep_alive, true);
}

}  // namespace strata
