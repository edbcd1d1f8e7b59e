#include "runtime/data/Batches.h"

#include "runtime/support/Random.h"

#include <algorithm>

namespace aoarm {

namespace {

void copyTokens(const uint8_t *from, int64_t count, int32_t *to) {
  std::copy(from, from + count, to);
}

} // namespace

StatusOr<CropSampler> CropSampler::create(TokenSpan span, int64_t batchSize,
                                          int64_t seqLen, uint64_t seed) {
  if (batchSize <= 0)
    return Status::errorf("batch size must be positive, got {}", batchSize);
  AOARM_RETURN_IF_ERROR(checkSequenceLength(span, seqLen));
  return CropSampler(std::move(span), batchSize, seqLen, seed);
}

int64_t CropSampler::cropStart(uint32_t step, uint32_t row) const {
  // Every start in [0, size - L] is equally likely, the last one included.
  uint64_t numStarts = static_cast<uint64_t>(span_.size - seqLen_ + 1);
  return static_cast<int64_t>(
      RandomStream(seed_, RandomPurpose::Crop, step, row)
          .uniformInt(numStarts));
}

void CropSampler::fill(uint32_t step, int32_t *out) const {
  for (int64_t row = 0; row < batchSize_; ++row)
    copyTokens(span_.data + cropStart(step, static_cast<uint32_t>(row)),
               seqLen_, out + row * seqLen_);
}

TokenBatch CropSampler::batch(uint32_t step) const {
  TokenBatch batch{batchSize_, seqLen_, {}};
  batch.tokens.resize(static_cast<size_t>(batchSize_ * seqLen_));
  fill(step, batch.tokens.data());
  return batch;
}

StatusOr<ChunkReader> ChunkReader::create(TokenSpan span, int64_t seqLen) {
  AOARM_RETURN_IF_ERROR(checkSequenceLength(span, seqLen));
  return ChunkReader(std::move(span), seqLen);
}

int64_t ChunkReader::numBatches(int64_t batchSize) const {
  if (batchSize <= 0)
    return 0;
  return (numChunks_ + batchSize - 1) / batchSize;
}

TokenBatch ChunkReader::batch(int64_t batchIndex, int64_t batchSize) const {
  const int64_t first = batchIndex * batchSize;
  // Out-of-range batch indices give an empty batch rather than a bad read.
  const int64_t rows =
      batchIndex < 0 || batchSize <= 0
          ? 0
          : std::clamp<int64_t>(numChunks_ - first, 0, batchSize);
  TokenBatch batch{rows, seqLen_, {}};
  batch.tokens.resize(static_cast<size_t>(rows * seqLen_));
  if (rows > 0)
    copyTokens(span_.data + first * seqLen_, rows * seqLen_,
               batch.tokens.data());
  return batch;
}

} // namespace aoarm
