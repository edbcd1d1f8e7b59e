#include "dialect/Permutation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace aoarm;

TEST(Permutation, RecognisesPermutations) {
  EXPECT_TRUE(isPermutation({}));
  EXPECT_TRUE(isPermutation({0}));
  EXPECT_TRUE(isPermutation({2, 0, 1}));
  EXPECT_FALSE(isPermutation({0, 0}));
  EXPECT_FALSE(isPermutation({1, 2}));
  EXPECT_FALSE(isPermutation({-1, 0}));
}

TEST(Permutation, ExplainsWhatIsWrong) {
  EXPECT_EQ(whyNotPermutation({0, 4, 1, 2}),
            "entry 1 is 4, out of range [0, 4)");
  EXPECT_EQ(whyNotPermutation({3, 1, 0, 1}), "1 appears twice (entries 1 and 3)");
  EXPECT_EQ(whyNotPermutation({1, 0}), std::nullopt);
}

TEST(Permutation, ComposeAppliesRightOperandFirst) {
  Permutation a = {1, 2, 0};
  Permutation b = {0, 2, 1};
  // (a . b)(t) = a(b(t)): t=0 -> a(0)=1, t=1 -> a(2)=0, t=2 -> a(1)=2.
  EXPECT_EQ(compose(a, b), (Permutation{1, 0, 2}));
}

TEST(Permutation, InverseUndoesOnRandomOrders) {
  std::mt19937_64 rng(7);
  for (int n : {1, 2, 5, 128, 1024}) {
    Permutation p = identity(n);
    std::shuffle(p.begin(), p.end(), rng);
    Permutation q = invert(p);
    ASSERT_TRUE(isPermutation(q));
    EXPECT_EQ(compose(p, q), identity(n));
    EXPECT_EQ(compose(q, p), identity(n));
    EXPECT_EQ(invert(q), p);
  }
}

TEST(Permutation, ComposeIsAssociative) {
  std::mt19937_64 rng(11);
  Permutation a = identity(64), b = identity(64), c = identity(64);
  std::shuffle(a.begin(), a.end(), rng);
  std::shuffle(b.begin(), b.end(), rng);
  std::shuffle(c.begin(), c.end(), rng);
  EXPECT_EQ(compose(compose(a, b), c), compose(a, compose(b, c)));
}
