// A rope with a second use (the residual reads the rotated stream too):
// aoarm-fuse cannot fold it into attention, so it stays a rope kernel and
// its backward a rope backward (tests/models/cuda.test).
aoarm.model @unfusedrope config {vocab = 28, bos_token = 27, d_model = 8,
                                 n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %pos = aoarm.iota %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %r = aoarm.rope %h at %pos
  %o = aoarm.attention %r, %r, %h mask causal
  %s = aoarm.add %o, %r
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %s, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}
