// Left-to-right autoregression: the plain causal decoder baseline.
//
// Slots are BOS-shifted: slot t holds x[t-1] (BOS in slot 0) and predicts
// x[t], so all L tokens are predicted, as in drope.mlir. Queries and keys
// are rotated at the slot's own position 0..L-1.
aoarm.model @ar config {
  vocab = 28, bos_token = 27,
  d_model = 256, n_heads = 4, n_layers = 10, d_ff = 1024,
  seq_len = 128, rope_base = 10000.0, norm_eps = 1.0e-5
} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x         // BOS, x[0], ..., x[L-2]
  %pos = aoarm.iota %x               // 0, 1, ..., L-1

  %embed = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %embed

  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) {
    // Attention: causal, RoPE at the slot positions.
    %g1 = aoarm.param "attn_norm.g" [d_model] f32 ones
    %wq = aoarm.param "attn.wq" [d_model, d_model] f32 normal(0.02)
    %wk = aoarm.param "attn.wk" [d_model, d_model] f32 normal(0.02)
    %wv = aoarm.param "attn.wv" [d_model, d_model] f32 normal(0.02)
    %wo = aoarm.param "attn.wo" [d_model, d_model] f32 normal(0.02)
    %a = aoarm.rmsnorm %hi, %g1
    %q = aoarm.linear %a, %wq
    %k = aoarm.linear %a, %wk
    %v = aoarm.linear %a, %wv
    %qr = aoarm.rope %q at %pos
    %kr = aoarm.rope %k at %pos
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
  %loss = aoarm.next_token_loss %logits, %x   // slot t predicts x[t]
  aoarm.return %loss
}
