// AO-ARM with plain RoPE: an ablation of drope.mlir.
//
// Same slots, order and loss as drope.mlir, but queries AND keys are
// rotated at the lagging position pi(t-1), where slot t's own token sits.
// No slot is told where its target pi(t) is: the model must predict "the
// next token of the order" without knowing its place in the text. Compare
// its loss with drope's to measure what the leading position buys.
aoarm.model @ao_plain_rope config {
  vocab = 28, bos_token = 27,
  d_model = 256, n_heads = 4, n_layers = 10, d_ff = 1024,
  seq_len = 128, rope_base = 10000.0, norm_eps = 1.0e-5
} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi      // x[pi(0)], ..., x[pi(L-1)]
  %in = aoarm.shift_right %xs        // BOS, x[pi(0)], ..., x[pi(L-2)]
  %lag = aoarm.lag %pi               // 0, pi(0), ..., pi(L-2)

  %embed = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %embed

  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) {
    // Attention: causal over the slots, q and k both at the lag position.
    %g1 = aoarm.param "attn_norm.g" [d_model] f32 ones
    %wq = aoarm.param "attn.wq" [d_model, d_model] f32 normal(0.02)
    %wk = aoarm.param "attn.wk" [d_model, d_model] f32 normal(0.02)
    %wv = aoarm.param "attn.wv" [d_model, d_model] f32 normal(0.02)
    %wo = aoarm.param "attn.wo" [d_model, d_model] f32 normal(0.02)
    %a = aoarm.rmsnorm %hi, %g1
    %q = aoarm.linear %a, %wq
    %k = aoarm.linear %a, %wk
    %v = aoarm.linear %a, %wv
    %qr = aoarm.rope %q at %lag
    %kr = aoarm.rope %k at %lag
    %o = aoarm.attention %qr, %kr, %v mask causal
    %attn = aoarm.linear %o, %wo
    %h1 = aoarm.add %hi, %attn

    // MLP.
    %g2 = aoarm.param "mlp_norm.g" [d_model] f32 ones
    %w1 = aoarm.param "mlp.w1" [d_model, d_ff] f32 normal(0.02)
    %w2 = aoarm.param "mlp.w2" [d_ff, d_model] f32 normal(0.02)
    %m = aoarm.rmsnorm %h1, %g2
    %u = aoarm.linear %m, %w1
    %act = aoarm.gelu %u
    %mlp = aoarm.linear %act, %w2
    %h2 = aoarm.add %h1, %mlp
    aoarm.yield %h2
  }

  %gf = aoarm.param "final_norm.g" [d_model] f32 ones
  %wout = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %hf = aoarm.rmsnorm %h, %gf
  %logits = aoarm.head %hf, %wout
  %loss = aoarm.next_slot_loss %logits, %x, %pi   // slot t predicts x[pi(t)]
  aoarm.return %loss
}
