// A causal model's decode_step run one slot at a time: the KV cache.
//
// decode_step (docs/program.md) maps tokens (and an order) to logits for
// every slot. In a causal model the logits of slot t depend only on slots
// 0..t, and only through attention do rows read other rows. So generating
// slot by slot needs, besides the current row of every value, the earlier
// rows of exactly the values attention reads as keys and values: those are
// kept [B, L, F] (the cache), every other value is kept for the current row
// only ([B, F]). Each step computes row t of every instruction with the same
// reference kernels, called on one row at a time, so its logits are
// bit-identical to a full decode_step run on the same tokens (a test checks
// it). Token and position values are recomputed whole each step: they are
// [B, L] integers, and tokens change as slots are filled.
#pragma once

#include "runtime/cpu/Executor.h"

namespace aoarm::cpu {

template <typename T> class SlotDecoder {
public:
  /// Checks that `decode` (a decode_step) can run slot by slot: only
  /// row-wise ops and causal or strict_causal self-attention, outputs
  /// "logits" [B, L, V] and "positions" [B, L]. Sized for `batch` rows. The
  /// executor gives the parameters and config and must outlive the decoder.
  static StatusOr<SlotDecoder> create(const Executor<T> &executor,
                                      Program decode, int64_t batch);

  int64_t batch() const { return batch_; }
  int64_t seqLen() const { return seqLen_; }
  int64_t vocab() const { return vocab_; }
  /// True when decode_step reads an order (any-order models).
  bool needsOrder() const { return orderValue_ >= 0; }

  /// Starts a new batch of sequences at slot 0. `orders` ([B, L], each row
  /// a permutation) when needsOrder(), else nullptr.
  Status begin(const int32_t *orders);

  /// Computes slot `slot`, which must be the next one since begin().
  /// `tokens` [B, L] in text order: the tokens of the positions the earlier
  /// slots predicted (the others are read but cannot matter). Writes the
  /// slot's logits [B, V] and the text position each row predicts [B].
  Status step(const int32_t *tokens, int64_t slot, std::vector<T> &logits,
              std::vector<int32_t> &positions);

private:
  struct Value {
    int64_t features = 0;     // F of a real [B, L, F] value
    bool cached = false;      // keeps every row (read as attention k or v)
    std::vector<T> rows;      // [B, F] the current slot's rows
    std::vector<T> all;       // [B, L, F] when cached
    std::vector<int32_t> ints; // [B, L] integer values
    std::vector<int32_t> column; // [B] integer values at the current slot
    const T *param = nullptr;  // parameters: a view of the weights
    int64_t paramRows = 0;     // parameters: the leading dimension
  };

  SlotDecoder() = default;

  const Executor<T> *executor_ = nullptr;
  Program program_;
  std::vector<Value> values_;
  std::vector<const T *> paramViews_; // per instruction, for `param`
  std::vector<int32_t> orders_;       // [B, L]
  int64_t batch_ = 0, seqLen_ = 0, vocab_ = 0, heads_ = 0;
  int32_t bosToken_ = -1;
  double ropeBase_ = 10000.0, normEps_ = 1e-5;
  int orderValue_ = -1, logitsValue_ = -1, positionsValue_ = -1;
  int64_t nextSlot_ = 0;
};

extern template class SlotDecoder<float>;
extern template class SlotDecoder<double>;

} // namespace aoarm::cpu
