// AO-ARM with XLNet two-stream attention and shared layer weights.
//
// The content stream h is drope's stream: slot t holds the token at
// pi(t-1) (BOS in slot 0), its queries and keys rotated at that lagging
// position, causal attention including itself. The query stream g starts
// from a learned vector (it knows where its target is, not what), its
// queries are rotated at the leading position pi(t), and it attends to the
// content keys of slots 0..t: BOS and every token before its target, never
// the target. Both streams run the same layer weights; the prediction comes
// from the query stream.
aoarm.model @twostream config {
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
  %w0 = aoarm.param "query_init" [d_model] f32 normal(0.02)
  %g0 = aoarm.broadcast %w0 to %h0

  %h, %g = aoarm.layers "layers" repeat n_layers (%hi = %h0, %gi = %g0) {
    %g1 = aoarm.param "attn_norm.g" [d_model] f32 ones
    %wq = aoarm.param "attn.wq" [d_model, d_model] f32 normal(0.02)
    %wk = aoarm.param "attn.wk" [d_model, d_model] f32 normal(0.02)
    %wv = aoarm.param "attn.wv" [d_model, d_model] f32 normal(0.02)
    %wo = aoarm.param "attn.wo" [d_model, d_model] f32 normal(0.02)
    %g2 = aoarm.param "mlp_norm.g" [d_model] f32 ones
    %w1 = aoarm.param "mlp.w1" [d_model, d_ff] f32 normal(0.02)
    %w2 = aoarm.param "mlp.w2" [d_ff, d_model] f32 normal(0.02)

    // Content stream: keys and values shared with the query stream.
    %a = aoarm.rmsnorm %hi, %g1
    %q = aoarm.linear %a, %wq
    %k = aoarm.linear %a, %wk
    %v = aoarm.linear %a, %wv
    %qr = aoarm.rope %q at %lag
    %kr = aoarm.rope %k at %lag
    %o = aoarm.attention %qr, %kr, %v mask causal
    %attn = aoarm.linear %o, %wo
    %h1 = aoarm.add %hi, %attn
    %m = aoarm.rmsnorm %h1, %g2
    %u = aoarm.linear %m, %w1
    %act = aoarm.gelu %u
    %mlp = aoarm.linear %act, %w2
    %h2 = aoarm.add %h1, %mlp

    // Query stream: its own queries over the content keys of slots 0..t.
    %ga = aoarm.rmsnorm %gi, %g1
    %gq = aoarm.linear %ga, %wq
    %gqr = aoarm.rope %gq at %lead
    %go = aoarm.attention %gqr, %kr, %v mask causal
    %gattn = aoarm.linear %go, %wo
    %gh1 = aoarm.add %gi, %gattn
    %gm = aoarm.rmsnorm %gh1, %g2
    %gu = aoarm.linear %gm, %w1
    %gact = aoarm.gelu %gu
    %gmlp = aoarm.linear %gact, %w2
    %gh2 = aoarm.add %gh1, %gmlp
    aoarm.yield %h2, %gh2
  }

  %gf = aoarm.param "final_norm.g" [d_model] f32 ones
  %wout = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %gn = aoarm.rmsnorm %g, %gf
  %logits = aoarm.head %gn, %wout
  %loss = aoarm.next_slot_loss %logits, %x, %pi   // slot t predicts x[pi(t)]
  aoarm.return %loss
}
