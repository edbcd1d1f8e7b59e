// MDLM: masked diffusion with a bidirectional encoder.
//
// Each sequence gets a time t; each token is masked with probability
// about t (log-linear schedule, alpha(t) = 1 - t). The encoder sees the
// masked sequence at its own positions and predicts every slot; the loss
// counts masked slots only, weighted 1/t (SUBS: the mask token is never
// predicted and unmasked tokens are carried over).
aoarm.model @mdlm config {
  vocab = 28, mask_token = 27,
  d_model = 256, n_heads = 4, n_layers = 10, d_ff = 1024,
  seq_len = 128, rope_base = 10000.0, norm_eps = 1.0e-5
} {
  %x = aoarm.tokens
  %t = aoarm.time
  %z = aoarm.mask %x at %t schedule loglinear
  %pos = aoarm.iota %x               // 0, 1, ..., L-1

  %embed = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %z, %embed

  %h = aoarm.layers "layers" repeat n_layers (%hi = %h0) {
    // Attention: every slot sees every slot.
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
    %o = aoarm.attention %qr, %kr, %v mask bidirectional
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
  %loss = aoarm.mdlm_loss %logits, %x, %z, %t   // masked slots, weight 1/t
  aoarm.return %loss
}
