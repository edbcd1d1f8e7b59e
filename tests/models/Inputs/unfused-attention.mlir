// An attention without RoPE: aoarm-fuse leaves it alone, and its backward
// still gets the forward's mask in the kernel list (tests/models/plan.test).
aoarm.model @unfusable config {vocab = 28, bos_token = 27, d_model = 8,
                               n_heads = 2, n_layers = 1, seq_len = 4} {
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %e
  %o = aoarm.attention %h, %h, %h mask causal
  %w = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %o, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}
