#include "strata/wire.h"

#include <msgpack.h>

namespace strata::client {
namespace {

int AppendToString(void* data, const char* buf, size_t len) {
  static_cast<std::string*>(data)->append(buf, len);
  return 0;
}

// msgpack_packer keeps only a pointer and a callback; building one per call
// costs nothing.
msgpack_packer PackerFor(std::string* out) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, AppendToString);
  return pk;
}

}  // namespace

void Packer::ArrayHeader(uint32_t n) { auto pk = PackerFor(out_); msgpack_pack_array(&pk, n); }
void Packer::MapHeader(uint32_t n) { auto pk = PackerFor(out_); msgpack_pack_map(&pk, n); }
void Packer::Str(std::string_view s) {
  auto pk = PackerFor(out_);
  msgpack_pack_str_with_body(&pk, s.data(), s.size());
}
void Packer::Bin(std::string_view s) {
  auto pk = PackerFor(out_);
  msgpack_pack_bin_with_body(&pk, s.data(), s.size());
}
void Packer::Uint(uint64_t v) { auto pk = PackerFor(out_); msgpack_pack_uint64(&pk, v); }
void Packer::Int(int64_t v) { auto pk = PackerFor(out_); msgpack_pack_int64(&pk, v); }
void Packer::Bool(bool v) {
  auto pk = PackerFor(out_);
  if (v) {
    msgpack_pack_true(&pk);
  } else {
    msgpack_pack_false(&pk);
  }
}
void Packer::Nil() { auto pk = PackerFor(out_); msgpack_pack_nil(&pk); }

}  // namespace strata::client
