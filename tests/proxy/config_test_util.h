// Shared helpers for the config tests: temp TOML files and parse wrappers.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "proxy/config.h"

namespace strata::config_test {

// A TOML file in /tmp for the life of one test.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/strata_config_test_XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    path_ = name;
    REQUIRE(write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
    close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// argv and envp as ParseCommandLine receives them from main.
inline StatusOr<CommandLine> Parse(std::vector<std::string> args, std::vector<std::string> env = {}) {
  std::vector<const char*> argv = {"strata"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> envp;
  for (const std::string& var : env) envp.push_back(var.c_str());
  envp.push_back(nullptr);
  return ParseCommandLine(static_cast<int>(argv.size() - 1), argv.data(), envp.data());
}

inline Config ParseOk(std::vector<std::string> args, std::vector<std::string> env = {}) {
  StatusOr<CommandLine> parsed = Parse(std::move(args), std::move(env));
  INFO(parsed.status().ToString());
  REQUIRE(parsed.ok());
  return parsed->config;
}

inline std::string ParseError(std::vector<std::string> args, std::vector<std::string> env = {}) {
  StatusOr<CommandLine> parsed = Parse(std::move(args), std::move(env));
  REQUIRE_FALSE(parsed.ok());
  return parsed.status().message();
}

inline Config TomlOk(std::string_view text) {
  Config config;
  Status status = ApplyToml(text, "test.toml", &config);
  INFO(status.ToString());
  REQUIRE(status.ok());
  return config;
}

inline std::string TomlError(std::string_view text) {
  Config config;
  Status status = ApplyToml(text, "test.toml", &config);
  REQUIRE_FALSE(status.ok());
  return status.message();
}

inline std::string FlagError(const std::string& flag) { return ParseError({flag}); }

}  // namespace strata::config_test
