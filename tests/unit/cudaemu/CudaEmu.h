// A CUDA emulator for the host: enough of CUDA C++ to run aoarm's kernel
// library (codegen/kernels/*.cuh) on the CPU, so every kernel is checked
// against the CPU reference on machines without a GPU (CI).
//
// Each CUDA thread of a block is one std::thread (from a pool kept across
// blocks); __syncthreads is a barrier over them; blocks run one after another,
// so `__shared__` (here `static`) storage is exactly block-shared. A barrier
// that waits too long (threads of a block that diverged around __syncthreads)
// aborts with a message instead of hanging the test. What the library may use
// is listed in common.cuh; nothing else is provided. The one warp-collective
// operation, the tensor cores' mma_bf16_tile, is computed here from the
// fragment layout that common.cuh states, with a barrier over the warp's 32
// threads.
#pragma once

#define AOARM_CUDAEMU 1

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
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
inline float __uint_as_float(unsigned int u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline unsigned int __float_as_uint(float f) {
  unsigned int u;
  std::memcpy(&u, &f, sizeof u);
  return u;
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

/// One barrier per warp of the running block (32 threads, fewer in a
/// partial last warp).
inline std::vector<std::unique_ptr<Barrier>> &currentWarpBarriers() {
  static std::vector<std::unique_ptr<Barrier>> barriers;
  return barriers;
}

/// The CUDA threads of a block: a pool of std::threads kept across blocks
/// and launches (creating 256 threads per block would dominate the run
/// time). Worker i plays thread i of each block that has more than i
/// threads.
class ThreadPool {
public:
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (std::thread &t : workers_)
      t.join();
  }

  /// Runs `body` on the `block.x * block.y * block.z` threads of block
  /// `index`, and returns when all of them have.
  void runBlock(uint3 index, dim3 block, const std::function<void()> &body) {
    const unsigned threads = block.x * block.y * block.z;
    while (workers_.size() < threads) {
      const unsigned id = static_cast<unsigned>(workers_.size());
      workers_.emplace_back([this, id] { work(id); });
    }
    std::unique_lock<std::mutex> lock(mutex_);
    body_ = &body;
    index_ = index;
    block_ = block;
    active_ = remaining_ = threads;
    ++generation_;
    start_.notify_all();
    done_.wait(lock, [&] { return remaining_ == 0; });
  }

private:
  void work(unsigned id) {
    unsigned seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_)
        return;
      seen = generation_;
      if (id >= active_)
        continue;
      const std::function<void()> *body = body_;
      const dim3 block = block_;
      blockIdx = index_;
      lock.unlock();
      threadIdx = {id % block.x, (id / block.x) % block.y,
                   id / (block.x * block.y)};
      (*body)();
      lock.lock();
      if (--remaining_ == 0)
        done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable start_, done_;
  std::vector<std::thread> workers_;
  const std::function<void()> *body_ = nullptr;
  uint3 index_;
  dim3 block_;
  unsigned active_ = 0, remaining_ = 0, generation_ = 0;
  bool stop_ = false;
};

/// Runs `body` (which calls a kernel) for every thread of every block of
/// `grid` x `block`, blocks in order.
template <typename Body> void launch(dim3 grid, dim3 block, Body body) {
  static ThreadPool pool;
  gridDim = grid;
  blockDim = block;
  const std::function<void()> run = body;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        const unsigned threads = block.x * block.y * block.z;
        Barrier barrier(threads);
        currentBarrier() = &barrier;
        std::vector<std::unique_ptr<Barrier>> &warps = currentWarpBarriers();
        warps.clear();
        for (unsigned w = 0; w * 32 < threads; ++w)
          warps.push_back(std::make_unique<Barrier>(
              threads - w * 32 < 32 ? threads - w * 32 : 32));
        pool.runBlock({x, y, z}, block, run);
        currentBarrier() = nullptr;
      }
}

/// common.cuh's mma_bf16_tile: acc[i][j] (4 floats) += A_i @ B_j for
/// i < mt, j < nt, from the fragments of the warp's 32 lanes (the layout
/// table in common.cuh). The products of bf16 values are exact in f32; they
/// are summed onto the accumulator in k order, in f32.
inline void mmaBf16Tile(float *acc, const unsigned *a, const unsigned *b,
                        int mt, int nt) {
  constexpr int kMaxTiles = 16;
  struct Exchange {
    unsigned a[32][kMaxTiles * 4];
    unsigned b[32][kMaxTiles * 2];
  };
  static Exchange exchange[32]; // per warp; blocks run one at a time
  const unsigned tid =
      threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned warp = tid / 32, lane = tid % 32;
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  if (mt > kMaxTiles || nt > kMaxTiles || (warp + 1) * 32 > threads) {
    std::fprintf(stderr,
                 "cudaemu: mma_bf16_tile<%d, %d> needs whole warps "
                 "and at most %d tiles a side\n",
                 mt, nt, kMaxTiles);
    std::abort();
  }
  Exchange &ex = exchange[warp];
  std::memcpy(ex.a[lane], a, sizeof(unsigned) * 4 * mt);
  std::memcpy(ex.b[lane], b, sizeof(unsigned) * 2 * nt);
  Barrier &barrier = *currentWarpBarriers()[warp];
  barrier.wait();
  auto half = [](unsigned word, int high) {
    const unsigned bits = high ? word >> 16 : word & 0xffffu;
    float f;
    const unsigned u = bits << 16;
    std::memcpy(&f, &u, sizeof f);
    return f;
  };
  // A_i(r, c) lives in lane 4 (r % 8) + (c % 8) / 2, word (r / 8) + 2 (c / 8),
  // half c % 2; B_j(k, n) in lane 4 n + (k % 8) / 2, word k / 8, half k % 2.
  auto A = [&](int i, int r, int c) {
    return half(ex.a[4 * (r % 8) + (c % 8) / 2][4 * i + r / 8 + 2 * (c / 8)],
                c % 2);
  };
  auto B = [&](int j, int k, int n) {
    return half(ex.b[4 * n + (k % 8) / 2][2 * j + k / 8], k % 2);
  };
  const int g = static_cast<int>(lane / 4), q = static_cast<int>(lane % 4);
  for (int i = 0; i < mt; ++i)
    for (int j = 0; j < nt; ++j)
      for (int e = 0; e < 4; ++e) {
        const int r = g + (e >= 2 ? 8 : 0), n = 2 * q + (e & 1);
        float &sum = acc[(i * nt + j) * 4 + e];
        for (int k = 0; k < 16; ++k)
          sum += A(i, r, k) * B(j, k, n);
      }
  barrier.wait(); // before any lane's next call overwrites the exchange
}

} // namespace cudaemu

inline void __syncthreads() { cudaemu::currentBarrier()->wait(); }
