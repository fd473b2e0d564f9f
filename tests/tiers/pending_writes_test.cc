#include "tiers/pending_writes.h"

#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace strata {
namespace {

using Op = WriteRecord::Op;

// Makes a record as the write-behind path does and puts it in the map; the
// caller keeps one reference (the drain queue's) and must Unref it.
WriteRecord* Put(PendingWrites* p, Op op, const std::string& key, const std::string& value,
                 uint64_t seq, int64_t expire = 0) {
  WriteRecord* r = WriteRecord::Make(op, key, value, expire, 0, 1, PendingWrites::HashOf(key));
  r->seq = seq;
  PendingWrites::Shard& shard = p->ShardOf(r->hash);
  std::lock_guard<SpinLock> lock(shard.mu);
  p->PutLocked(shard, r);
  return r;
}

std::string KeyOf(int i) { return "key:" + std::to_string(i); }

TEST_CASE("pending writes: put, overwrite, expire merge, lookup", "[pending]") {
  PendingWrites p;
  std::vector<WriteRecord*> held;
  held.push_back(Put(&p, Op::kSet, "a", "1", 1));
  held.push_back(Put(&p, Op::kSet, "a", "2", 2));
  held.push_back(Put(&p, Op::kExpire, "a", "", 3, 9000));
  held.push_back(Put(&p, Op::kDelete, "b", "", 4));
  held.push_back(Put(&p, Op::kSet, "b", "old", 1));  // older than what is there: ignored
  CHECK(p.size() == 2);

  PendingWrite w;
  REQUIRE(p.Lookup("a", &w));
  CHECK(w.op == Op::kSet);
  CHECK(w.value == "2");
  CHECK(w.seq == 3);
  CHECK(w.expire_at_ms == 9000);
  REQUIRE(p.Lookup("b", &w));
  CHECK(w.op == Op::kDelete);
  CHECK_FALSE(p.Lookup("c", &w));

  // Confirming an older write of "a" keeps the entry; the newest removes it,
  // whichever of the key's records the drain confirms with.
  p.Confirm(held[0], 2);
  CHECK(p.Lookup("a", &w));
  p.Confirm(held[0], 3);
  CHECK_FALSE(p.Lookup("a", &w));
  p.Confirm(held[3], 4);
  CHECK(p.size() == 0);
  CHECK(p.bytes() == 0);
  for (WriteRecord* r : held) r->Unref();
}

TEST_CASE("pending writes: EraseIfSeqLocked takes back exactly that write", "[pending]") {
  PendingWrites p;
  WriteRecord* r1 = Put(&p, Op::kSet, "k", "v1", 1);
  WriteRecord* r2 = Put(&p, Op::kSet, "k", "v2", 2);
  PendingWrites::Shard& shard = p.ShardFor("k");
  {
    std::lock_guard<SpinLock> lock(shard.mu);
    CHECK_FALSE(p.EraseIfSeqLocked(shard, "k", 1));
    const PendingWrites::Entry* e =
        PendingWrites::FindLocked(shard, "k", PendingWrites::HashOf("k"));
    REQUIRE(e != nullptr);
    CHECK(e->has_older);
    CHECK(p.EraseIfSeqLocked(shard, "k", 2));
    CHECK(shard.empty());
  }
  CHECK(p.size() == 0);
  r1->Unref();
  r2->Unref();
}

// Many keys per shard: the tables grow, shrink and shift probe runs back on
// every removal. Checked against a model after every step.
TEST_CASE("pending writes: random puts and confirms match a model", "[pending]") {
  PendingWrites p;
  std::mt19937 rng(11);
  struct Model {
    uint64_t seq;
    Op op;
    std::string value;
  };
  std::map<std::string, Model> model;
  std::vector<WriteRecord*> queue;  // unconfirmed, in seq order (the drain queue)
  uint64_t seq = 0;
  size_t confirmed = 0;
  auto check_all = [&](int keys) {
    for (int k = 0; k < keys; ++k) {
      PendingWrite w;
      auto it = model.find(KeyOf(k));
      INFO(KeyOf(k));
      REQUIRE(p.Lookup(KeyOf(k), &w) == (it != model.end()));
      if (it == model.end()) continue;
      CHECK(w.seq == it->second.seq);
      CHECK(w.op == it->second.op);
      if (w.op == Op::kSet) CHECK(w.value == it->second.value);
    }
    CHECK(p.size() == model.size());
  };
  for (int phase = 0; phase < 3; ++phase) {
    const int keys = phase == 1 ? 200 : 20000;
    for (int step = 0; step < 30000; ++step) {
      if (rng() % 3 != 0 || confirmed == queue.size()) {
        const std::string key = KeyOf(static_cast<int>(rng() % keys));
        const Op op = rng() % 5 == 0 ? Op::kDelete : Op::kSet;
        const std::string value = op == Op::kSet ? "v" + std::to_string(seq + 1) : "";
        queue.push_back(Put(&p, op, key, value, ++seq));
        model[key] = Model{seq, op, value};
      } else {
        // The drain confirms the oldest few records, in order.
        const size_t n = std::min<size_t>(queue.size() - confirmed, 1 + rng() % 64);
        const uint64_t upto = queue[confirmed + n - 1]->seq;
        for (size_t i = 0; i < n; ++i) {
          WriteRecord* r = queue[confirmed + i];
          p.Confirm(r, upto);
          auto it = model.find(std::string(r->key()));
          if (it != model.end() && it->second.seq <= upto) model.erase(it);
        }
        confirmed += n;
      }
      if (step % 5000 == 0) check_all(keys);
    }
    check_all(keys);
    // Drain everything: the map must end empty (and its tables shrunk).
    if (confirmed < queue.size()) {
      const uint64_t upto = queue.back()->seq;
      for (size_t i = confirmed; i < queue.size(); ++i) p.Confirm(queue[i], upto);
      confirmed = queue.size();
      model.clear();
    }
    CHECK(p.size() == 0);
    CHECK(p.bytes() == 0);
    check_all(keys);
  }
  for (WriteRecord* r : queue) r->Unref();
}

}  // namespace
}  // namespace strata
