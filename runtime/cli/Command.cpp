#include "runtime/cli/Command.h"

#include "runtime/support/File.h"
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

namespace {

/// Refuses a line of an orders file that is not a permutation of 0..n-1,
/// naming the column of the first position out of range or repeated.
Status checkPermutation(const std::vector<int32_t> &order,
                        const std::vector<size_t> &columns,
                        const std::string &path, int64_t line) {
  const size_t n = order.size();
  std::vector<size_t> seenAt(n, 0); // 1-based index into order, 0: unseen
  for (size_t i = 0; i < n; ++i) {
    const auto position = static_cast<size_t>(order[i]);
    if (position >= n)
      return Status::errorf("{}:{}:{}: position {} is out of range: a line of "
                            "{} positions must be a permutation of 0..{}",
                            path, line, columns[i], position, n, n - 1);
    if (seenAt[position] != 0)
      return Status::errorf("{}:{}:{}: position {} appears twice (first at "
                            "column {}): a line must be a permutation of "
                            "0..{}",
                            path, line, columns[i], position,
                            columns[seenAt[position] - 1], n - 1);
    seenAt[position] = i + 1;
  }
  return Status::ok();
}

} // namespace

StatusOr<std::vector<std::vector<int32_t>>>
readOrdersFile(const std::string &path) {
  StatusOr<std::string> text = readFileBytes(path);
  if (!text)
    return text.status();
  std::vector<std::vector<int32_t>> orders;
  std::vector<size_t> columns; // where each position of a line starts
  int64_t firstLine = 0;
  size_t start = 0;
  int64_t line = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos)
      end = text->size();
    ++line;
    std::vector<int32_t> order;
    size_t i = start;
    while (i < end) {
      while (i < end &&
             ((*text)[i] == ' ' || (*text)[i] == '\t' || (*text)[i] == '\r'))
        ++i;
      if (i == end)
        break;
      const size_t first = i;
      int64_t value = 0;
      while (i < end && (*text)[i] >= '0' && (*text)[i] <= '9' &&
             value <= (int64_t(1) << 31))
        value = value * 10 + ((*text)[i++] - '0');
      if (i == first ||
          (i < end && (*text)[i] != ' ' && (*text)[i] != '\t' &&
           (*text)[i] != '\r') ||
          value >= (int64_t(1) << 31))
        return Status::errorf("{}:{}:{}: expected a position (a non-negative "
                              "integer)",
                              path, line, first - start + 1);
      order.push_back(static_cast<int32_t>(value));
      columns.push_back(first - start + 1);
    }
    if (!order.empty()) {
      AOARM_RETURN_IF_ERROR(checkPermutation(order, columns, path, line));
      if (!orders.empty() && order.size() != orders.front().size())
        return Status::errorf("{}:{}: {} positions, but line {} has {}; every "
                              "order holds seq_len positions",
                              path, line, order.size(), firstLine,
                              orders.front().size());
      if (orders.empty())
        firstLine = line;
      orders.push_back(std::move(order));
    }
    columns.clear();
    start = end + 1;
  }
  if (orders.empty())
    return Status::errorf("{}: holds no order (one permutation of 0..L-1 "
                          "per line)",
                          path);
  return orders;
}

} // namespace aoarm::cli
