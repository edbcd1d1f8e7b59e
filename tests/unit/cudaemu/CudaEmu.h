// A CUDA emulator for the host: enough of CUDA C++ to run aoarm's kernel
// library (codegen/kernels/*.cuh) on the CPU, so every kernel is checked
// against the CPU reference on machines without a GPU (CI).
//
// Each CUDA thread of a block is one std::thread; __syncthreads is a barrier
// over them; blocks run one after another, so `__shared__` (here `static`)
// storage is exactly block-shared. A barrier that waits too long (threads of
// a block that diverged around __syncthreads) aborts with a message instead
// of hanging the test. What the library may use is listed in common.cuh;
// nothing else is provided.
#pragma once

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

struct uint3 {
  unsigned int x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned int x, y, z;
  dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1)
      : x(x_), y(y_), z(z_) {}
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __restrict__

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
inline double __longlong_as_double(long long i) {
  double d;
  std::memcpy(&d, &i, sizeof d);
  return d;
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

namespace cudaemu {

/// A reusable barrier over the threads of one block.
class Barrier {
public:
  explicit Barrier(unsigned count) : count_(count) {}
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const unsigned generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    if (!cv_.wait_for(lock, std::chrono::seconds(60),
                      [&] { return generation_ != generation; })) {
      std::fprintf(stderr, "cudaemu: __syncthreads waited 60 s: the threads "
                           "of a block diverged around a barrier\n");
      std::abort();
    }
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  unsigned count_;
  unsigned arrived_ = 0;
  unsigned generation_ = 0;
};

inline Barrier *&currentBarrier() {
  static Barrier *barrier = nullptr;
  return barrier;
}

/// Runs `body` (which calls a kernel) for every thread of every block of
/// `grid` x `block`, blocks in order.
template <typename Body> void launch(dim3 grid, dim3 block, Body body) {
  gridDim = grid;
  blockDim = block;
  const unsigned threads = block.x * block.y * block.z;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        Barrier barrier(threads);
        currentBarrier() = &barrier;
        std::vector<std::thread> pool;
        pool.reserve(threads);
        for (unsigned t = 0; t < threads; ++t)
          pool.emplace_back([&, t] {
            threadIdx = {t % block.x, (t / block.x) % block.y,
                         t / (block.x * block.y)};
            blockIdx = {x, y, z};
            body();
          });
        for (std::thread &th : pool)
          th.join();
        currentBarrier() = nullptr;
      }
}

} // namespace cudaemu

inline void __syncthreads() { cudaemu::currentBarrier()->wait(); }
