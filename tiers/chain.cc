#include "tiers/chain.h"

#include <string>
#include <utility>

namespace strata {

Chain::Chain(std::vector<Tier*> tiers, const ChainOptions& options)
    : tiers_(std::move(tiers)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : SystemClock::Default()) {}

void Chain::Get(std::string_view key, GetCallback done) { GetFrom(0, key, std::move(done)); }

void Chain::GetFrom(size_t i, std::string_view key, GetCallback done) {
  if (i + 1 == tiers_.size()) {
    tiers_[i]->Get(key, std::move(done));
    return;
  }
  tiers_[i]->Get(key, [this, i, k = std::string(key), done = std::move(done)](const GetResult& r) {
    if (r.status.ok() && !r.found) {
      GetFrom(i + 1, k, [this, i, k, done](const GetResult& lower) {
        if (lower.status.ok() && lower.found) Fill(i + 1, k, lower);
        done(lower);
      });
      return;
    }
    done(r);  // a hit, or this tier failed: report it rather than guess
  });
}

void Chain::Fill(size_t above, std::string_view key, const GetResult& hit) {
  int64_t now = clock_->NowMs();
  for (size_t j = 0; j < above; ++j) {
    WriteOptions o;
    o.expire_at_ms = hit.expire_at_ms;
    if (j == 0 && options_.l1_max_ttl_ms > 0) {
      int64_t cap = now + options_.l1_max_ttl_ms;
      if (o.expire_at_ms == 0 || o.expire_at_ms > cap) o.expire_at_ms = cap;
    }
    tiers_[j]->Set(key, hit.value, o, [](const WriteResult&) {});
  }
}

void Chain::Set(std::string_view key, std::string_view value, const WriteOptions& options,
                WriteMode mode, WriteCallback done) {
  size_t first = mode == WriteMode::kAround ? 1 : 0;
  if (first >= tiers_.size()) {
    WriteResult r;
    r.status = Status::Unavailable("write \"around\" skips L1, and no tier below L1 is configured");
    done(r);
    return;
  }
  SetFrom(first, key, value, options, std::move(done));
}

void Chain::SetFrom(size_t i, std::string_view key, std::string_view value,
                    const WriteOptions& options, WriteCallback done) {
  if (i + 1 == tiers_.size()) {
    tiers_[i]->Set(key, value, options, std::move(done));
    return;
  }
  // The condition (nx/xx) is decided by the first tier written; the tiers
  // below then take the write unconditionally.
  tiers_[i]->Set(key, value, options,
                 [this, i, k = std::string(key), v = std::string(value), options,
                  done = std::move(done)](const WriteResult& r) {
                   if (!r.status.ok() || !r.applied) {
                     done(r);
                     return;
                   }
                   WriteOptions rest = options;
                   rest.condition = WriteCondition::kAlways;
                   SetFrom(i + 1, k, v, rest, done);
                 });
}

void Chain::Delete(std::string_view key, WriteCallback done) {
  DeleteFrom(0, key, false, std::move(done));
}

void Chain::DeleteFrom(size_t i, std::string_view key, bool existed, WriteCallback done) {
  if (i + 1 == tiers_.size()) {
    tiers_[i]->Delete(key, [existed, done = std::move(done)](const WriteResult& r) {
      WriteResult out = r;
      out.applied = r.applied || existed;
      done(out);
    });
    return;
  }
  tiers_[i]->Delete(key, [this, i, existed, k = std::string(key),
                          done = std::move(done)](const WriteResult& r) {
    if (!r.status.ok()) {
      done(r);
      return;
    }
    DeleteFrom(i + 1, k, existed || r.applied, done);
  });
}

void Chain::Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) {
  ExpireFrom(0, key, expire_at_ms, false, std::move(done));
}

void Chain::ExpireFrom(size_t i, std::string_view key, int64_t expire_at_ms, bool existed,
                       WriteCallback done) {
  if (i + 1 == tiers_.size()) {
    tiers_[i]->Expire(key, expire_at_ms, [existed, done = std::move(done)](const WriteResult& r) {
      WriteResult out = r;
      out.applied = r.applied || existed;
      done(out);
    });
    return;
  }
  tiers_[i]->Expire(key, expire_at_ms,
                    [this, i, expire_at_ms, existed, k = std::string(key),
                     done = std::move(done)](const WriteResult& r) {
                      if (!r.status.ok()) {
                        done(r);
                        return;
                      }
                      ExpireFrom(i + 1, k, expire_at_ms, existed || r.applied, done);
                    });
}

void Chain::Ttl(std::string_view key, TtlCallback done) {
  // The fastest tier that knows the key answers; with one tier, it answers.
  if (tiers_.size() == 1) {
    tiers_[0]->Ttl(key, std::move(done));
    return;
  }
  tiers_[0]->Ttl(key, [this, k = std::string(key), done = std::move(done)](const TtlResult& r) {
    if (!r.status.ok() || r.ttl_ms != -2) {
      done(r);
      return;
    }
    tiers_[1]->Ttl(k, done);
  });
}

}  // namespace strata
