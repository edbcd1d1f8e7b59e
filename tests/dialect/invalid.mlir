// RUN: aoarm-opt %s -split-input-file -verify-diagnostics

// One verifier rule per split. Each model is valid but for the one line
// marked; shapes are written as integers (and tokens with `length`) where
// the rule needs static shapes, so no pass has to run first.

// -----
// Config: every key must be known; the error lists the valid ones.

// expected-error @+1 {{unknown config key 'dropout'; valid keys: vocab, d_model, n_heads, n_layers, d_ff, seq_len, rope_base, norm_eps, bos_token, mask_token}}
aoarm.model @unknown_key config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, dropout = 1} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Config: integer keys take integers.

// expected-error @+1 {{config key 'vocab' must be an integer, got 2.500000e+00 : f64}}
aoarm.model @float_vocab config {vocab = 2.5, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Config: float keys take numbers.

// expected-error @+1 {{config key 'rope_base' must be a number, got "high"}}
aoarm.model @string_rope_base config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, rope_base = "high"} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Config: integer keys have a minimum.

// expected-error @+1 {{config key 'n_layers' must be >= 1, got 0}}
aoarm.model @zero_layers config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 0, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Config: integer keys fit in int32 (token ids and positions are int32).

// expected-error @+1 {{config key 'vocab' must be <= 2147483647, got 4294967296}}
aoarm.model @huge_vocab config {vocab = 4294967296, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Config: float keys must be positive and finite.

// expected-error @+1 {{config key 'norm_eps' must be a finite number > 0, got 0}}
aoarm.model @zero_eps config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, norm_eps = 0.0} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Config: the required keys.

// expected-error @+1 {{config is missing required key 'n_heads'}}
aoarm.model @no_heads config {vocab = 28, d_model = 8, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Config: heads split d_model evenly.

// expected-error @+1 {{n_heads (3) must divide d_model (8), got remainder 2}}
aoarm.model @heads_do_not_divide config {vocab = 28, d_model = 8, n_heads = 3, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Config: special tokens are token ids.

// expected-error @+1 {{bos_token (28) must be below vocab (28)}}
aoarm.model @bos_out_of_vocab config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 28} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Ops that read a config key need it.

aoarm.model @no_bos config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  // expected-error @+1 {{'aoarm.shift_right' op needs config key 'bos_token' in the model's config}}
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// The body of a model is ops of the model.

// expected-error @+1 {{'aoarm.tokens' op expects parent op to be one of 'aoarm.model, aoarm.layers}}
%x = aoarm.tokens

// -----
// A model computes no inputs of its own: its body takes no arguments.

// expected-error @+1 {{'aoarm.model' op body must take no arguments (inputs are aoarm.tokens, aoarm.order and aoarm.time), got 1}}
aoarm.model @body_argument config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
^bb0(%arg: tensor<*xi32>):
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// The model returns the loss of an objective.

// expected-error @+1 {{'aoarm.model' op the returned loss must come from an objective (aoarm.next_token_loss, aoarm.next_slot_loss, aoarm.mdlm_loss), got 'aoarm.add'}}
aoarm.model @return_not_objective config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  %twice = aoarm.add %loss, %loss : tensor<f32>, tensor<f32>
  aoarm.return %twice
}

// -----
// The objective scores the step's tokens.

aoarm.model @targets_not_tokens config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  // expected-error @+1 {{'aoarm.next_token_loss' op targets must be the step's tokens (aoarm.tokens) in text order, got 'aoarm.shift_right'}}
  %loss = aoarm.next_token_loss %logits, %in
  aoarm.return %loss
}

// -----
// Target leak: a left-to-right loss over unshifted tokens.

aoarm.model @unshifted_next_token config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  // expected-note @+1 {{the target's content reaches the prediction here}}
  %x = aoarm.tokens
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %x, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  // expected-error @+1 {{'aoarm.next_token_loss' op prediction at slot t can see its own target: the tokens reach the logits unshifted, so slot t sees x[t]; use aoarm.shift_right}}
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Target leak: an any-order causal decoder without aoarm.shift_right.

