// What the two runKernelCase backends share (KernelHarness.h): host
// tensors, random fills, the checks before a run and the comparison.
#include "tests/unit/cudaemu/KernelHarness.h"

#include "runtime/checkpoint/Safetensors.h" // floatToBFloat16

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

namespace aoarm::kerneltest {

using namespace aoarm::kernels;

HostTensor makeTensor(const TensorInfo &info, int batch) {
  HostTensor t;
  t.info = info;
  const int64_t n = info.elements(batch);
  if (info.isInt)
    t.i.assign(n, std::numeric_limits<int32_t>::min());
  else
    t.f.assign(n, std::numeric_limits<float>::quiet_NaN());
  if (info.bf16)
    t.h.assign(n, floatToBFloat16(std::numeric_limits<float>::quiet_NaN()));
  return t;
}

void packBf16(HostTensor &t) {
  if (t.info.isInt || !t.info.bf16)
    return;
  t.h.resize(t.f.size());
  for (size_t k = 0; k < t.f.size(); ++k) {
    t.h[k] = floatToBFloat16(t.f[k]);
    t.f[k] = bfloat16ToFloat(t.h[k]);
  }
}

void unpackBf16(HostTensor &t) {
  if (t.info.isInt || !t.info.bf16)
    return;
  for (size_t k = 0; k < t.h.size(); ++k)
    t.f[k] = bfloat16ToFloat(t.h[k]);
}

void fillUniform(HostTensor &t, std::mt19937 &rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float &x : t.f) {
    do
      x = t.info.bf16 ? bfloat16ToFloat(floatToBFloat16(dist(rng))) : dist(rng);
    while (x == 0.0f);
  }
}

void fillInts(HostTensor &t, std::mt19937 &rng, int n) {
  std::uniform_int_distribution<int> dist(0, n - 1);
  for (int32_t &x : t.i)
    x = dist(rng);
}

void fillPermutations(HostTensor &t, std::mt19937 &rng) {
  const int64_t length = t.info.shape.back();
  for (size_t row = 0; row + length <= t.i.size(); row += length) {
    std::iota(t.i.begin() + row, t.i.begin() + row + length, 0);
    std::shuffle(t.i.begin() + row, t.i.begin() + row + length, rng);
  }
}

std::optional<Lowered> prepareKernelCase(const KernelRequest &request,
                                         int batch,
                                         std::vector<HostTensor> &inputs,
                                         std::vector<HostTensor> &outputs,
                                         std::string *error) {
  std::optional<Lowered> lowered = lowerKernel(request, error);
  if (!lowered)
    return std::nullopt;
  if (inputs.size() != request.inputs.size()) {
    *error = "the case gives " + std::to_string(inputs.size()) +
             " inputs, the request has " +
             std::to_string(request.inputs.size());
    return std::nullopt;
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].info.elements(batch) !=
        static_cast<int64_t>(inputs[i].info.isInt ? inputs[i].i.size()
                                                  : inputs[i].f.size())) {
      *error = "input " + std::to_string(i) + " is not sized for the batch";
      return std::nullopt;
    }
  for (HostTensor &t : inputs)
    packBf16(t);
  outputs.clear();
  for (const TensorInfo &info : request.outputs)
    outputs.push_back(makeTensor(info, batch));
  return lowered;
}

void finishKernelCase(std::vector<HostTensor> &inputs,
                      std::vector<HostTensor> &outputs) {
  for (HostTensor &t : inputs)
    unpackBf16(t);
  for (HostTensor &t : outputs)
    unpackBf16(t);
}

::testing::AssertionResult expectClose(const std::vector<float> &got,
                                       const std::vector<double> &want,
                                       double atol, double rtol,
                                       const std::string &what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << what << ": " << got.size() << " elements, expected "
           << want.size();
  double maxAbs = 0, maxRel = 0;
  size_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    const bool ok = err <= atol + rtol * std::fabs(want[i]); // NaN fails
    if (!std::isnan(err)) {
      maxAbs = std::max(maxAbs, err);
      if (want[i] != 0)
        maxRel = std::max(maxRel, err / std::fabs(want[i]));
    }
    if (!ok && bad++ < 5)
      first << "\n  [" << i << "] got " << got[i] << ", want " << want[i];
  }
  if (bad == 0)
    return ::testing::AssertionSuccess()
           << what << ": max abs error " << maxAbs << ", max rel " << maxRel;
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << got.size()
         << " elements outside atol " << atol << " + rtol " << rtol
         << " * |want|; max abs error " << maxAbs << ", max rel " << maxRel
         << "; first mismatches:" << first.str();
}

} // namespace aoarm::kerneltest
