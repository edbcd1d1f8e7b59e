// The one permutation utility of aoarm.
//
// An order pi of L positions is stored as the sequence pi(0), ..., pi(L-1):
// slot t of the structural order holds the token at text position pi(t).
// The dialect's verifiers, the runtime's order files and the samplers all use
// these functions; this header is plain C++ so the runtime can use it without
// linking MLIR.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aoarm {

using Permutation = std::vector<int64_t>;

/// True when `p` holds each of 0..p.size()-1 exactly once.
bool isPermutation(const std::vector<int64_t> &p);

/// Why `p` is not a permutation of 0..n-1 (for diagnostics), or nothing when
/// it is one; e.g. "entry 3 is 7, out of range [0, 4)" or "5 appears twice
/// (entries 1 and 4)".
std::optional<std::string> whyNotPermutation(const std::vector<int64_t> &p);

/// (a . b)(t) = a(b(t)): apply b first, then a. Both must have equal length.
Permutation compose(const Permutation &a, const Permutation &b);

/// The inverse: invert(p)[p[t]] = t, so compose(p, invert(p)) is identity.
Permutation invert(const Permutation &p);

/// 0, 1, ..., n-1.
Permutation identity(int64_t n);

} // namespace aoarm
