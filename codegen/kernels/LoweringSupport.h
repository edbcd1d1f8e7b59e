// What both halves of the kernel library's lowering share
// (PointwiseKernels.cpp, DenseKernels.cpp): the checks of a request with
// their "<kernel>: <what>" messages, shape text, launch dimensions, and the
// way a double reaches a template argument.
#pragma once

#include "codegen/kernels/KernelLibrary.h"

#include <optional>
#include <string>

namespace aoarm::kernels {

/// "[B, 16, 64] f32".
std::string shapeText(const TensorInfo &t);

/// "0x3ee4f8b588e368f1ULL": the IEEE-754 bits of a double, which is how the
/// .cuh files take eps and the rope base as template arguments (C++17 has
/// no floating-point template parameters; the bits carry it exactly).
std::string doubleBits(double value);

/// A grid dimension of n / divisor blocks, or of perBatch * B / divisor.
inline LaunchDim staticDim(int64_t n, int64_t divisor) {
  return {0, n, divisor};
}
inline LaunchDim batchDim(int64_t perBatch, int64_t divisor) {
  return {perBatch, 0, divisor};
}

/// Checks one request; every failure sets the error to "<kernel>: <what>".
class RequestCheck {
public:
  RequestCheck(const KernelRequest &request, std::string *error)
      : request_(request), error_(error) {}

  const KernelRequest &request() const { return request_; }

  /// Sets the error; returns nullopt for `return fail(...)`.
  std::nullopt_t fail(const std::string &what) const;

  /// The request has exactly these many inputs and outputs.
  bool counts(size_t inputs, size_t outputs) const;

  /// An integer attribute in [lo, INT_MAX].
  std::optional<int64_t> intAttr(const std::string &name, int64_t lo) const;

  /// A finite double attribute > 0.
  std::optional<double> positiveRealAttr(const std::string &name) const;

private:
  const KernelRequest &request_;
  std::string *error_;
};

} // namespace aoarm::kernels
