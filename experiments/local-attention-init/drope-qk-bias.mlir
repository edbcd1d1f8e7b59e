// experiments/local-attention-init: models/drope.mlir with a learned bias
// on the queries and keys of every layer (zeros at init), so that
// set_local_bias.py can give them a content-free RoPE pattern that peaks at
// chosen text offsets. Everything else is drope as shipped.
// AO-ARM with Decoupled RoPE: a causal decoder over a random order pi.
//
// Slots are BOS-shifted: slot t holds the token at text position pi(t-1)
// (BOS, at position 0, in slot 0) and predicts the token at pi(t), so all L
// tokens are predicted. Keys are rotated at the lagging position (where
// their token sits), queries at the leading position (where the target
// sits): the target's place reaches the model, its content does not.
aoarm.model @drope config {
  vocab = 28, bos_token = 27,
  d_model = 256, n_heads = 4, n_layers = 10, d_ff = 1024,
  seq_len = 128, rope_base = 10000.0, norm_eps = 1.0e-5
} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi      // x[pi(0)], ..., x[pi(L-1)]
  %in = aoarm.shift_right %xs        // BOS, x[pi(0)], ..., x[pi(L-2)]
  %lag = aoarm.lag %pi               // 0, pi(0), ..., pi(L-2)
  %lead = aoarm.lead %pi             // pi(0), ..., pi(L-1)

  %embed = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %embed

  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) {
    // Attention: causal over the slots, RoPE decoupled.
    %g1 = aoarm.param "attn_norm.g" [d_model] f32 ones
    %wq = aoarm.param "attn.wq" [d_model, d_model] f32 normal(0.02)
    %wk = aoarm.param "attn.wk" [d_model, d_model] f32 normal(0.02)
    %wv = aoarm.param "attn.wv" [d_model, d_model] f32 normal(0.02)
    %wo = aoarm.param "attn.wo" [d_model, d_model] f32 normal(0.02)
    %a = aoarm.rmsnorm %hi, %g1
    %bq = aoarm.param "attn.bq" [d_model] f32 zeros
    %bk = aoarm.param "attn.bk" [d_model] f32 zeros
    %q0 = aoarm.linear %a, %wq
    %k0 = aoarm.linear %a, %wk
    %bqb = aoarm.broadcast %bq to %q0
    %bkb = aoarm.broadcast %bk to %k0
    %q = aoarm.add %q0, %bqb
    %k = aoarm.add %k0, %bkb
    %v = aoarm.linear %a, %wv
    %qr = aoarm.rope %q at %lead
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
