// parallelFor: the one way runtime CPU code uses more than one core.
//
// A persistent pool of std::threads (hardware_concurrency in all, the calling
// thread included) splits an index range [0, n) into contiguous chunks. Each
// index is visited by exactly one call of the body, so a body that writes
// only the outputs owned by its indices, and reduces in index order inside
// them, gives bit-identical results whatever the thread count or scheduling.
// There is deliberately no parallel reduction primitive: a reduction whose
// order depended on chunking would break that guarantee.
//
// Small ranges (n <= minChunk), a pool of one thread, and calls made from
// inside a running body (nested parallelism) run inline on the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

namespace aoarm {

namespace detail {
/// Runs body(begin, end) over chunks covering [0, n); see parallelFor.
void parallelForImpl(int64_t n, int64_t minChunk,
                     const std::function<void(int64_t, int64_t)> &body);
/// True while the calling thread is running a parallelFor body.
bool insideParallelBody();
} // namespace detail

/// Calls body(begin, end) on disjoint contiguous chunks that together cover
/// [0, n), each chunk holding at least `minChunk` indices (except a shorter
/// final one), possibly on several threads; returns when all are done.
/// The body must not throw.
template <typename F> void parallelFor(int64_t n, int64_t minChunk, F &&body) {
  if (n <= 0)
    return;
  if (minChunk < 1)
    minChunk = 1;
  // Inline fast path: no std::function, no locking.
  if (n <= minChunk || detail::insideParallelBody()) {
    body(int64_t(0), n);
    return;
  }
  detail::parallelForImpl(
      n, minChunk, [&body](int64_t begin, int64_t end) { body(begin, end); });
}

/// The number of threads parallelFor uses (the caller included), >= 1.
int numThreads();

/// Sets the number of threads (the caller included); 0 restores the default
/// (std::thread::hardware_concurrency, or AOARM_NUM_THREADS when set).
/// Must not be called while any parallelFor is running (tests and start-up
/// code call it, kernels never do).
void setNumThreads(int n);

} // namespace aoarm
