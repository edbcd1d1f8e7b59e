// RUN: aoarm-opt %s -split-input-file -aoarm-specialize -verify-diagnostics

// Specs that verify as written (their shapes are still config keys) and
// fail once aoarm-specialize fixes every shape: the errors point at the
// line of the spec, also for ops copied out of an aoarm.layers.

// -----
// A weight written [d_ff, d_model] where [d_model, d_ff] was meant.

aoarm.model @swapped_weight config {vocab = 28, bos_token = 27, d_model = 8, n_heads = 2, n_layers = 2, d_ff = 16, seq_len = 4} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) {
    %w1 = aoarm.param "mlp.w1" [d_ff, d_model] f32 normal(0.02)
    // expected-error @+1 {{'aoarm.linear' op weight rows (the input's features) must be 8, got 16}}
    %u = aoarm.linear %hi, %w1
    aoarm.yield %u
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// A head written [d_model, d_model]: its columns must be the vocabulary.

aoarm.model @head_not_vocab config {vocab = 28, bos_token = 27, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, d_model] f32 normal(0.02)
  // expected-error @+1 {{'aoarm.head' op weight columns (vocab) must be 28, got 8}}
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// An embedding written [d_model, vocab].

aoarm.model @embedding_transposed config {vocab = 28, bos_token = 27, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [d_model, vocab] f32 normal(0.02)
  // expected-error @+1 {{'aoarm.embed' op embedding table rows (vocab) must be 28, got 8}}
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// d_model = 12 over 4 heads: heads of 3, which rope cannot rotate in pairs.

aoarm.model @odd_heads config {vocab = 28, bos_token = 27, d_model = 12, n_heads = 4, n_layers = 1, seq_len = 4, rope_base = 10000.0} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %pos = aoarm.iota %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) {
    // expected-error @+1 {{'aoarm.rope' op head dimension must be even under rope, got 3 (12 features / 4 heads)}}
    %r = aoarm.rope %hi at %pos
    aoarm.yield %r
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// A layer repeated by a key whose value is 0.

aoarm.model @zero_repeats config {vocab = 28, bos_token = 0, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.layers' op repeat count 'bos_token' must be a positive integer config key, got 0}}
  %h = aoarm.layers "layers" repeat bos_token (%hi = %h0) {
    %g = aoarm.param "norm.g" [d_model] f32 ones
    %a = aoarm.rmsnorm %hi, %g
    aoarm.yield %a
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}
