#include "dialect/Permutation.h"

#include <cassert>
#include <numeric>

namespace aoarm {

std::optional<std::string> whyNotPermutation(const std::vector<int64_t> &p) {
  const int64_t n = static_cast<int64_t>(p.size());
  // firstSeen[v] is 1 + the entry where value v appeared first.
  std::vector<int64_t> firstSeen(p.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = p[i];
    if (v < 0 || v >= n)
      return "entry " + std::to_string(i) + " is " + std::to_string(v) +
             ", out of range [0, " + std::to_string(n) + ")";
    if (firstSeen[v] != 0)
      return std::to_string(v) + " appears twice (entries " +
             std::to_string(firstSeen[v] - 1) + " and " + std::to_string(i) +
             ")";
    firstSeen[v] = i + 1;
  }
  return std::nullopt;
}

bool isPermutation(const std::vector<int64_t> &p) {
  return !whyNotPermutation(p).has_value();
}

Permutation compose(const Permutation &a, const Permutation &b) {
  assert(a.size() == b.size() && "compose needs permutations of one length");
  Permutation out(b.size());
  for (size_t t = 0; t < b.size(); ++t)
    out[t] = a[b[t]];
  return out;
}

Permutation invert(const Permutation &p) {
  Permutation out(p.size());
  for (size_t t = 0; t < p.size(); ++t)
    out[p[t]] = static_cast<int64_t>(t);
  return out;
}

Permutation identity(int64_t n) {
  Permutation out(n);
  std::iota(out.begin(), out.end(), 0);
  return out;
}

} // namespace aoarm
