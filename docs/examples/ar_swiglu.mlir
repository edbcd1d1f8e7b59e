// Left-to-right autoregression with a SwiGLU MLP: ar.mlir with
// mlp = (silu(m W_gate) * (m W_up)) W_down.
//
// SwiGLU has three matrices instead of two; d_ff = 704 (about 2/3 of 1024,
// rounded to a multiple of 64) keeps the parameter count close to ar's.
aoarm.model @ar_swiglu config {
  vocab = 28, bos_token = 27,
  d_model = 256, n_heads = 4, n_layers = 10, d_ff = 704,
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

    // SwiGLU MLP.
    %g2 = aoarm.param "mlp_norm.g" [d_model] f32 ones
    %wg = aoarm.param "mlp.w_gate" [d_model, d_ff] f32 normal(0.02)
    %wu = aoarm.param "mlp.w_up" [d_model, d_ff] f32 normal(0.02)
    %wd = aoarm.param "mlp.w_down" [d_ff, d_model] f32 normal(0.02)
    %m = aoarm.rmsnorm %h1, %g2
    %gate = aoarm.linear %m, %wg
    %up = aoarm.linear %m, %wu
    %act = aoarm.swiglu %gate, %up     // silu(gate) * up
    %mlp = aoarm.linear %act, %wd
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