aoarm.model @unshifted_causal_decoder config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, rope_base = 10000.0} {
  %x = aoarm.tokens
  %pi = aoarm.order
  // expected-note @+1 {{the target's content reaches the prediction here}}
  %xs = aoarm.permute %x by %pi
  %lead = aoarm.lead %pi
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %xs, %e
  %q = aoarm.rope %h at %lead
  %o = aoarm.attention %q, %h, %h mask causal
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %o, %w
  // expected-error @+1 {{'aoarm.next_slot_loss' op prediction at slot t can see its own target: slot t holds the very token it predicts; shift the tokens right (aoarm.shift_right) before a causal decoder}}
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}

// -----
// Target leak: the tokens are permuted by another order than the loss's.

aoarm.model @other_order config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %sigma = aoarm.order
  // expected-note @+1 {{the target's content reaches the prediction here}}
  %xs = aoarm.permute %x by %sigma
  %in = aoarm.shift_right %xs
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  // expected-error @+1 {{'aoarm.next_slot_loss' op prediction at slot t can see its own target: the tokens are put in another order than the loss's (the loss predicts x[pi(t)] for its own perm)}}
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}

// -----
// Target leak: an any-order loss over tokens left in text order.

aoarm.model @not_permuted config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  // expected-note @+1 {{the target's content reaches the prediction here}}
  %x = aoarm.tokens
  %pi = aoarm.order
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  // expected-error @+1 {{'aoarm.next_slot_loss' op prediction at slot t can see its own target: the tokens enter in text order but the loss predicts in the structural order of its perm; use aoarm.permute}}
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}

// -----
// Target leak, the two-stream mistake: the query stream's strict_causal
// attention takes its queries from the content stream, which holds the
// very token each slot predicts.

aoarm.model @query_from_content config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, rope_base = 10000.0} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi
  %lag = aoarm.lag %pi
  %lead = aoarm.lead %pi
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %xs, %e
  %q = aoarm.rope %h at %lead
  %k = aoarm.rope %h at %lag
  // expected-note @+1 {{the target's content reaches the prediction here}}
  %o = aoarm.attention %q, %k, %h mask strict_causal
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %o, %w
  // expected-error @+1 {{'aoarm.next_slot_loss' op prediction at slot t can see its own target: the strict_causal query carries its own slot's content; a two-stream query must come from the query stream, not from the content it attends to}}
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}

// -----
// Target leak: bidirectional attention under a left-to-right loss.

aoarm.model @bidirectional_decoder config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  // expected-note @+1 {{the target's content reaches the prediction here}}
  %o = aoarm.attention %h, %h, %h mask bidirectional
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %o, %w
  // expected-error @+1 {{'aoarm.next_token_loss' op prediction at slot t can see its own target: bidirectional attention lets every slot see every target; it fits mdlm_loss over masked tokens only}}
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Target leak: an MDLM encoder fed the unmasked tokens.

aoarm.model @mdlm_unmasked config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, mask_token = 27} {
  // expected-note @+1 {{the target's content reaches the prediction here}}
  %x = aoarm.tokens
  %t = aoarm.time
  %z = aoarm.mask %x at %t schedule loglinear
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %x, %e
  %o = aoarm.attention %h, %h, %h mask bidirectional
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %o, %w
  // expected-error @+1 {{'aoarm.mdlm_loss' op prediction at slot t can see its own target: the logits see the unmasked tokens; feed the encoder aoarm.mask of the targets}}
  %loss = aoarm.mdlm_loss %logits, %x, %z, %t
  aoarm.return %loss
}

// -----
// mdlm_loss scores the masked slots of aoarm.mask of its own targets.

aoarm.model @mdlm_not_masked config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, mask_token = 27} {
  %x = aoarm.tokens
  %t = aoarm.time
  %z = aoarm.mask %x at %t schedule loglinear
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %z, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  // expected-error @+1 {{'aoarm.mdlm_loss' op masked tokens must be aoarm.mask of the same targets at the same t, got 'aoarm.tokens'}}
  %loss = aoarm.mdlm_loss %logits, %x, %x, %t
  aoarm.return %loss
}

