#include "runtime/cli/Command.h"

#include "runtime/train/Trainer.h"

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

void addDeviceFlag(CLI::App *command, std::string &device) {
  command
      ->add_option("--device", device,
                   "auto: the GPU when there is one and the bundle has its "
                   "kernels, else the CPU (saying why); cpu; cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
}

void addOrderChoiceFlag(CLI::App *command, std::string &order,
                        const std::string &help) {
  command->add_option("--order", order, help)
      ->check(CLI::IsMember({orderChoiceName(OrderChoice::Random),
                             orderChoiceName(OrderChoice::LeftToRight)}))
      ->capture_default_str();
}

} // namespace aoarm::cli
