// Status and StatusOr<T>: how Strata modules report failure to each other.
//
// No exception crosses a module boundary; a function that can fail returns a
// Status (or StatusOr<T>). A cache miss is a value, not an error. The codes
// mirror the wire protocol's error codes (PROTOCOL.md) so that dispatch can
// forward a Status to a client without a translation table.
//
// Thread affinity: none; values are plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace strata {

enum class Code : uint8_t {
  kOk = 0,
  kBadRequest = 1,
  kUnknownMethod = 2,
  kBadArgs = 3,
  kTooLarge = 4,
  kUnavailable = 5,
  kTimeout = 6,
  kOverloaded = 7,
  kShuttingDown = 8,
  kInternal = 9,
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status BadRequest(std::string m) { return {Code::kBadRequest, std::move(m)}; }
  static Status UnknownMethod(std::string m) { return {Code::kUnknownMethod, std::move(m)}; }
  static Status BadArgs(std::string m) { return {Code::kBadArgs, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status Overloaded(std::string m) { return {Code::kOverloaded, std::move(m)}; }
  static Status ShuttingDown(std::string m) { return {Code::kShuttingDown, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE_NAME: message", for logs.
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}           // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}   // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace strata
