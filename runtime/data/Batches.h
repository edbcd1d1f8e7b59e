// Sequences for training and evaluation, as int32 token matrices [B, L].
//
// Training reads random crops: row b of step s starts at a position drawn
// from the stream (seed, Crop, s, b), so a resumed run sees exactly the
// batches it would have seen, and row b does not depend on the batch size.
// Evaluation reads the split as fixed non-overlapping chunks in order, so
// every run scores the same characters and bits per character are comparable.
#pragma once

#include "runtime/data/Text8.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace aoarm {

/// A batch of token sequences.
struct TokenBatch {
  int64_t batchSize = 0;       // B: rows
  int64_t seqLen = 0;          // L: tokens per row
  std::vector<int32_t> tokens; // [B, L] row-major
};

/// Random crops of one split for training.
class CropSampler {
public:
  /// Crops of `seqLen` tokens from `span` (which must outlive the sampler),
  /// `batchSize` per step; refuses a span shorter than `seqLen`.
  static StatusOr<CropSampler> create(TokenSpan span, int64_t batchSize,
                                      int64_t seqLen, uint64_t seed);

  /// The batch of training step `step`. // [B, L]
  TokenBatch batch(uint32_t step) const;
  /// Writes the batch of `step` into `out`, which holds B * L values.
  void fill(uint32_t step, int32_t *out) const; // [B, L]
  /// Where row `row` of step `step` starts in the span, in [0, size - L].
  int64_t cropStart(uint32_t step, uint32_t row) const;

  int64_t batchSize() const { return batchSize_; }
  int64_t seqLen() const { return seqLen_; }

private:
  CropSampler(TokenSpan span, int64_t batchSize, int64_t seqLen, uint64_t seed)
      : span_(std::move(span)), batchSize_(batchSize), seqLen_(seqLen),
        seed_(seed) {}

  TokenSpan span_;
  int64_t batchSize_;
  int64_t seqLen_;
  uint64_t seed_;
};

/// Fixed non-overlapping chunks of one split, in order, for evaluation.
class ChunkReader {
public:
  /// Chunks of `seqLen` tokens from `span` (which must outlive the reader);
  /// refuses a span shorter than one chunk.
  static StatusOr<ChunkReader> create(TokenSpan span, int64_t seqLen);

  /// floor(size / L): the tail shorter than L is dropped, so every chunk is
  /// full and no sequence sees a padding token. At most L - 1 characters of
  /// the split go unscored; numScoredTokens() says how many are scored.
  int64_t numChunks() const { return numChunks_; }
  int64_t numScoredTokens() const { return numChunks_ * seqLen_; }
  /// ceil(numChunks / batchSize).
  int64_t numBatches(int64_t batchSize) const;
  /// Chunks [batchIndex * batchSize, ...), at most `batchSize` of them: the
  /// last batch holds the remainder, so its B can be smaller. // [B, L]
  TokenBatch batch(int64_t batchIndex, int64_t batchSize) const;
  int64_t seqLen() const { return seqLen_; }

private:
  ChunkReader(TokenSpan span, int64_t seqLen)
      : span_(std::move(span)), seqLen_(seqLen),
        numChunks_(span_.size / seqLen) {}

  TokenSpan span_;
  int64_t seqLen_;
  int64_t numChunks_;
};

} // namespace aoarm
