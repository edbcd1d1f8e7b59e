// Coherence and diversity (runtime/metrics/Metrics.h) on hand-made samples
// whose answers are worked out by hand, the two dictionaries, and the
// refusal of a sample that is not text8.
#include "runtime/metrics/Metrics.h"

#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <fstream>

namespace aoarm::metrics {
namespace {

using testsupport::TempDir;
using Words = std::vector<std::string_view>;

Dictionary dictionaryOf(std::string_view lines) {
  return Dictionary::fromWordListText(lines, "test", "test list");
}

TEST(MetricsTest, WordsAreRunsOfLettersWithTheCutEdgesDropped) {
  // "he" and "sa" touch the edges of the crop, so they may be cut words.
  EXPECT_EQ(sampleWords("he cat sat on sa"), (Words{"cat", "sat", "on"}));
  // A sample that starts or ends with a space keeps that word.
  EXPECT_EQ(sampleWords(" the cat "), (Words{"the", "cat"}));
  EXPECT_EQ(sampleWords(" the cat"), (Words{"the"}));
  EXPECT_EQ(sampleWords("word"), Words{});
  EXPECT_EQ(sampleWords(""), Words{});
  EXPECT_EQ(sampleWords("    "), Words{});
  EXPECT_EQ(sampleWords("  a  b "), (Words{"a", "b"}));
}

TEST(MetricsTest, KeepEdgeWordsCountsEveryRun) {
  EXPECT_EQ(sampleWords("he cat sa", EdgeWords::Keep),
            (Words{"he", "cat", "sa"}));
  EXPECT_EQ(sampleWords("word", EdgeWords::Keep), Words{"word"});
}

TEST(MetricsTest, WordListIsLowercasedAndKeepsOnlyPureLetters) {
  // "Aaron's", "café" (UTF-8), "e-mail" and the empty line are dropped;
  // "TREE" and "House" are folded; "\r" of a CRLF line is ignored.
  Dictionary d =
      dictionaryOf("House\nmouse\nAaron's\ncaf\xc3\xa9\ne-mail\n\nTREE\r\nox\n"
                   "house\n");
  EXPECT_EQ(d.size(), 4); // house, mouse, tree, ox
  EXPECT_EQ(d.longWords(), 3);
  EXPECT_EQ(d.droppedLines(), 4);
  EXPECT_TRUE(d.contains("house"));
  EXPECT_TRUE(d.contains("tree"));
  EXPECT_TRUE(d.contains("ox"));
  EXPECT_FALSE(d.contains("aarons"));
  EXPECT_FALSE(d.contains("aaron"));
  EXPECT_FALSE(d.contains("House"));
}

TEST(MetricsTest, CoherenceIsTheShareOfLongWordsInTheDictionary) {
  Dictionary d = dictionaryOf("house\ntree\nthe\n");
  // Counted: the house of mice near a tree; of 4+ letters: house, mice,
  // near, tree, of which house and tree are known.
  Words words = sampleWords("x the house of mice near a tree y");
  ASSERT_EQ(words.size(), 7u);
  EXPECT_DOUBLE_EQ(*sampleCoherence(words, d), 0.5);
  // Short words never count, known or not.
  EXPECT_FALSE(sampleCoherence(sampleWords(" the a of "), d).has_value());
  EXPECT_DOUBLE_EQ(*sampleCoherence(sampleWords(" tree tree "), d), 1.0);
  EXPECT_DOUBLE_EQ(*sampleCoherence(sampleWords(" qwzx "), d), 0.0);
}

TEST(MetricsTest, DiversityIsDistinctWordsOverWords) {
  EXPECT_DOUBLE_EQ(*sampleDiversity(sampleWords(" a a b a ")), 0.5);
  EXPECT_DOUBLE_EQ(*sampleDiversity(sampleWords(" the cat sat ")), 1.0);
  EXPECT_FALSE(sampleDiversity(sampleWords("nothing")).has_value());
}

TEST(MetricsTest, ScoresAverageOverSamplesAndLeaveOutSamplesWithoutWords) {
  Dictionary d = dictionaryOf("house\ntree\n");
  Dictionary none = Dictionary::fromWordListText("zzzz\n", "none", "list");
  std::vector<std::string> samples = {
      " house tree mice ", // coherence 2/3 (none: 0), diversity 1
      " a a b a ",         // no long word; diversity 0.5
      "cut",               // no counted word at all
  };
  SampleScores s = scoreSamples(samples, {&d, &none});
  EXPECT_EQ(s.samples, 3);
  EXPECT_EQ(s.words, 7);
  EXPECT_EQ(s.longWords, 3);
  EXPECT_EQ(s.samplesWithoutLongWord, 2);
  EXPECT_EQ(s.samplesWithoutWord, 1);
  ASSERT_TRUE(s.diversity.has_value());
  EXPECT_DOUBLE_EQ(*s.diversity, (1.0 + 0.5) / 2);
  ASSERT_EQ(s.coherence.size(), 2u);
  EXPECT_EQ(s.coherence[0].dictionary, "test");
  EXPECT_EQ(s.coherence[0].samples, 1);
  EXPECT_DOUBLE_EQ(*s.coherence[0].mean, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*s.coherence[1].mean, 0.0);

  // With the edges kept, "cut" is a word of 3 letters.
  SampleScores kept = scoreSamples(samples, {&d}, EdgeWords::Keep);
  EXPECT_EQ(kept.words, 8);
  EXPECT_DOUBLE_EQ(*kept.diversity, (1.0 + 0.5 + 1.0) / 3);

  // Nothing to average: no mean rather than a made-up number.
  SampleScores empty = scoreSamples({"abc"}, {&d});
  EXPECT_FALSE(empty.diversity.has_value());
  EXPECT_FALSE(empty.coherence[0].mean.has_value());
}

TEST(MetricsTest, SamplesAreLinesOfText8) {
  auto samples = parseSamples(" the cat\nsat on\n", "s.txt");
  ASSERT_TRUE(samples) << samples.status().message();
  EXPECT_EQ(*samples, (std::vector<std::string>{" the cat", "sat on"}));
  // The last line needs no newline.
  EXPECT_EQ(parseSamples("a\nb", "s.txt")->size(), 2u);
}

TEST(MetricsTest, RefusesASampleOutsideText8NamingLineAndColumn) {
  auto bad = parseSamples("fine text\nbad Text\n", "s.txt");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.status().message(),
            "s.txt: line 2, column 5: 'T' (0x54) is not a-z or space");
  auto crlf = parseSamples("ok\r\n", "s.txt");
  ASSERT_FALSE(crlf);
  EXPECT_EQ(crlf.status().message(),
            "s.txt: line 1, column 3: 0x0d is not a-z or space");
  auto blank = parseSamples("ok\n\nok\n", "s.txt");
  ASSERT_FALSE(blank);
  EXPECT_EQ(blank.status().message(),
            "s.txt: line 2 is empty, expected a sample");
  auto empty = parseSamples("", "s.txt");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.status().message(),
            "s.txt: empty, expected one sample per line");
}

