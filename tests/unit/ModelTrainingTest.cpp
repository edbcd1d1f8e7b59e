// Each reference model, compiled small by aoarmc, learns: a short run of
// the real trainer on a generated English-like corpus brings validation
// bits per character well below the uniform code (log2 28 = 4.81) and
// below the corpus's own unigram entropy, which only context can beat; and
// drope trained on the left-to-right order keeps up with AR.
#include "runtime/support/File.h"
#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

using namespace aoarm;
namespace fs = std::filesystem;

namespace {

/// Sentences from a small grammar: words recur in context, so a model that
/// uses context beats the unigram code.
std::string generatedCorpus() {
  const char *subjects[] = {"the cat", "a dog", "the old man", "my sister",
                            "the king", "a bird"};
  const char *verbs[] = {"sees", "likes", "finds", "follows", "hears"};
  const char *objects[] = {"the river", "a small house", "the green tree",
                           "her friend", "the market"};
  std::mt19937 rng(5);
  std::string text;
  while (text.size() < 60000) {
    text += " ";
    text += subjects[rng() % 6];
    text += " ";
    text += verbs[rng() % 5];
    text += " ";
    text += objects[rng() % 5];
  }
  return text;
}

double unigramBits(const std::string &text) {
  std::map<char, double> counts;
  for (char c : text)
    counts[c] += 1;
  double bits = 0;
  for (auto &[c, n] : counts) {
    double p = n / text.size();
    bits -= p * std::log2(p);
  }
  return bits;
}

/// Trains the small test bundle of `model` for 200 steps on the generated
/// corpus (in a fresh directory) and returns its last validation bits/char.
double trainSmall(const std::string &model, const std::string &corpus,
                  OrderChoice order = OrderChoice::Random) {
  const std::string name = model + "-" + orderChoiceName(order);
  fs::path dir = fs::temp_directory_path() /
                 ("aoarm-training-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  EXPECT_TRUE(
      writeFileAtomically((dir / "corpus.txt").string(), corpus, false).isOk());
  TrainOptions options;
  options.device = "cpu"; // the CPU reference, also where a GPU is
  options.bundlePath =
      std::string(AOARM_TEST_BUNDLES) + "/" + model + "-small.aoarm";
  options.dataPath = (dir / "corpus.txt").string();
  options.runDir = (dir / "run").string();
  options.steps = 200;
  options.batchSize = 16;
  options.lr = 1e-2;
  options.warmup = 15;
  options.evalEvery = 200;
  options.evalBatches = 16; // 256 chunks: the NELBO estimate is noisy
  options.progress = false;
  options.order = order;
  StatusOr<TrainResult> result = train(options);
  fs::remove_all(dir);
  EXPECT_TRUE(result.isOk()) << result.status().message();
  if (!result.isOk())
    return NAN;
  std::printf("%s: validation %.3f bits/char after %lld steps (unigram "
              "%.3f, uniform %.3f)\n",
              name.c_str(), result->lastValidBitsPerChar,
              static_cast<long long>(result->steps), unigramBits(corpus),
              std::log2(28.0));
  return result->lastValidBitsPerChar;
}

class ModelTraining : public ::testing::TestWithParam<const char *> {};

TEST_P(ModelTraining, ValidationBitsFallBelowTheUnigramCode) {
  const std::string corpus = generatedCorpus();
  EXPECT_LT(trainSmall(GetParam(), corpus), unigramBits(corpus) - 0.3);
}

/// The fixed-order control (experiments/tiny-orders): on the left-to-right
/// order drope is a left-to-right model with RoPE at t (queries) and t-1
/// (keys), so it learns about as fast as AR (measured: 0.84 against 0.83
/// bits/char), while on random orders it is far behind (3.09). Had the
/// fixed order not reached the step, it would score like the random one.
TEST(ModelTrainingOrders, DropeOnTheLeftToRightOrderLearnsLikeAR) {
  const std::string corpus = generatedCorpus();
  const double ar = trainSmall("ar", corpus);
  const double fixed = trainSmall("drope", corpus, OrderChoice::LeftToRight);
  const double random = trainSmall("drope", corpus);
  EXPECT_LT(std::abs(fixed - ar), 0.15)
      << "ar " << ar << ", drope on the left-to-right order " << fixed;
  EXPECT_LT(fixed, random - 1.0) << "drope on random orders " << random;
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, ModelTraining,
                         ::testing::Values("ar", "mdlm", "drope",
                                           "twostream"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

} // namespace
