#include "common/status.h"

namespace strata {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kBadRequest: return "BAD_REQUEST";
    case Code::kUnknownMethod: return "UNKNOWN_METHOD";
    case Code::kBadArgs: return "BAD_ARGS";
    case Code::kTooLarge: return "TOO_LARGE";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kTimeout: return "TIMEOUT";
    case Code::kOverloaded: return "OVERLOADED";
    case Code::kShuttingDown: return "SHUTTING_DOWN";
    case Code::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(CodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace strata