// -----
// mdlm_loss: the mask must be drawn at the loss's own t.

aoarm.model @mdlm_other_time config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, mask_token = 27} {
  %x = aoarm.tokens
  %t = aoarm.time
  %s = aoarm.time
  %z = aoarm.mask %x at %s schedule loglinear
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %z, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  // expected-error @+1 {{'aoarm.mdlm_loss' op masked tokens must be aoarm.mask of the same targets at the same t, got aoarm.mask at another t}}
  %loss = aoarm.mdlm_loss %logits, %x, %z, %t
  aoarm.return %loss
}

// -----
// Rope positions come from an order or from aoarm.iota, not from an
// argument of unknown meaning.

aoarm.model @rope_block_argument config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, rope_base = 10000.0} {
^bb0(%pos: tensor<*xi32>):
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.rope' op positions must come from an order (aoarm.lag, aoarm.lead) or from aoarm.iota, got a block argument}}
  %hr = aoarm.rope %h at %pos
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %hr, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Rope positions: token ids are not positions.

aoarm.model @rope_from_tokens config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, rope_base = 10000.0} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.rope' op positions must come from an order (aoarm.lag, aoarm.lead) or from aoarm.iota, got 'aoarm.shift_right'}}
  %hr = aoarm.rope %h at %in
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %hr, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Rope rotates pairs of a head: the head dimension must be even.

aoarm.model @odd_head_dim config {vocab = 28, d_model = 6, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, rope_base = 10000.0} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %pos = aoarm.iota %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 6] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x6xf32>
  // expected-error @+1 {{'aoarm.rope' op head dimension must be even under rope, got 3 (6 features / 2 heads)}}
  %hr = aoarm.rope %h at %pos : tensor<?x4x6xf32>, tensor<?x4xi32>
  %w = aoarm.param "head.w" [6, 28] f32 normal(0.02)
  %logits = aoarm.head %hr, %w : tensor<?x4x6xf32>, tensor<6x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Attention splits its features into n_heads heads.

