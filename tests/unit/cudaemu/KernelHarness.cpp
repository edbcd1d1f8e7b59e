#include "tests/unit/cudaemu/KernelHarness.h"

#include "tests/unit/cudaemu/CudaEmu.h"
#include "tests/unit/cudaemu/EmuRegistry.h"

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
  return t;
}

void fillUniform(HostTensor &t, std::mt19937 &rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float &x : t.f) {
    do
      x = dist(rng);
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

std::string runEmulated(const KernelRequest &request, int batch,
                        std::vector<HostTensor> &inputs,
                        std::vector<HostTensor> &outputs,
                        const StepScalars &scalars) {
  std::string error;
  std::optional<Lowered> lowered = lowerKernel(request, &error);
  if (!lowered)
    return error;
  if (inputs.size() != request.inputs.size())
    return "the case gives " + std::to_string(inputs.size()) +
           " inputs, the request has " + std::to_string(request.inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].info.elements(batch) !=
        static_cast<int64_t>(inputs[i].info.isInt ? inputs[i].i.size()
                                                  : inputs[i].f.size()))
      return "input " + std::to_string(i) + " is not sized for the batch";
  outputs.clear();
  for (const TensorInfo &info : request.outputs)
    outputs.push_back(makeTensor(info, batch));
  std::vector<std::vector<float>> scratch;
  for (const Scratch &s : lowered->scratch)
    scratch.emplace_back((s.perRow ? s.bytes * batch : s.bytes) / 4 + 1,
                         std::numeric_limits<float>::quiet_NaN());
  // The device's copy of the scalars: the same layout as aoarm_k's.
  StepScalars device = scalars;
  int b = batch;

  for (const Launch &launch : lowered->launches) {
    const std::vector<std::string> types = argumentTypes(request, launch);
    const std::string key = wrapperKey(launch.call, types, launch.block);
    auto it = emuWrappers().find(key);
    if (it == emuWrappers().end())
      return "no emulated wrapper for " + key +
             " (is the case listed in KernelCases?)";
    // One slot per argument; args[i] points at the slot.
    std::vector<void *> slots(launch.args.size());
    std::vector<void *> args(launch.args.size());
    for (size_t i = 0; i < launch.args.size(); ++i) {
      const ArgRef &a = launch.args[i];
      switch (a.kind) {
      case ArgRef::Input:
        slots[i] = inputs.at(a.index).data();
        args[i] = &slots[i];
        break;
      case ArgRef::Output:
        slots[i] = outputs.at(a.index).data();
        args[i] = &slots[i];
        break;
      case ArgRef::Scratch:
        slots[i] = scratch.at(a.index).data();
        args[i] = &slots[i];
        break;
      case ArgRef::Scalars:
        slots[i] = &device;
        args[i] = &slots[i];
        break;
      case ArgRef::Batch:
        args[i] = &b;
        break;
      }
    }
    const dim3 grid(launch.grid[0].eval(batch), launch.grid[1].eval(batch),
                    launch.grid[2].eval(batch));
    EmuWrapper fn = it->second;
    cudaemu::launch(grid, dim3(launch.block), [&] { fn(args.data()); });
  }
  return "";
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
