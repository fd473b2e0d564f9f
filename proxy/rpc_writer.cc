#include "proxy/rpc_writer.h"

#include <msgpack/pack.h>

namespace strata {
namespace {

int AppendTo(void* data, const char* buf, size_t len) {
  static_cast<std::string*>(data)->append(buf, len);
  return 0;
}

struct Packer {
  explicit Packer(std::string* out) { msgpack_packer_init(&pk, out, AppendTo); }
  msgpack_packer pk;
};

}  // namespace

void RpcWriter::Header(uint32_t msgid) {
  Packer p(out_);
  msgpack_pack_array(&p.pk, 4);
  msgpack_pack_uint8(&p.pk, 1);
  msgpack_pack_uint32(&p.pk, msgid);
  msgpack_pack_nil(&p.pk);
}

void RpcWriter::Nil(uint32_t msgid) {
  Header(msgid);
  ItemNil();
}

void RpcWriter::Bool(uint32_t msgid, bool v) {
  Header(msgid);
  Packer p(out_);
  if (v) msgpack_pack_true(&p.pk); else msgpack_pack_false(&p.pk);
}

void RpcWriter::Int(uint32_t msgid, int64_t v) {
  Header(msgid);
  ItemInt(v);
}

void RpcWriter::Bin(uint32_t msgid, std::string_view v) {
  Header(msgid);
  ItemBin(v);
}

void RpcWriter::Str(uint32_t msgid, std::string_view v) {
  Header(msgid);
  ItemStr(v);
}

void RpcWriter::Error(uint32_t msgid, const Status& status) {
  Packer p(out_);
  msgpack_pack_array(&p.pk, 4);
  msgpack_pack_uint8(&p.pk, 1);
  msgpack_pack_uint32(&p.pk, msgid);
  msgpack_pack_array(&p.pk, 2);
  msgpack_pack_uint8(&p.pk, static_cast<uint8_t>(status.code()));
  ItemStr(status.message());
  msgpack_pack_nil(&p.pk);
}

void RpcWriter::BeginArray(uint32_t msgid, uint32_t n) {
  Header(msgid);
  Packer p(out_);
  msgpack_pack_array(&p.pk, n);
}

void RpcWriter::BeginMap(uint32_t msgid, uint32_t n) {
  Header(msgid);
  Packer p(out_);
  msgpack_pack_map(&p.pk, n);
}

void RpcWriter::ItemNil() {
  Packer p(out_);
  msgpack_pack_nil(&p.pk);
}

void RpcWriter::ItemBin(std::string_view v) {
  Packer p(out_);
  msgpack_pack_bin_with_body(&p.pk, v.data(), v.size());
}

void RpcWriter::ItemStr(std::string_view v) {
  Packer p(out_);
  msgpack_pack_str_with_body(&p.pk, v.data(), v.size());
}

void RpcWriter::ItemInt(int64_t v) {
  Packer p(out_);
  msgpack_pack_int64(&p.pk, v);
}

void RpcWriter::ItemUint(uint64_t v) {
  Packer p(out_);
  msgpack_pack_uint64(&p.pk, v);
}

void RpcWriter::ItemDouble(double v) {
  Packer p(out_);
  msgpack_pack_double(&p.pk, v);
}

}  // namespace strata