aoarm.model @attention_heads config {vocab = 28, d_model = 8, n_heads = 4, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %wq = aoarm.param "wq" [8, 6] f32 normal(0.02)
  %q = aoarm.linear %h, %wq : tensor<?x4x8xf32>, tensor<8x6xf32>
  // expected-error @+1 {{'aoarm.attention' op n_heads (4) must divide the features (6), got remainder 2}}
  %o = aoarm.attention %q, %q, %q mask causal : tensor<?x4x6xf32>, tensor<?x4x6xf32>, tensor<?x4x6xf32>
  %w = aoarm.param "head.w" [6, 28] f32 normal(0.02)
  %logits = aoarm.head %o, %w : tensor<?x4x6xf32>, tensor<6x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Parameter shape against its use: linear weight rows are the input's
// features.

aoarm.model @linear_rows config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %w1 = aoarm.param "w1" [6, 8] f32 normal(0.02)
  // expected-error @+1 {{'aoarm.linear' op weight rows (the input's features) must be 8, got 6}}
  %u = aoarm.linear %h, %w1 : tensor<?x4x8xf32>, tensor<6x8xf32>
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %u, %w : tensor<?x4x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Parameter shape against its use: the head maps to vocab columns.

aoarm.model @head_columns config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %w = aoarm.param "head.w" [8, 27] f32 normal(0.02)
  // expected-error @+1 {{'aoarm.head' op weight columns (vocab) must be 28, got 27}}
  %logits = aoarm.head %h, %w : tensor<?x4x8xf32>, tensor<8x27xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x27xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Parameter shape against its use: the embedding has vocab rows.

aoarm.model @embedding_rows config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [27, 8] f32 normal(0.02)
  // expected-error @+1 {{'aoarm.embed' op embedding table rows (vocab) must be 28, got 27}}
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<27x8xf32>
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %h, %w : tensor<?x4x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Parameter shape against its use: a norm's gain has the input's features.

aoarm.model @gain_size config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %g = aoarm.param "norm.g" [6] f32 ones
  // expected-error @+1 {{'aoarm.rmsnorm' op gain size (the input's features) must be 8, got 6}}
  %hn = aoarm.rmsnorm %h, %g : tensor<?x4x8xf32>, tensor<6xf32>
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %hn, %w : tensor<?x4x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Logits are as wide as the vocabulary.

aoarm.model @logits_width config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  // expected-error @+1 {{'aoarm.next_token_loss' op logits width (vocab) must be 28, got 8}}
  %loss = aoarm.next_token_loss %h, %x : tensor<?x4x8xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Residual add of two differently shaped activations.

aoarm.model @add_shapes config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %w1 = aoarm.param "w1" [8, 16] f32 normal(0.02)
  %u = aoarm.linear %h, %w1 : tensor<?x4x8xf32>, tensor<8x16xf32>
  // expected-error @+1 {{'aoarm.add' op lhs and rhs must have the same shape, got [?, 4, 8] and [?, 4, 16]}}
  %r = aoarm.add %h, %u : tensor<?x4x8xf32>, tensor<?x4x16xf32>
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %r, %w : tensor<?x4x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Attention: keys and values pair up slot by slot.

aoarm.model @key_value_shapes config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %wv = aoarm.param "wv" [8, 16] f32 normal(0.02)
  %v = aoarm.linear %h, %wv : tensor<?x4x8xf32>, tensor<8x16xf32>
  // expected-error @+1 {{'aoarm.attention' op key and value must have the same shape, got [?, 4, 8] and [?, 4, 16]}}
  %o = aoarm.attention %h, %h, %v mask causal : tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x16xf32>
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %o, %w : tensor<?x4x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Attention: queries and keys have the same features.

aoarm.model @query_key_features config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %wq = aoarm.param "wq" [8, 16] f32 normal(0.02)
  %q = aoarm.linear %h, %wq : tensor<?x4x8xf32>, tensor<8x16xf32>
  // expected-error @+1 {{'aoarm.attention' op query features (the key's features) must be 8, got 16}}
  %o = aoarm.attention %q, %h, %h mask causal : tensor<?x4x16xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>
  %w = aoarm.param "head.w" [16, 28] f32 normal(0.02)
  %logits = aoarm.head %o, %w : tensor<?x4x16xf32>, tensor<16x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Attention: a causal mask pairs query slot t with key slot t.

aoarm.model @causal_lengths config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %q = aoarm.param "q" [1, 2, 8] f32 normal(0.02)
  // expected-error @+1 {{'aoarm.attention' op query slots under a causal mask (the key's slots) must be 4, got 2}}
  %o = aoarm.attention %q, %h, %h mask causal : tensor<1x2x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %o, %w : tensor<1x2x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<1x2x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Tokens, once specialized, are seq_len long.

aoarm.model @tokens_length config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  // expected-error @+1 {{'aoarm.tokens' op length must be seq_len = 4, got 8}}
  %x = aoarm.tokens length 8
  %in = aoarm.shift_right %x : tensor<?x8xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h = aoarm.embed %in, %e : tensor<?x8xi32>, tensor<28x8xf32>
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %h, %w : tensor<?x8x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x8x28xf32>, tensor<?x8xi32>
  aoarm.return %loss
}

// -----
// Parameter dimensions are integers or integer config keys.

aoarm.model @unknown_dim_key config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.param' op parameter 'mlp.w1' dimension 1 is 'd_ff', not an integer config key of the model; keys: bos_token, d_model, n_heads, n_layers, seq_len, vocab}}
  %w1 = aoarm.param "mlp.w1" [d_model, d_ff] f32 normal(0.02)
  %u = aoarm.linear %h, %w1
  %w = aoarm.param "head.w" [d_ff, vocab] f32 normal(0.02)
  %logits = aoarm.head %u, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Parameter dimensions are positive.

aoarm.model @zero_dim config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{'aoarm.param' op parameter 'embed' dimension 1 must be positive, got 0}}
  %e = aoarm.param "embed" [vocab, 0] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Parameters have at least one dimension.

