// [[policy]] tables: parsing, validation and --print-config.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "proxy/config.h"
#include "tests/proxy/config_test_util.h"

namespace strata {
namespace {

using namespace config_test;  // NOLINT: test helpers

PolicyConfig MakePolicy(std::string prefix, std::vector<std::string> tiers = {},
                        std::string write = "default", int64_t default_ttl_ms = 0,
                        int64_t max_ttl_ms = 0) {
  PolicyConfig policy;
  policy.prefix = std::move(prefix);
  policy.tiers = std::move(tiers);
  policy.write = std::move(write);
  policy.default_ttl_ms = default_ttl_ms;
  policy.max_ttl_ms = max_ttl_ms;
  return policy;
}

TEST_CASE("[[policy]]: parsing, defaults and replacement", "[config][policy]") {
  const Config config = TomlOk(R"(
[l2]
mode = "standalone"
endpoints = ["redis://127.0.0.1:6379"]

[[policy]]
prefix = "emb:"
tiers = ["l1", "l2"]
write = "through"
default_ttl = "1h"
max_ttl = "24h"

[[policy]]
prefix = "tmp:"
)");
  REQUIRE(config.policies.size() == 2);
  const PolicyConfig& emb = config.policies[0];
  CHECK(emb.prefix == "emb:");
  CHECK(emb.tiers == std::vector<std::string>{"l1", "l2"});
  CHECK(emb.write == "through");
  CHECK(emb.default_ttl_ms == 3'600'000);
  CHECK(emb.max_ttl_ms == 86'400'000);
  const PolicyConfig& tmp = config.policies[1];
  CHECK(tmp.prefix == "tmp:");
  CHECK(tmp.tiers.empty());
  CHECK(tmp.write == "default");
  CHECK(tmp.default_ttl_ms == 0);
  CHECK(tmp.max_ttl_ms == 0);
  CHECK(Validate(config).ok());

  // Same units as other durations; integers are milliseconds; modes ignore case.
  const Config units = TomlOk(
      "[[policy]]\nprefix = \"a\"\ndefault_ttl = 1500\nmax_ttl = \"5m\"\n"
      "write = \"AROUND\"\n");
  CHECK(units.policies[0].default_ttl_ms == 1500);
  CHECK(units.policies[0].max_ttl_ms == 300'000);
  CHECK(units.policies[0].write == "around");
  // Inline tables are tables too.
  CHECK(TomlOk("policy = [{prefix = \"x:\"}, {prefix = \"y:\"}]").policies.size() == 2);

  // A document with policies replaces earlier ones; one without keeps them.
  Config layered = TomlOk("[[policy]]\nprefix = \"old:\"\n");
  REQUIRE(ApplyToml("[log]\nlevel = \"warn\"\n", "t", &layered).ok());
  CHECK(layered.policies.size() == 1);
  REQUIRE(ApplyToml("[[policy]]\nprefix = \"new:\"\n", "t", &layered).ok());
  REQUIRE(layered.policies.size() == 1);
  CHECK(layered.policies[0].prefix == "new:");

  // From a file through ParseCommandLine, validated.
  TempFile file("[[policy]]\nprefix = \"s:\"\nwrite = \"behind\"\n");
  const Config parsed = ParseOk({"--config", file.path()});
  REQUIRE(parsed.policies.size() == 1);
  CHECK(parsed.policies[0].write == "behind");
}

TEST_CASE("[[policy]]: bad keys and values are errors with a location", "[config][policy]") {
  const std::string unknown = TomlError(
      "[[policy]]\nprefix = \"a\"\n\n[[policy]]\nprefix = \"b\"\n"
      "foo = 1\n");
  CHECK_THAT(unknown, Catch::StartsWith("test.toml:6:"));
  CHECK_THAT(unknown, Catch::Contains("policy[1].foo: unknown key (keys in [[policy]]: prefix, "
                                      "tiers, write, default_ttl, max_ttl)"));
  CHECK_THAT(TomlError("[[policy]]\nprefix = \"a\"\nwrite = \"sometimes\"\n"),
             Catch::Contains("invalid value \"sometimes\" for policy[0].write: expected one of "
                             "default, behind, through, around"));
  CHECK_THAT(TomlError("[[policy]]\nprefix = \"a\"\nmax_ttl = \"1w\"\n"),
             Catch::Contains("invalid value \"1w\" for policy[0].max_ttl: expected a duration"));
  CHECK_THAT(TomlError("[[policy]]\nprefix = \"a\"\ndefault_ttl = -1\n"),
             Catch::Contains("invalid value -1 for policy[0].default_ttl"));
  CHECK_THAT(TomlError("[[policy]]\nprefix = \"a\"\ntiers = \"l1,l2\"\n"),
             Catch::Contains("invalid value \"l1,l2\" for policy[0].tiers: expected a list of "
                             "strings"));
  CHECK_THAT(TomlError("[[policy]]\nprefix = \"a\"\ntiers = [1]\n"),
             Catch::Contains("for policy[0].tiers: expected a list of strings"));
  CHECK_THAT(TomlError("[[policy]]\nprefix = 7\n"),
             Catch::Contains("invalid value 7 for policy[0].prefix: expected a string"));
  CHECK_THAT(TomlError("[policy]\nprefix = \"a\"\n"),
             Catch::Contains("policy must be an array of tables: write [[policy]]"));
  CHECK_THAT(TomlError("policy = [1]"), Catch::Contains("policy[0] must be a table"));
  // A bad policy leaves the config untouched, like any bad file.
  Config config;
  config.policies.push_back(MakePolicy("keep:"));
  REQUIRE_FALSE(ApplyToml("[[policy]]\nprefix = \"a\"\nbar = 1\n", "t", &config).ok());
  REQUIRE(config.policies.size() == 1);
  CHECK(config.policies[0].prefix == "keep:");
}

TEST_CASE("[[policy]]: only the file sets policies", "[config][policy]") {
  CHECK_THAT(FlagError("--policy.prefix=a"),
             Catch::Contains("--policy.prefix: [[policy]] tables can only be set in the config "
                             "file"));
  CHECK_THAT(ParseError({}, {"STRATA_POLICY_PREFIX=a"}),
             Catch::Contains("STRATA_POLICY_PREFIX: [[policy]] tables can only be set in the "
                             "config file"));
  const std::string help = HelpText();
  CHECK_THAT(help, Catch::Contains("[[policy]] tables; only in the TOML file"));
  for (const char* key : {"prefix = TEXT", "tiers = ", "write = default|behind|through|around",
                          "default_ttl = DURATION", "max_ttl = DURATION"}) {
    CHECK_THAT(help, Catch::Contains(std::string("\n  ") + key));
  }
  CHECK_THAT(help, Catch::Contains("default \"default\""));
}

Config WithPolicy(PolicyConfig policy) {
  Config config;
  config.policies.push_back(std::move(policy));
  return config;
}

std::string PolicyError(const Config& config) {
  Status status = Validate(config);
  REQUIRE_FALSE(status.ok());
  return status.message();
}

TEST_CASE("Validate: [[policy]] rules name the policy and key", "[config][policy]") {
  CHECK_THAT(PolicyError(WithPolicy(MakePolicy(""))),
             Catch::Contains("policy[0].prefix is required and must not be empty"));

  Config repeated;
  repeated.policies = {MakePolicy("emb:"), MakePolicy("tmp:"), MakePolicy("emb:")};
  CHECK_THAT(PolicyError(repeated), Catch::Contains("policy[2].prefix \"emb:\" repeats policy[0]"));

  CHECK_THAT(PolicyError(WithPolicy(MakePolicy("a", {"l1", "l4"}))),
             Catch::Contains("policy[0].tiers: unknown tier \"l4\" (tiers: l1, l2, l3)"));
  CHECK_THAT(PolicyError(WithPolicy(MakePolicy("a", {"l1", "l1"}))),
             Catch::Contains("policy[0].tiers lists \"l1\" twice"));
  CHECK_THAT(PolicyError(WithPolicy(MakePolicy("a", {"l3", "l1"}))),
             Catch::Contains("policy[0].tiers must be in the order l1, l2, l3, not "
                             "[\"l3\", \"l1\"]"));
  CHECK_THAT(PolicyError(WithPolicy(MakePolicy("a", {"l1", "l2"}))),
             Catch::Contains("policy[0].tiers includes \"l2\" but l2.mode is off"));
  Config no_l3 = WithPolicy(MakePolicy("a", {"l3"}));
  no_l3.l3.enabled = false;
  CHECK_THAT(PolicyError(no_l3),
             Catch::Contains("policy[0].tiers includes \"l3\" but l3.enabled is false"));
  CHECK_THAT(PolicyError(WithPolicy(MakePolicy("a", {}, "never"))),
             Catch::Contains("policy[0].write must be one of default, behind, through, around, "
                             "not \"never\""));
  CHECK_THAT(PolicyError(WithPolicy(MakePolicy("a", {}, "default", 3'600'000, 60'000))),
             Catch::Contains("policy[0].max_ttl (1m) must be at least policy[0].default_ttl (1h)"));
  CHECK_THAT(PolicyError(WithPolicy(MakePolicy("a", {}, "default", 0, -1))),
             Catch::Contains("policy[0].max_ttl must not be negative"));

  // "around" needs a tier below L1 in the effective list.
  CHECK_THAT(PolicyError(WithPolicy(MakePolicy("a", {"l1"}, "around"))),
             Catch::Contains("policy[0].write \"around\" skips l1 and needs a tier below it, but "
                             "its tiers are [\"l1\"]"));
  Config only_l1 = WithPolicy(MakePolicy("a", {}, "around"));
  only_l1.l3.enabled = false;
  CHECK_THAT(PolicyError(only_l1), Catch::Contains("but the configured tiers are [\"l1\"]"));

  // Valid: defaults (every configured tier = l1, l3), around with l3, each TTL alone.
  CHECK(Validate(WithPolicy(MakePolicy("a", {}, "around"))).ok());
  CHECK(Validate(WithPolicy(MakePolicy("a", {"l3"}, "around"))).ok());
  CHECK(Validate(WithPolicy(MakePolicy("a", {}, "default", 5000))).ok());
  CHECK(Validate(WithPolicy(MakePolicy("a", {}, "default", 0, 5000))).ok());
  CHECK(Validate(WithPolicy(MakePolicy("a", {}, "default", 5000, 5000))).ok());
  Config nested;
  nested.policies = {MakePolicy("emb:"), MakePolicy("emb:v2:")};  // longest prefix wins later
  CHECK(Validate(nested).ok());
}

TEST_CASE("print-config round-trips two policies", "[config][policy]") {
  TempFile file(R"(
[l2]
mode = "sharded"
endpoints = ["redis://a:6379", "redis://b:6379"]

[[policy]]
prefix = "emb:"
tiers = ["l1", "l2"]
write = "through"
default_ttl = "1h"
max_ttl = "24h"

[[policy]]
prefix = "sess \"quoted\":"
tiers = ["l2", "l3"]
write = "around"
max_ttl = 90000
)");
  const Config parsed = ParseOk({"--config", file.path()});
  const std::string text = ToToml(parsed);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("\n[[policy]]\nprefix = \"emb:\"\ntiers = [\"l1\", \"l2\"]\n"
                                   "write = \"through\"\ndefault_ttl = \"1h\"\n"
                                   "max_ttl = \"1d\"\n"));
  CHECK_THAT(text, Catch::Contains("prefix = \"sess \\\"quoted\\\":\"\n"));
  CHECK_THAT(text, Catch::Contains("max_ttl = \"90s\"\n"));

  Config reread;
  REQUIRE(ApplyToml(text, "print-config", &reread).ok());
  CHECK(ToToml(reread) == text);
  CHECK(Validate(reread).ok());
  REQUIRE(reread.policies.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    INFO(i);
    CHECK(reread.policies[i].prefix == parsed.policies[i].prefix);
    CHECK(reread.policies[i].tiers == parsed.policies[i].tiers);
    CHECK(reread.policies[i].write == parsed.policies[i].write);
    CHECK(reread.policies[i].default_ttl_ms == parsed.policies[i].default_ttl_ms);
    CHECK(reread.policies[i].max_ttl_ms == parsed.policies[i].max_ttl_ms);
  }
  CHECK(reread.policies[1].prefix == "sess \"quoted\":");
  CHECK(reread.policies[1].max_ttl_ms == 90'000);
  // No policies, no [[policy]] tables.
  CHECK_THAT(ToToml(Config{}), !Catch::Contains("[[policy]]"));
}

}  // namespace
}  // namespace strata
