// Can a prediction see its own target? A small dataflow analysis over a
// model's body, run by the model's verifier.
//
// For every value it tracks the reach: the largest offset d such that the
// value at slot t may depend on the target of slot t + d. Tokens in the
// order the objective predicts start at d = 0; aoarm.shift_right lowers d
// by one; causal attention keeps the reach of its keys, strict_causal lowers
// it by one, bidirectional makes it unbounded; positions and parameters
// carry no content. A prediction is sound when its logits' reach is < 0.
// This single rule covers the spec mistakes that silently train a model that
// cheats: an unshifted causal decoder, a two-stream query built from its own
// content, tokens permuted by another order than the loss's, an MDLM encoder
// fed unmasked tokens.
#pragma once

#include "mlir/Support/LogicalResult.h"

namespace aoarm {

class ModelOp;

/// Emits a located error (with a note where the target leaks in) when the
/// model's objective can see the token it predicts.
mlir::LogicalResult verifyNoTargetLeak(ModelOp model);

} // namespace aoarm