aoarm.model @empty_shape config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.param' op parameter 'norm.g' needs a shape}}
  %g = aoarm.param "norm.g" [] f32 ones
  %h = aoarm.rmsnorm %h0, %g : tensor<*xf32>, tensor<f32>
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Parameter dimensions are integers or config keys (the generic form could
// hold anything).

aoarm.model @float_dim config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{'aoarm.param' op parameter 'embed' dimension 1 must be an integer or a config key, got 1.500000e+00 : f64}}
  %e = "aoarm.param"() <{dtype = f32, init = 0 : i32, name = "embed", shape = [28, 1.5], std = 2.0e-02 : f64}> : () -> tensor<*xf32>
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Ranks are checked once known: an embedding table is [vocab, d].

aoarm.model @table_rank config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [28] f32 normal(0.02)
  // expected-error @+1 {{'aoarm.embed' op embedding table [vocab, d] must have rank 2, got 1 (shape [28])}}
  %h = aoarm.embed %in, %e : tensor<*xi32>, tensor<28xf32>
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// A broadcast vector has the features of the shape it is broadcast to.

aoarm.model @broadcast_size config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %v = aoarm.param "query_init" [6] f32 normal(0.02)
  // expected-error @+1 {{'aoarm.broadcast' op vector size (the features of the target shape) must be 8, got 6}}
  %g = aoarm.broadcast %v to %h0 : tensor<6xf32>, tensor<?x4x8xf32>
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %g, %w : tensor<?x4x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Parameter names are checkpoint names: dotted words.

aoarm.model @bad_param_name config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{'aoarm.param' op parameter name 'embed..table' must be dotted words of letters, digits and _ (e.g. "attn.wq")}}
  %e = aoarm.param "embed..table" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Parameter names are unique.

aoarm.model @duplicate_param config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-note @+1 {{first declared here}}
  %e = aoarm.param "w" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.param' op parameter 'w' is declared twice; checkpoint names must be unique}}
  %w = aoarm.param "w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Parameter names are unique within a layer (per prefix).

aoarm.model @duplicate_layer_param config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 2, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) {
    // expected-note @+1 {{first declared here}}
    %g1 = aoarm.param "norm.g" [d_model] f32 ones
    // expected-error @+1 {{'aoarm.param' op parameter 'layers.<i>.norm.g' is declared twice; checkpoint names must be unique}}
    %g2 = aoarm.param "norm.g" [d_model] f32 ones
    %a = aoarm.rmsnorm %hi, %g1
    %b = aoarm.rmsnorm %a, %g2
    aoarm.yield %b
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Initializers: normal needs a std.

aoarm.model @normal_without_std config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{'aoarm.param' op parameter 'embed': normal(std) needs std > 0, got no std}}
  %e = aoarm.param "embed" [vocab, d_model] f32 normal
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Initializers: a std is positive.

aoarm.model @normal_negative_std config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{'aoarm.param' op parameter 'embed': normal(std) needs std > 0, got -0.02}}
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(-0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Initializers: zeros and ones take no std.

aoarm.model @zeros_with_std config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{'aoarm.param' op parameter 'embed': zeros takes no std, got 0.02}}
  %e = aoarm.param "embed" [vocab, d_model] f32 zeros(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Initializers: the three kinds.

aoarm.model @unknown_init config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{unknown initializer 'uniform', expected normal(std), zeros or ones}}
  %e = aoarm.param "embed" [vocab, d_model] f32 uniform(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Parameters are f32 master weights.

aoarm.model @bf16_param config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{'aoarm.param' op parameter 'embed' dtype must be f32 (master weights; storage precision is chosen by codegen), got 'bf16'}}
  %e = aoarm.param "embed" [vocab, d_model] bf16 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Layers: the repeat count is an integer config key.

