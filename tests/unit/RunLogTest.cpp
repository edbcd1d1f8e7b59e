// Reading a run's validation curve from log.jsonl (runtime/plot/RunLog.h):
// the points and tokens seen, resumed runs, torn lines, and the refusals.
#include "runtime/plot/RunLog.h"

#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace aoarm::plot {
namespace {

using testsupport::TempDir;

const char *kConfig =
    R"({"type":"config","model":"drope","settings":{"steps":20,"batch":8,"seq_len":32}})";

std::string evalLine(int step, const std::string &bpc) {
  return fmt::format(
      R"({{"type":"eval","step":{},"split":"valid","bpc":{},"nats":1.0}})",
      step, bpc);
}

/// A run directory `name` in `dir` whose log.jsonl holds `text`.
std::string writeRun(const TempDir &dir, const std::string &name,
                     const std::string &text) {
  const std::string run = dir.file(name);
  std::filesystem::create_directories(run);
  std::ofstream(run + "/log.jsonl") << text;
  return run;
}

TEST(RunLogTest, ReadsValidationPointsAndTokensSeen) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string run =
      writeRun(dir, "d1",
               std::string(kConfig) + "\n" +
                   R"({"type":"train","step":1,"loss":2.0,"bpc":2.9})"
                   "\n" +
                   evalLine(10, "2.5") + "\n" +
                   R"({"type":"checkpoint","step":10,"path":"x"})"
                   "\n" +
                   R"({"type":"eval","step":15,"split":"test","bpc":9.0})"
                   "\n" +
                   evalLine(20, "2.25") + "\n");
  auto curve = readRunLog(run);
  ASSERT_TRUE(curve) << curve.status().message();
  EXPECT_EQ(curve->batchSize, 8);
  EXPECT_EQ(curve->seqLen, 32);
  ASSERT_EQ(curve->evals.size(), 2u); // the test-split line is not plotted
  EXPECT_EQ(curve->evals[0].step, 10);
  EXPECT_DOUBLE_EQ(curve->evals[0].bitsPerChar, 2.5);
  EXPECT_EQ(curve->evals[1].step, 20);
  EXPECT_DOUBLE_EQ(curve->tokensSeen(20), 20.0 * 8 * 32);
  EXPECT_EQ(curve->nonFiniteEvals, 0);
  EXPECT_EQ(curve->tornLines, 0);
}

TEST(RunLogTest, AResumedRunsRepeatedEvalReplacesTheEarlierOne) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  // Killed while writing the line after step 20's eval, then resumed from
  // checkpoint 10: the torn line ends before the resume line.
  std::string run = writeRun(
      dir, "r",
      std::string(kConfig) + "\n" + evalLine(10, "2.5") + "\n" +
          evalLine(20, "2.4") + "\n" + R"({"type":"train","ste)" + "\n" +
          R"({"type":"resume","step":10})"
          "\n" +
          evalLine(20, "2.3") + "\n" + evalLine(30, "null") + "\n" +
          evalLine(40, "2.1") + "\n" + R"({"type":"tra)");
  auto curve = readRunLog(run);
  ASSERT_TRUE(curve) << curve.status().message();
  ASSERT_EQ(curve->evals.size(), 3u);
  EXPECT_DOUBLE_EQ(curve->evals[1].bitsPerChar, 2.3);
  EXPECT_EQ(curve->evals[2].step, 40);
  EXPECT_EQ(curve->nonFiniteEvals, 1);
  EXPECT_EQ(curve->tornLines, 2); // before "resume", and the unfinished last
}

TEST(RunLogTest, RefusesWhatItCannotPlot) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  auto message = [](const std::string &run) {
    auto curve = readRunLog(run);
    return curve ? std::string("ok") : curve.status().message();
  };
  EXPECT_EQ(message(dir.file("missing")),
            dir.file("missing") + ": not a run directory (no such directory)");
  std::filesystem::create_directories(dir.file("bare"));
  EXPECT_EQ(message(dir.file("bare")),
            dir.file("bare") +
                ": no log.jsonl, so not a run directory of aoarm train");

  std::string bad = writeRun(dir, "bad",
                             std::string(kConfig) + "\n" + evalLine(10, "2.5") +
                                 "\n{not json\n" + evalLine(20, "2.4") + "\n");
  EXPECT_EQ(message(bad), bad + "/log.jsonl: line 3: not a JSON object");

  std::string noEval = writeRun(dir, "noeval",
                                std::string(kConfig) + "\n" +
                                    R"({"type":"train","step":1,"loss":2.0})"
                                    "\n");
  EXPECT_EQ(message(noEval),
            noEval + "/log.jsonl: no validation to plot: no eval line of the "
                     "valid split (the run evaluates every --eval-every "
                     "steps)");
  std::string allNull = writeRun(
      dir, "null", std::string(kConfig) + "\n" + evalLine(10, "null") + "\n");
  EXPECT_EQ(message(allNull), allNull + "/log.jsonl: no validation to plot: "
                                        "no eval line of the valid split "
                                        "with a finite bpc");

  std::string noConfig = writeRun(dir, "noconfig", evalLine(10, "2.5") + "\n");
  EXPECT_EQ(message(noConfig), noConfig + "/log.jsonl: line 1: expected the "
                                          "\"config\" line first, found a "
                                          "\"eval\" line");
  std::string noBatch =
      writeRun(dir, "nobatch",
               R"({"type":"config","settings":{"seq_len":32}})"
               "\n");
  EXPECT_EQ(message(noBatch), noBatch + "/log.jsonl: line 1: config line "
                                        "needs settings.batch, a positive "
                                        "integer");
  std::string empty = writeRun(dir, "empty", "");
  EXPECT_EQ(message(empty),
            empty + "/log.jsonl: empty, expected the \"config\" line first");
  std::string badStep =
      writeRun(dir, "badstep",
               std::string(kConfig) + "\n" +
                   R"({"type":"eval","split":"valid","bpc":2.0})"
                   "\n");
  EXPECT_EQ(message(badStep), badStep + "/log.jsonl: line 2: eval line needs "
                                        "\"step\", a non-negative integer");
}

TEST(RunLogTest, RunNamesAreLastComponentsUnlessTheyClash) {
  EXPECT_EQ(runNames({"runs/a/", "x/b", "c"}),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(runNames({"p/run", "q/run", "z"}),
            (std::vector<std::string>{"p/run", "q/run", "z"}));
  std::vector<std::string> here = runNames({"."});
  ASSERT_EQ(here.size(), 1u);
  EXPECT_EQ(here[0], std::filesystem::current_path().filename().string());
}

} // namespace
} // namespace aoarm::plot
