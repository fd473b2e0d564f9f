// Value: a decoded msgpack result, owned and independent of msgpack-c.
//
// The client converts every response's `result` into a Value before the
// msgpack zone that held it is freed, so callers never see msgpack types.
// Integers that fit int64 are kInt; larger unsigned ones become kDouble.
// Strings and bins are both kBytes (the protocol treats them alike).
//
// Thread affinity: none; plain data.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace strata::client {

class Value {
 public:
  enum class Type { kNil, kBool, kInt, kDouble, kBytes, kArray, kMap };
  using Array = std::vector<Value>;
  using Map = std::vector<std::pair<Value, Value>>;

  Value() = default;
  static Value Bool(bool b) { return Value(b); }
  static Value Int(int64_t i) { return Value(i); }
  static Value Double(double d) { return Value(d); }
  static Value Bytes(std::string s) { return Value(std::move(s)); }
  static Value MakeArray(Array a) { return Value(std::move(a)); }
  static Value MakeMap(Map m) { return Value(std::move(m)); }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_nil() const { return type() == Type::kNil; }
  // REQUIRES: type() is the matching kind.
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_bytes() const { return std::get<std::string>(v_); }
  std::string& as_bytes() { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Map& as_map() const { return std::get<Map>(v_); }

 private:
  template <typename T>
  explicit Value(T v) : v_(std::move(v)) {}
  // Order matches Type.
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Map> v_;
};

}  // namespace strata::client
