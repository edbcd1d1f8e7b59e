// RUN: aoarm-opt %s -aoarm-specialize -aoarm-synthesize -aoarm-fuse -split-input-file | FileCheck %s

// D-RoPE: in every step the attention reads q and k unrotated with the lead
// and lag positions; the backward returns unrotated gradients, so no rope
// and no rope backward is left.

// CHECK-LABEL: aoarm.model @drope
aoarm.model @drope config {vocab = 28, bos_token = 27, d_model = 8, n_heads = 2,
                           n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi
  %in = aoarm.shift_right %xs
  %lag = aoarm.lag %pi
  %lead = aoarm.lead %pi
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %wq = aoarm.param "wq" [d_model, d_model] f32 normal(0.02)
  %wk = aoarm.param "wk" [d_model, d_model] f32 normal(0.02)
  %wv = aoarm.param "wv" [d_model, d_model] f32 normal(0.02)
  %q = aoarm.linear %h, %wq
  %k = aoarm.linear %h, %wk
  %v = aoarm.linear %h, %wv
  %qr = aoarm.rope %q at %lead
  %kr = aoarm.rope %k at %lag
  %o = aoarm.attention %qr, %kr, %v mask causal
  %h1 = aoarm.add %h, %o
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h1, %w
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}
// CHECK: aoarm.step "eval_step" {
// CHECK-NOT: aoarm.rope {{.*}} at
// CHECK:   aoarm.rope_attention
// CHECK: aoarm.step "train_step" {
// CHECK-DAG: %[[LAG:.*]] = aoarm.lag
// CHECK-DAG: %[[LEAD:.*]] = aoarm.lead
// CHECK:     %[[Q:.*]] = aoarm.linear %{{.*}}, %{{.*}} :
// CHECK:     %[[K:.*]] = aoarm.linear
// CHECK:     %[[V:.*]] = aoarm.linear
// CHECK-NOT: aoarm.rope {{.*}} at
// CHECK:     %[[O:.*]] = aoarm.rope_attention %[[Q]], %[[K]], %[[V]] at %[[LEAD]], %[[LAG]] mask causal : tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4xi32>, tensor<?x4xi32>
// CHECK:     %[[D:.*]]:3 = aoarm.vjp "rope_attention"(%{{.*}}, %[[Q]], %[[K]], %[[V]], %[[LEAD]], %[[LAG]]) {mask = "causal"}
// CHECK-NOT: aoarm.vjp "rope"
// The unrotated gradients go straight to the projections' backward.
// CHECK:     aoarm.vjp "linear"(%[[D]]#2,
// CHECK:     aoarm.vjp "linear"(%[[D]]#1,
// CHECK:     aoarm.vjp "linear"(%[[D]]#0,
// CHECK:   aoarm.step_return ["loss"]
// CHECK: aoarm.step "decode_step" {
// CHECK-NOT: aoarm.rope {{.*}} at
// CHECK:   aoarm.rope_attention
// CHECK: aoarm.return

// -----

// Two-stream attention: the rotated content keys feed both streams'
// attentions, so both fuse; the two key gradients, now unrotated, are
// summed as before.

// CHECK-LABEL: aoarm.model @twostream
aoarm.model @twostream config {vocab = 28, bos_token = 27, d_model = 8,
                               n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi
  %in = aoarm.shift_right %xs
  %lag = aoarm.lag %pi
  %lead = aoarm.lead %pi
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %g0 = aoarm.param "query_init" [d_model] f32 normal(0.02)
  %g = aoarm.broadcast %g0 to %h
  %wq = aoarm.param "wq" [d_model, d_model] f32 normal(0.02)
  %wk = aoarm.param "wk" [d_model, d_model] f32 normal(0.02)
  %q = aoarm.linear %h, %wq
  %k = aoarm.linear %h, %wk
  %qr = aoarm.rope %q at %lag
  %kr = aoarm.rope %k at %lag
  %o = aoarm.attention %qr, %kr, %h mask causal
  %gq = aoarm.linear %g, %wq
  %gqr = aoarm.rope %gq at %lead
  %go = aoarm.attention %gqr, %kr, %h mask causal
  %sum = aoarm.add %o, %go
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %sum, %w
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}
// CHECK: aoarm.step "train_step" {
// CHECK-NOT: aoarm.rope {{.*}} at
// CHECK:     aoarm.rope_attention %[[CQ:[^,]*]], %[[K:[^,]*]], %{{[^ ]*}} at %[[LAG:[^,]*]], %[[LAG]] mask causal
// CHECK:     aoarm.rope_attention %[[GQ:[^,]*]], %[[K]], %{{[^ ]*}} at %[[LEAD:[^,]*]], %[[LAG]] mask causal
// CHECK:     %[[DG:.*]]:3 = aoarm.vjp "rope_attention"(%{{.*}}, %[[GQ]], %[[K]], %{{.*}}, %[[LEAD]], %[[LAG]])
// CHECK:     %[[DC:.*]]:3 = aoarm.vjp "rope_attention"(%{{.*}}, %[[CQ]], %[[K]], %{{.*}}, %[[LAG]], %[[LAG]])
// CHECK-NOT: aoarm.vjp "rope"
// CHECK:     aoarm.add %[[DG]]#1, %[[DC]]#1
// CHECK:     aoarm.step_return

// -----

// Not fusable: the rotated query is also used by another op (so it must
// exist), and then its partner key stays rotated too. Attention without a
// rope on its query leaves the key's rope alone as well. Both compile.

// CHECK-LABEL: aoarm.model @unfusable
aoarm.model @unfusable config {vocab = 28, bos_token = 27, d_model = 8,
                               n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %pos = aoarm.iota %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %wk = aoarm.param "wk" [d_model, d_model] f32 normal(0.02)
  %k = aoarm.linear %h, %wk
  %qr = aoarm.rope %h at %pos
  %kr = aoarm.rope %k at %pos
  %o = aoarm.attention %qr, %kr, %h mask causal
  %o2 = aoarm.attention %h, %kr, %h mask causal
  %s = aoarm.add %o, %qr
  %s2 = aoarm.add %s, %o2
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %s2, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}
// CHECK: aoarm.step "train_step" {
// CHECK-NOT: aoarm.rope_attention
// CHECK:     aoarm.rope
// CHECK:     aoarm.attention
// CHECK:     aoarm.vjp "attention"
// CHECK:     aoarm.vjp "rope"
// CHECK:     aoarm.step_return
