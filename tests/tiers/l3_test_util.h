// Helpers shared by the L3 tests: a temporary directory removed afterwards,
// and opening an L3Store that must open.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "tiers/rocksdb_store.h"

namespace strata::testing {

class L3TempDir {
 public:
  L3TempDir() {
    char tmpl[] = "/tmp/strata-l3-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~L3TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::unique_ptr<L3Store> OpenL3(const L3Options& o) {
  auto s = L3Store::Open(o);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

}  // namespace strata::testing
