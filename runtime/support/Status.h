// Status and StatusOr: how every runtime library reports failure.
//
// Library code never calls exit() or throws across its API: it returns a
// Status whose message names the object at fault (a file and byte offset, a
// bundle section, a kernel, a tensor). Only the CLI turns a Status into a
// message on stderr and a non-zero exit code.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>

namespace aoarm {

class [[nodiscard]] Status {
public:
  /// The success value.
  static Status ok() { return Status(); }
  /// A failure with a message (lowercase, no trailing period, naming the
  /// object at fault and the value found versus expected).
  static Status error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    s.failed_ = true;
    return s;
  }
  template <typename... Args>
  static Status errorf(fmt::format_string<Args...> format, Args &&...args) {
    return error(fmt::format(format, std::forward<Args>(args)...));
  }

  bool isOk() const { return !failed_; }
  explicit operator bool() const { return isOk(); }
  const std::string &message() const { return message_; }

  /// Prefixes the message with context, e.g. the file being read.
  Status withContext(const std::string &context) const {
    if (isOk())
      return *this;
    return error(context + ": " + message_);
  }

private:
  bool failed_ = false;
  std::string message_;
};

/// A value or the Status that explains why there is none.
template <typename T> class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : value_(std::move(value)) {}
  StatusOr(Status status) : status_(std::move(status)) {}

  bool isOk() const { return value_.has_value(); }
  explicit operator bool() const { return isOk(); }
  const Status &status() const { return status_; }
  T &value() & { return *value_; }
  const T &value() const & { return *value_; }
  T &&value() && { return std::move(*value_); }
  T &operator*() & { return *value_; }
  const T &operator*() const & { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }

private:
  std::optional<T> value_;
  Status status_;
};

/// Returns early from the enclosing function when `expr` is an error.
#define AOARM_RETURN_IF_ERROR(expr)                                            \
  do {                                                                         \
    ::aoarm::Status aoarm_status_ = (expr);                                    \
    if (!aoarm_status_.isOk())                                                 \
      return aoarm_status_;                                                    \
  } while (0)

} // namespace aoarm