TEST(MetricsTest, WordListFileLoadsAndAMissingOneIsNamed) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::ofstream(dir.file("words")) << "Apple\nbanana's\ncherry\n";
  auto d = Dictionary::fromWordListFile(dir.file("words"), "english");
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ(d->name(), "english");
  EXPECT_EQ(d->source(), dir.file("words"));
  EXPECT_EQ(d->size(), 2);
  EXPECT_TRUE(d->contains("apple"));

  auto missing = Dictionary::fromWordListFile(dir.file("nope"), "english");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().message(),
            dir.file("nope") + ": cannot open: no such file or directory");

  std::ofstream(dir.file("junk")) << "O'Neil\n123\n";
  auto junk = Dictionary::fromWordListFile(dir.file("junk"), "english");
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.status().message().find("the word list is empty"),
            std::string::npos);
}

TEST(MetricsTest, SystemWordListFoldsProperNounsAndDropsPossessives) {
  const char *path = "/usr/share/dict/words";
  if (!std::ifstream(path))
    GTEST_SKIP() << path << " is not installed (wamerican)";
  auto d = Dictionary::fromWordListFile(path, "english");
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_TRUE(d->contains("house"));
  EXPECT_TRUE(d->contains("london")); // from "London"
  EXPECT_FALSE(d->contains("houses's"));
  EXPECT_GT(d->droppedLines(), 0); // the "'s" forms
}

TEST(MetricsTest, SplitVocabularyDropsTheWordsTheBoundaryCuts) {
  // 200 symbols: test is [190, 200) = "rs word zz"; "rs" and "zz" touch the
  // split's ends, so only "word" is in its vocabulary.
  std::string text(190, ' ');
  for (size_t i = 0; i < text.size(); ++i)
    if (i % 5 != 0)
      text[i] = 'q';
  text += "rs word zz";
  auto corpus = Corpus::fromText(text, "c");
  ASSERT_TRUE(corpus) << corpus.status().message();
  Dictionary d = Dictionary::fromSplit(*corpus, Split::Test, "test_split");
  EXPECT_EQ(d.size(), 1);
  EXPECT_TRUE(d.contains("word"));
  EXPECT_EQ(d.source(), "c (test split)");
}

TEST(MetricsTest, ReferenceChunksFollowTheSampleLengthsUntilTheSplitEnds) {
  auto corpus = Corpus::fromText("abc defghij", "c");
  ASSERT_TRUE(corpus);
  std::vector<std::string> chunks = referenceChunks(corpus->all(), {3, 4, 5});
  EXPECT_EQ(chunks, (std::vector<std::string>{"abc", " def"}));
  EXPECT_EQ(referenceChunks(corpus->all(), {11}),
            std::vector<std::string>{"abc defghij"});
}

} // namespace
} // namespace aoarm::metrics
