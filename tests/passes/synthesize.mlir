// RUN: aoarm-opt %s -aoarm-specialize -aoarm-synthesize -split-input-file -verify-diagnostics | FileCheck %s

// A one-layer causal AO-ARM: the forward clones, the backward walks it in
// reverse, a value used three times (the normed input of q, k, v) sums its
// gradients, and every parameter gets one AdamW update after clipping.

// CHECK-LABEL: aoarm.model @tiny
aoarm.model @tiny config {vocab = 28, bos_token = 27, d_model = 8, n_heads = 2,
                          n_layers = 1, seq_len = 4, rope_base = 10000.0} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi
  %in = aoarm.shift_right %xs
  %lag = aoarm.lag %pi
  %lead = aoarm.lead %pi
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %g = aoarm.param "norm.g" [d_model] f32 ones
  %a = aoarm.rmsnorm %h, %g
  %wq = aoarm.param "wq" [d_model, d_model] f32 normal(0.02)
  %wk = aoarm.param "wk" [d_model, d_model] f32 normal(0.02)
  %wv = aoarm.param "wv" [d_model, d_model] f32 normal(0.02)
  %q = aoarm.linear %a, %wq
  %k = aoarm.linear %a, %wk
  %v = aoarm.linear %a, %wv
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
// CHECK:   %[[EL:.*]] = aoarm.next_slot_loss
// CHECK-NOT: aoarm.vjp
// CHECK:   aoarm.step_return ["loss"] %[[EL]] : tensor<f32>
// CHECK: aoarm.step "train_step" {
// CHECK-DAG: %[[E:.*]] = aoarm.param "embed" [28, 8]
// CHECK-DAG: %[[WQ:.*]] = aoarm.param "wq" [8, 8]
// CHECK:   %[[LOSS:.*]] = aoarm.next_slot_loss %[[LOGITS:.*]], %{{.*}}, %{{.*}} :
// CHECK:   %[[DLOGITS:.*]] = aoarm.vjp "next_slot_loss"(%[[LOGITS]], {{.*}}) : ({{.*}}) -> tensor<?x4x28xf32>
// CHECK:   %[[DHEAD:.*]]:2 = aoarm.vjp "head"(%[[DLOGITS]],
// CHECK:   %[[DATT:.*]]:3 = aoarm.vjp "attention"(%[[DHEAD]]#0,
// CHECK:   aoarm.vjp "rope"(%[[DATT]]#1,
// CHECK:   aoarm.vjp "rope"(%[[DATT]]#0,
// CHECK:   %[[DV:.*]]:2 = aoarm.vjp "linear"(%[[DATT]]#2,
// CHECK:   %[[DK:.*]]:2 = aoarm.vjp "linear"
// CHECK:   %[[SUM1:.*]] = aoarm.add %[[DV]]#0, %[[DK]]#0
// CHECK:   %[[DQ:.*]]:2 = aoarm.vjp "linear"
// CHECK:   %[[SUM2:.*]] = aoarm.add %[[SUM1]], %[[DQ]]#0
// CHECK:   %[[DNORM:.*]]:2 = aoarm.vjp "rmsnorm"(%[[SUM2]],
// The residual: the embedding's output gets the head's gradient and the
// norm's.
// CHECK:   %[[DH:.*]] = aoarm.add %[[DHEAD]]#0, %[[DNORM]]#0
// CHECK:   %[[DE:.*]] = aoarm.vjp "embed"(%[[DH]], {{.*}}, %[[E]])
// CHECK:   %[[S:.*]] = aoarm.clip_scale %[[DE]], %[[DNORM]]#1, %[[DQ]]#1, %[[DK]]#1, %[[DV]]#1, %[[DHEAD]]#1 :
// CHECK:   aoarm.adamw %[[E]], %[[DE]], %[[S]] : tensor<28x8xf32>
// CHECK:   aoarm.adamw %[[WQ]], %[[DQ]]#1, %[[S]] : tensor<8x8xf32>
// CHECK-COUNT-3: aoarm.adamw
// CHECK:   aoarm.step_return ["loss"] %[[LOSS]] : tensor<f32>
// decode_step: the forward up to the logits, and pi(t), the text position
// slot t predicts; no loss, no backward.
// CHECK: aoarm.step "decode_step" {
// CHECK:   %[[DPI:.*]] = aoarm.order
// CHECK-NOT: aoarm.next_slot_loss
// CHECK-NOT: aoarm.vjp
// CHECK:   %[[DLOGITS:.*]] = aoarm.head
// CHECK-NEXT: %[[DPOS:.*]] = aoarm.lead %[[DPI]] : !aoarm.perm<4>{{ *$}}
// CHECK-NEXT: aoarm.step_return ["logits", "positions"] %[[DLOGITS]], %[[DPOS]] : tensor<?x4x28xf32>, tensor<?x4xi32>
// CHECK: aoarm.return

// -----

// MDLM's decode_step is the denoiser on the sequence it is given: the mask
// op is cut out (tokens feed the embedding directly) and the time goes.
// CHECK-LABEL: aoarm.model @masked
aoarm.model @masked config {vocab = 28, mask_token = 27, d_model = 8,
                            n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %t = aoarm.time
  %z = aoarm.mask %x at %t schedule loglinear
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %h = aoarm.embed %z, %e
  %logits = aoarm.head %h, %w
  %loss = aoarm.mdlm_loss %logits, %x, %z, %t
  aoarm.return %loss
}
// CHECK: aoarm.step "decode_step" {
// CHECK-NEXT: %[[X:.*]] = aoarm.tokens
// CHECK-NOT: aoarm.time
// CHECK-NOT: aoarm.mask
// CHECK:   aoarm.embed %[[X]],
// CHECK:   %[[ML:.*]] = aoarm.head
// CHECK-NEXT: %[[MP:.*]] = aoarm.iota %[[X]]
// CHECK-NEXT: aoarm.step_return ["logits", "positions"] %[[ML]], %[[MP]]

// -----

aoarm.model @unused config {vocab = 28, bos_token = 27, d_model = 8,
                            n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  // expected-error @+1 {{parameter 'spare' does not influence the loss, so it would never train}}
  %spare = aoarm.param "spare" [d_model] f32 ones
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}