aoarm.model @repeat_not_a_key config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.layers' op repeat count 'n_blocks' must be an integer config key of the model; keys: bos_token, d_model, n_heads, n_layers, seq_len, vocab}}
  %h = aoarm.layers "layers" repeat n_blocks (%hi = %h0) {
    %g = aoarm.param "norm.g" [d_model] f32 ones
    %a = aoarm.rmsnorm %hi, %g
    aoarm.yield %a
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Layers: the repeat count is an integer, not a float key.

aoarm.model @repeat_float_key config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27, norm_eps = 1.0e-5} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.layers' op repeat count 'norm_eps' must be an integer config key of the model; keys: bos_token, d_model, n_heads, n_layers, seq_len, vocab}}
  %h = aoarm.layers "layers" repeat norm_eps (%hi = %h0) {
    %g = aoarm.param "norm.g" [d_model] f32 ones
    %a = aoarm.rmsnorm %hi, %g
    aoarm.yield %a
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Layers: one yielded value per carried value.

aoarm.model @yield_count config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) {
    %g = aoarm.param "norm.g" [d_model] f32 ones
    %a = aoarm.rmsnorm %hi, %g
    // expected-error @+1 {{'aoarm.yield' op must yield 1 value (one per carried value), got 2}}
    aoarm.yield %a, %hi
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Layers: a yielded value has the shape of the value it replaces.

aoarm.model @yield_shape config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens length 4
  %in = aoarm.shift_right %x : tensor<?x4xi32>
  %e = aoarm.param "embed" [28, 8] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e : tensor<?x4xi32>, tensor<28x8xf32>
  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) : tensor<?x4x8xf32> {
    %w1 = aoarm.param "w1" [8, 16] f32 normal(0.02)
    %u = aoarm.linear %hi, %w1 : tensor<?x4x8xf32>, tensor<8x16xf32>
    // expected-error @+1 {{'aoarm.yield' op yielded value #0 and the carried value must have the same shape, got [?, 4, 16] and [?, 4, 8]}}
    aoarm.yield %u : tensor<?x4x16xf32>
  }
  %w = aoarm.param "head.w" [8, 28] f32 normal(0.02)
  %logits = aoarm.head %h, %w : tensor<?x4x8xf32>, tensor<8x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x4x28xf32>, tensor<?x4xi32>
  aoarm.return %loss
}

// -----
// Layers: in the generic form a body argument could disagree with the value
// it carries.

aoarm.model @layers_argument_type config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 2, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.layers' op body argument #0 must have the type of its carried value, 'tensor<*xf32>', got 'tensor<*xi32>'}}
  %h = "aoarm.layers"(%h0) <{count = "n_layers", prefix = "layers"}> ({
  ^bb0(%a: tensor<*xi32>):
    %s = aoarm.shift_right %a
    %q = aoarm.embed %s, %e
    "aoarm.yield"(%q) : (tensor<*xf32>) -> ()
  }) : (tensor<*xf32>) -> tensor<*xf32>
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Layers need a name prefix for their parameters.

aoarm.model @empty_prefix config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.layers' op needs a non-empty name prefix, e.g. "layers"}}
  %h = aoarm.layers "" repeat n_layers (%hi = %h0) {
    %g = aoarm.param "norm.g" [d_model] f32 ones
    %a = aoarm.rmsnorm %hi, %g
    aoarm.yield %a
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Layers carry at least one value.

aoarm.model @layers_carry_nothing config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  // expected-error @+1 {{'aoarm.layers' op must carry at least one value}}
  aoarm.layers "layers" repeat n_layers () {
    aoarm.yield
  }
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// The perm type's length is positive.

aoarm.model @perm_zero config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4, bos_token = 27} {
  %x = aoarm.tokens
  %pi = aoarm.order
  // expected-error @+1 {{perm length must be positive, got 0}}
  %xs = aoarm.permute %x by %pi : tensor<*xi32>, !aoarm.perm<0>
  %in = aoarm.shift_right %xs
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}

// -----

aoarm.model @embed_positions config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %lead = aoarm.lead %pi
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  // expected-error @+1 {{embeds token ids, got positions from 'aoarm.lead'; positions reach the model through aoarm.rope}}
  %h = aoarm.embed %lead, %e
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}
