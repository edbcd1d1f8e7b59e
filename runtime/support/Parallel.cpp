#include "runtime/support/Parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace aoarm {
namespace {

thread_local bool tlsInsideBody = false;

/// Marks the current thread as running a body, so nested calls run inline.
struct BodyScope {
  bool saved;
  BodyScope() : saved(tlsInsideBody) { tlsInsideBody = true; }
  ~BodyScope() { tlsInsideBody = saved; }
};

int defaultThreadCount() {
  if (const char *env = std::getenv("AOARM_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0)
      return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : int(hw);
}

/// numThreads - 1 workers plus the caller. One job at a time: run() holds
/// runMu for its whole duration, so concurrent callers queue up.
class Pool {
public:
  explicit Pool(int threads) : size_(std::max(1, threads)) {
    for (int i = 1; i < size_; ++i)
      workers_.emplace_back([this] { workerLoop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread &t : workers_)
      t.join();
  }

  int size() const { return size_; }

  void run(int64_t n, int64_t chunk,
           const std::function<void(int64_t, int64_t)> &body) {
    std::lock_guard<std::mutex> runLock(runMu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      body_ = &body;
      n_ = n;
      chunk_ = chunk;
      next_.store(0, std::memory_order_relaxed);
      active_ = int(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    drain(body, n, chunk);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return active_ == 0; });
    body_ = nullptr;
  }

private:
  /// Claims chunks until none is left.
  void drain(const std::function<void(int64_t, int64_t)> &body, int64_t n,
             int64_t chunk) {
    BodyScope scope;
    for (;;) {
      int64_t begin = next_.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n)
        return;
      body(begin, std::min(n, begin + chunk));
    }
  }

  void workerLoop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_)
        return;
      seen = generation_;
      const auto *body = body_;
      int64_t n = n_, chunk = chunk_;
      lock.unlock();
      drain(*body, n, chunk);
      lock.lock();
      // run() waits for every worker, so no worker can miss a generation.
      if (--active_ == 0)
        done_.notify_one();
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex runMu_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)> *body_ = nullptr;
  int64_t n_ = 0, chunk_ = 1;
  std::atomic<int64_t> next_{0};
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

std::mutex poolMu;
std::unique_ptr<Pool> &poolSlot() {
  static std::unique_ptr<Pool> pool;
  return pool;
}

Pool &pool() {
  std::lock_guard<std::mutex> lock(poolMu);
  std::unique_ptr<Pool> &slot = poolSlot();
  if (!slot)
    slot = std::make_unique<Pool>(defaultThreadCount());
  return *slot;
}

} // namespace

namespace detail {

bool insideParallelBody() { return tlsInsideBody; }

void parallelForImpl(int64_t n, int64_t minChunk,
                     const std::function<void(int64_t, int64_t)> &body) {
  Pool &p = pool();
  if (p.size() == 1 || n <= minChunk) {
    BodyScope scope;
    body(0, n);
    return;
  }
  // About four chunks per thread balances uneven rows (causal attention)
  // without making chunks so small that claiming them costs more than work.
  int64_t chunks =
      std::min<int64_t>((n + minChunk - 1) / minChunk, int64_t(p.size()) * 4);
  int64_t chunk = (n + chunks - 1) / chunks;
  p.run(n, chunk, body);
}

} // namespace detail

int numThreads() { return pool().size(); }

void setNumThreads(int n) {
  std::lock_guard<std::mutex> lock(poolMu);
  std::unique_ptr<Pool> &slot = poolSlot();
  int want = n > 0 ? n : defaultThreadCount();
  if (slot && slot->size() == want)
    return;
  slot.reset(); // joins the old workers before starting new ones
  slot = std::make_unique<Pool>(want);
}

} // namespace aoarm
