#include "runtime/cli/Command.h"

#include <fmt/core.h>

#include <cstdio>

namespace aoarm::cli {

void Runner::bind(CLI::App *command, std::string name,
                  std::function<Status()> action) {
  command->callback([this, name = std::move(name), action = std::move(action)] {
    Status status = action();
    if (!status.isOk()) {
      fmt::print(stderr, "aoarm {}: error: {}\n", name, status.message());
      exitCode_ = 1;
    }
  });
}

} // namespace aoarm::cli
