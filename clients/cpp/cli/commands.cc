#include "cli/commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/output.h"
#include "common/units.h"

namespace strata::cli {
namespace {

void PrintValue(const std::optional<std::string>& v, bool tty, bool newline_on_pipe) {
  if (tty) {
    std::cout << (v ? Escape(*v) : std::string("(nil)")) << '\n';
  } else {
    if (v) std::cout.write(v->data(), static_cast<std::streamsize>(v->size()));
    if (newline_on_pipe) std::cout << '\n';
  }
}

StatusOr<std::string> ReadAll(std::istream& in, const std::string& what) {
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::BadArgs("cannot read " + what);
  return ss.str();
}

StatusOr<std::string> SetValue(const Args& a) {
  if (!a.value_file.empty()) {
    if (a.args.size() != 1) return Status::BadArgs("set KEY --value-file F takes no VALUE");
    std::ifstream f(a.value_file, std::ios::binary);
    if (!f) return Status::BadArgs("cannot open " + a.value_file);
    return ReadAll(f, a.value_file);
  }
  if (a.args.size() != 2) return Status::BadArgs("set takes KEY VALUE (or - for stdin)");
  if (a.args[1] == "-") return ReadAll(std::cin, "stdin");
  return a.args[1];
}

Status Arity(const Args& a, size_t min, size_t max) {
  if (a.args.size() < min || a.args.size() > max) {
    return Status::BadArgs(a.command + ": wrong number of arguments (see --help)");
  }
  return Status::Ok();
}

}  // namespace

bool KnownCommand(const std::string& c) {
  for (const char* k : {"get", "set", "del", "mget", "ttl", "expire", "exists", "stats", "ping"}) {
    if (c == k) return true;
  }
  return false;
}

int Fail(const Status& s) {
  std::cerr << "strata-cli: " << s.ToString() << '\n';
  return 2;
}

int RunCommand(client::Client& c, const Args& a, bool tty) {
  const std::string& cmd = a.command;
  constexpr size_t kMany = static_cast<size_t>(-1);
  if (cmd == "get") {
    if (Status s = Arity(a, 1, 1); !s.ok()) return Fail(s);
    auto v = c.Get(a.args[0]);
    if (!v.ok()) return Fail(v.status());
    PrintValue(*v, tty, false);
    return 0;
  }
  if (cmd == "set") {
    if (Status s = Arity(a, 1, 2); !s.ok()) return Fail(s);
    StatusOr<std::string> value = SetValue(a);
    if (!value.ok()) return Fail(value.status());
    client::SetOptions o;
    o.ttl_ms = a.ttl_ms;
    o.nx = a.nx;
    o.xx = a.xx;
    auto r = c.Set(a.args[0], *value, o);
    if (!r.ok()) return Fail(r.status());
    std::cout << (*r ? "OK" : "(not set)") << '\n';
    return *r ? 0 : 1;
  }
  if (cmd == "del") {
    if (Status s = Arity(a, 1, kMany); !s.ok()) return Fail(s);
    if (Status s = c.Del(a.args); !s.ok()) return Fail(s);
    std::cout << "OK\n";
    return 0;
  }
  if (cmd == "mget") {
    if (Status s = Arity(a, 1, kMany); !s.ok()) return Fail(s);
    auto v = c.MGet(a.args);
    if (!v.ok()) return Fail(v.status());
    for (const auto& e : *v) PrintValue(e, tty, true);
    return 0;
  }
  if (cmd == "ttl") {
    if (Status s = Arity(a, 1, 1); !s.ok()) return Fail(s);
    auto v = c.Ttl(a.args[0]);
    if (!v.ok()) return Fail(v.status());
    std::cout << *v << '\n';
    return 0;
  }
  if (cmd == "expire") {
    if (Status s = Arity(a, 2, 2); !s.ok()) return Fail(s);
    StatusOr<int64_t> ms = ParseDuration(a.args[1]);
    if (!ms.ok()) return Fail(Status::BadArgs("expire TTL: " + ms.status().message()));
    auto v = c.Expire(a.args[0], *ms);
    if (!v.ok()) return Fail(v.status());
    std::cout << (*v ? 1 : 0) << '\n';
    return 0;
  }
  if (cmd == "exists") {
    if (Status s = Arity(a, 1, kMany); !s.ok()) return Fail(s);
    auto v = c.Exists(a.args);
    if (!v.ok()) return Fail(v.status());
    std::cout << *v << '\n';
    return 0;
  }
  if (cmd == "stats") {
    if (Status s = Arity(a, 0, 0); !s.ok()) return Fail(s);
    auto v = c.Stats();
    if (!v.ok()) return Fail(v.status());
    std::cout << FormatStats(*v);
    return 0;
  }
  if (cmd == "ping") {
    if (Status s = Arity(a, 0, 0); !s.ok()) return Fail(s);
    if (Status s = c.Ping(); !s.ok()) return Fail(s);
    std::cout << "pong\n";
    return 0;
  }
  return Fail(Status::BadArgs("unknown command \"" + cmd + "\" (see --help)"));
}

}  // namespace strata::cli
