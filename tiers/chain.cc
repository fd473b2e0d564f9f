#include "tiers/chain.h"

#include <string>
#include <utility>

#include "common/cycle_clock.h"

namespace strata {

Chain::Chain(std::vector<Tier*> tiers, const ChainOptions& options)
    : tiers_(std::move(tiers)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : SystemClock::Default()) {}

// ---------------------------------------------------------------- reads

void Chain::Get(std::string_view key, GetCallback done) {
  if (tiers_.size() == 1) {
    TierMetrics* m = options_.metrics.empty() ? nullptr : options_.metrics[0];
    if (m == nullptr) {
      tiers_[0]->Get(key, std::move(done));
      return;
    }
    if (tiers_[0]->AnswersInline()) {
      // Borrowing the stack is safe: the tier answers before Get returns,
      // and one pointer fits std::function's inline storage (no allocation).
      struct Frame {
        TierMetrics* m;
        GetCallback* done;
        uint64_t t0;
      } f{m, &done, CycleClock::Now()};
      tiers_[0]->Get(key, [fp = &f](const GetResult& r) {
        fp->m->get_latency.Record(CycleClock::ToNs(fp->t0, CycleClock::Now()));
        if (!r.status.ok()) fp->m->errors.Add();
        else if (r.found) fp->m->hits.Add();
        else fp->m->misses.Add();
        (*fp->done)(r);
      });
      return;
    }
  }
  GetFrom(0, key, false, false, 0, std::move(done));
}

void Chain::GetFrom(size_t i, std::string_view key, bool answered, bool failed,
                    uint64_t token, GetCallback done) {
  bool last = i + 1 == tiers_.size();
  TierMetrics* m = i < options_.metrics.size() ? options_.metrics[i] : nullptr;
  const uint64_t t0 = m != nullptr ? CycleClock::Now() : 0;
  tiers_[i]->Get(key, [this, i, last, answered, failed, token, m, t0, k = std::string(key),
                       done = std::move(done)](const GetResult& r) {
    if (m != nullptr) {
      m->get_latency.Record(CycleClock::ToNs(t0, CycleClock::Now()));
      if (!r.status.ok()) m->errors.Add();
      else if (r.found) m->hits.Add();
      else m->misses.Add();
    }
    if (r.status.ok() && r.found) {
      if (i > 0 && r.fillable) Fill(i, k, r, token);
      done(r);
      return;
    }
    if (r.status.ok() && r.negative) {
      done(GetResult{});  // known absent below: a miss, without asking
      return;
    }
    if (!last) {
      GetFrom(i + 1, k, answered || r.status.ok(), failed || !r.status.ok(),
              i == 0 ? r.fill_token : token, done);
      return;
    }
    if (r.status.ok()) {
      // Every tier answered or was skipped; remember the miss only if none
      // failed (a failed tier may well have the key).
      if (!failed && options_.negative_ttl_ms > 0 && r.fillable) RememberMissing(k, token);
      done(r);
    } else if (answered) {
      done(GetResult{});  // the tiers that could answer said "miss"
    } else {
      done(r);
    }
  });
}

void Chain::Fill(size_t above, std::string_view key, const GetResult& hit, uint64_t token) {
  int64_t now = clock_->NowMs();
  auto cap = [now](int64_t at, int64_t max_ttl) {
    if (max_ttl <= 0) return at;
    int64_t limit = now + max_ttl;
    return at == 0 || at > limit ? limit : at;
  };
  for (size_t j = 0; j < above; ++j) {
    WriteOptions o;
    o.expire_at_ms = cap(hit.expire_at_ms, options_.max_ttl_ms);
    o.condition = WriteCondition::kIfAbsent;  // never overwrite a newer write
    if (j == 0) {
      o.fill_token = token;  // nor bring back a deleted value
      o.expire_at_ms = cap(o.expire_at_ms, options_.l1_max_ttl_ms);
    }
    tiers_[j]->Set(key, hit.value, o, [](const WriteResult&) {});
  }
}

void Chain::RememberMissing(std::string_view key, uint64_t token) {
  // Only a tier chain that answered in full gets here, so "every tier
  // answered and none has it": safe to remember in the first tier. kIfAbsent
  // keeps a value written meanwhile.
  WriteOptions o;
  o.negative = true;
  o.condition = WriteCondition::kIfAbsent;
  o.fill_token = token;
  o.expire_at_ms = clock_->NowMs() + options_.negative_ttl_ms;
  tiers_[0]->Set(key, {}, o, [](const WriteResult&) {});
}

void Chain::Ttl(std::string_view key, TtlCallback done) {
  // The fastest tier that knows the key answers; with one tier, it answers.
  if (tiers_.size() == 1) {
    tiers_[0]->Ttl(key, std::move(done));
    return;
  }
  TtlFrom(0, key, false, std::move(done));
}

void Chain::TtlFrom(size_t i, std::string_view key, bool answered, TtlCallback done) {
  bool last = i + 1 == tiers_.size();
  tiers_[i]->Ttl(key, [this, i, last, answered, k = std::string(key),
                       done = std::move(done)](const TtlResult& r) {
    if (r.status.ok() && r.ttl_ms != -2) {
      done(r);
      return;
    }
    if (!last) {
      TtlFrom(i + 1, k, answered || r.status.ok(), done);
      return;
    }
    if (!r.status.ok() && answered) {
      done(TtlResult{});  // -2: the tiers that could answer do not have it
      return;
    }
    done(r);
  });
}

// ---------------------------------------------------------------- writes

void Chain::Set(std::string_view key, std::string_view value, const WriteOptions& options,
                WriteMode mode, WriteCallback done) {
  size_t first = mode == WriteMode::kAround ? 1 : 0;
  if (first >= tiers_.size()) {
    WriteResult r;
    r.status = Status::Unavailable("write \"around\" skips L1, and no tier below L1 is configured");
    done(r);
    return;
  }
  if (tiers_.size() == 1) {
    tiers_[0]->Set(key, value, options, std::move(done));
    return;
  }
  if (first == 1) Invalidate(0, 1, key);
  SetFrom(tiers_.size() - 1, first, key, value, options, std::move(done));
}

void Chain::SetFrom(size_t i, size_t first, std::string_view key, std::string_view value,
                    const WriteOptions& options, WriteCallback done) {
  if (i == first) {
    if (i == 0) {
      tiers_[0]->Set(key, value, options, std::move(done));
      return;
    }
    tiers_[i]->Set(key, value, options,
                   [this, i, k = std::string(key), done = std::move(done)](const WriteResult& r) {
                     if (!r.status.ok()) Invalidate(0, i, k);
                     done(r);
                   });
    return;
  }
  // The slowest tier decides nx/xx; the faster ones then take the write
  // unconditionally.
  tiers_[i]->Set(key, value, options,
                 [this, i, first, k = std::string(key), v = std::string(value), options,
                  done = std::move(done)](const WriteResult& r) {
                   if (!r.status.ok()) {
                     Invalidate(0, i, k);
                     done(r);
                     return;
                   }
                   if (!r.applied) {
                     done(r);
                     return;
                   }
                   WriteOptions rest = options;
                   rest.condition = WriteCondition::kAlways;
                   SetFrom(i - 1, first, k, v, rest, done);
                 });
}

void Chain::Invalidate(size_t first, size_t end, std::string_view key) {
  for (size_t j = first; j < end; ++j) tiers_[j]->Delete(key, [](const WriteResult&) {});
}

void Chain::Delete(std::string_view key, WriteCallback done) {
  DeleteFrom(0, key, false, std::move(done));
}

void Chain::DeleteFrom(size_t i, std::string_view key, bool existed, WriteCallback done) {
  if (i + 1 == tiers_.size()) {
    if (i == 0) {
      tiers_[0]->Delete(key, std::move(done));
      return;
    }
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
    if (i == 0) {
      tiers_[0]->Expire(key, expire_at_ms, std::move(done));
      return;
    }
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

}  // namespace strata
