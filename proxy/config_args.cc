// Settings and requests from the command line: --section.key=VALUE,
// --config, --check-config, --print-config, --help.
#include <optional>
#include <string>
#include <string_view>

#include "proxy/config_options.h"
#include "proxy/config_sources.h"
#include "proxy/config_text.h"

namespace strata::config_internal {
namespace {

// Walks argv once; settings are applied later, after the file and the
// environment, whatever their position.
class ArgScanner {
 public:
  ArgScanner(int argc, const char* const* argv) : argc_(argc), argv_(argv) {}

  Status Scan(CommandLine* command_line, std::vector<FlagSetting>* settings) {
    for (index_ = 1; index_ < argc_; ++index_) {
      Status status = ScanOne(argv_[index_], command_line, settings);
      if (!status.ok()) return status;
    }
    return Status::Ok();
  }

 private:
  Status ScanOne(std::string_view arg, CommandLine* command_line,
                 std::vector<FlagSetting>* settings) {
    if (arg == "-h" || arg == "--help") {
      command_line->help = true;
      return Status::Ok();
    }
    if (arg == "--print-config") {
      command_line->print_config = true;
      return Status::Ok();
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      return Status::BadArgs("unexpected argument " + Quote(arg) + " (see strata --help)");
    }
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(2, eq == std::string_view::npos ? eq : eq - 2);
    std::optional<std::string_view> value;
    if (eq != std::string_view::npos) value = arg.substr(eq + 1);
    if (name == "config" || name == "check-config") {
      return ScanConfigFile(name, value, command_line);
    }
    const Option* option = FindOption(name);
    if (option == nullptr && (name == "policy" || name.starts_with("policy."))) {
      return Status::BadArgs("flag --" + std::string(name) +
                             ": [[policy]] tables can only be set in the config file");
    }
    if (option == nullptr) {
      return Status::BadArgs("unknown flag " + std::string(arg.substr(0, eq)) +
                             " (see strata --help)");
    }
    if (!value && option->boolean && !NextIsValue()) value = "true";
    if (!value) value = TakeNext();
    if (!value) return Status::BadArgs("flag --" + std::string(name) + " needs a value");
    settings->push_back({option, std::string(*value)});
    return Status::Ok();
  }

  Status ScanConfigFile(std::string_view name, std::optional<std::string_view> value,
                        CommandLine* command_line) {
    if (!value) value = TakeNext();
    if (!value || value->empty()) {
      return Status::BadArgs("flag --" + std::string(name) + " needs a file name");
    }
    if (!command_line->config_file.empty() && command_line->config_file != *value) {
      return Status::BadArgs("two config files given (" + Quote(command_line->config_file) +
                             " and " + Quote(*value) + "); give one");
    }
    command_line->config_file = std::string(*value);
    if (name == "check-config") command_line->check_config = true;
    return Status::Ok();
  }

  // A bare boolean flag takes the next argument only if it is not a flag.
  bool NextIsValue() const { return index_ + 1 < argc_ && argv_[index_ + 1][0] != '-'; }

  std::optional<std::string_view> TakeNext() {
    if (index_ + 1 >= argc_) return std::nullopt;
    return std::string_view(argv_[++index_]);
  }

  const int argc_;
  const char* const* const argv_;
  int index_ = 1;
};

}  // namespace

Status ScanArgs(int argc, const char* const* argv, CommandLine* command_line,
                std::vector<FlagSetting>* settings) {
  return ArgScanner(argc, argv).Scan(command_line, settings);
}

Status ApplyFlags(const std::vector<FlagSetting>& settings, Config* config) {
  for (const FlagSetting& setting : settings) {
    Status status = Apply(*setting.option, RawValue::Text(setting.value), config);
    if (!status.ok()) {
      return Status::BadArgs("--" + std::string(setting.option->name) + ": " + status.message());
    }
  }
  return Status::Ok();
}

}  // namespace strata::config_internal
