// RUN: aoarm-opt %s | FileCheck %s
// RUN: aoarm-opt %s -aoarm-specialize | FileCheck %s

// The unshifted XLNet form: content at slot t is x[pi(t)]; the query stream
// starts from a vector broadcast to the content's shape (the shape only, no
// content) and sees content slots < t. The target-leak check accepts it.

// CHECK-LABEL: aoarm.model @xlnet
// CHECK: aoarm.attention {{.*}} mask strict_causal
aoarm.model @xlnet config {vocab = 28, d_model = 8, n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi
  %lead = aoarm.lead %pi
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %xs, %e
  %w0 = aoarm.param "q0" [d_model] f32 normal(0.02)
  %g = aoarm.broadcast %w0 to %h
  %wq = aoarm.param "wq" [d_model, d_model] f32 normal(0.02)
  %wk = aoarm.param "wk" [d_model, d_model] f32 normal(0.02)
  %q = aoarm.linear %g, %wq
  %k = aoarm.linear %h, %wk
  %qr = aoarm.rope %q at %lead
  %kr = aoarm.rope %k at %lead
  %o = aoarm.attention %qr, %kr, %h mask strict_causal
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %o, %w
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}
