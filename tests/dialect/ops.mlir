// RUN: aoarm-opt %s -split-input-file | aoarm-opt -split-input-file | FileCheck %s
// RUN: aoarm-opt %s -split-input-file --mlir-print-op-generic | aoarm-opt -split-input-file | FileCheck %s

// Round trips of every op of a model, pretty and generic. A spec as written
// carries no types (its tensors are unranked until aoarm-specialize): the
// unspecialized splits check that none are printed ({{ *$}} ends the line).
// The specialized splits write every type after a colon and check that each
// comes back.

// -----
// Unspecialized two-stream AO-ARM: order, permute, lag/lead, broadcast, a
// layer carrying two values, layernorm, swiglu, causal and strict_causal
// attention, next_slot_loss; the three initializers; the config printed
// sorted, integers bare and floats with a '.'.

// CHECK-LABEL: aoarm.model @two_stream config {bos_token = 27, d_ff = 32, d_model = 16, n_heads = 2, n_layers = 2, norm_eps = 1.0e-05, rope_base = 1.0e+04, seq_len = 8, vocab = 28} {
aoarm.model @two_stream config {vocab = 28, bos_token = 27, d_model = 16, n_heads = 2,
                                n_layers = 2, d_ff = 32, seq_len = 8,
                                rope_base = 10000.0, norm_eps = 1.0e-5} {
  // CHECK-NEXT: [[X:%.*]] = aoarm.tokens{{$}}
  // CHECK-NEXT: [[PI:%.*]] = aoarm.order{{$}}
  // CHECK-NEXT: [[XS:%.*]] = aoarm.permute [[X]] by [[PI]]{{ *$}}
  // CHECK-NEXT: [[IN:%.*]] = aoarm.shift_right [[XS]]{{ *$}}
  // CHECK-NEXT: [[LAG:%.*]] = aoarm.lag [[PI]]{{ *$}}
  // CHECK-NEXT: [[LEAD:%.*]] = aoarm.lead [[PI]]{{ *$}}
  // CHECK-NEXT: [[E:%.*]] = aoarm.param "embed" [vocab, d_model] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[H0:%.*]] = aoarm.embed [[IN]], [[E]]{{ *$}}
  // CHECK-NEXT: [[W0:%.*]] = aoarm.param "query_init" [d_model] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[G0:%.*]] = aoarm.broadcast [[W0]] to [[H0]]{{ *$}}
  // CHECK-NEXT: [[L:%[0-9]+]]:2 = aoarm.layers "layers" repeat n_layers ([[HI:%[^ ]+]] = [[H0]], [[GI:%[^ ]+]] = [[G0]]) {
  // CHECK-NEXT: [[NG:%.*]] = aoarm.param "norm.g" [d_model] f32 ones{{$}}
  // CHECK-NEXT: [[NB:%.*]] = aoarm.param "norm.b" [d_model] f32 zeros{{$}}
  // CHECK-NEXT: [[WQ:%.*]] = aoarm.param "attn.wq" [d_model, d_model] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[WK:%.*]] = aoarm.param "attn.wk" [d_model, d_model] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[WV:%.*]] = aoarm.param "attn.wv" [d_model, d_model] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[W1:%.*]] = aoarm.param "mlp.w1" [d_model, d_ff] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[W3:%.*]] = aoarm.param "mlp.w3" [d_model, d_ff] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[W2:%.*]] = aoarm.param "mlp.w2" [d_ff, d_model] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[A:%.*]] = aoarm.layernorm [[HI]], [[NG]], [[NB]]{{ *$}}
  // CHECK-NEXT: [[Q:%.*]] = aoarm.linear [[A]], [[WQ]]{{ *$}}
  // CHECK-NEXT: [[K:%.*]] = aoarm.linear [[A]], [[WK]]{{ *$}}
  // CHECK-NEXT: [[V:%.*]] = aoarm.linear [[A]], [[WV]]{{ *$}}
  // CHECK-NEXT: [[QR:%.*]] = aoarm.rope [[Q]] at [[LAG]]{{ *$}}
  // CHECK-NEXT: [[KR:%.*]] = aoarm.rope [[K]] at [[LAG]]{{ *$}}
  // CHECK-NEXT: [[O:%.*]] = aoarm.attention [[QR]], [[KR]], [[V]] mask causal{{ *$}}
  // CHECK-NEXT: [[H1:%.*]] = aoarm.add [[HI]], [[O]]{{ *$}}
  // CHECK-NEXT: [[GATE:%.*]] = aoarm.linear [[H1]], [[W1]]{{ *$}}
  // CHECK-NEXT: [[UP:%.*]] = aoarm.linear [[H1]], [[W3]]{{ *$}}
  // CHECK-NEXT: [[S:%.*]] = aoarm.swiglu [[GATE]], [[UP]]{{ *$}}
  // CHECK-NEXT: [[MLP:%.*]] = aoarm.linear [[S]], [[W2]]{{ *$}}
  // CHECK-NEXT: [[H2:%.*]] = aoarm.add [[H1]], [[MLP]]{{ *$}}
  // CHECK-NEXT: [[GA:%.*]] = aoarm.layernorm [[GI]], [[NG]], [[NB]]{{ *$}}
  // CHECK-NEXT: [[GQ:%.*]] = aoarm.linear [[GA]], [[WQ]]{{ *$}}
  // CHECK-NEXT: [[GQR:%.*]] = aoarm.rope [[GQ]] at [[LEAD]]{{ *$}}
  // CHECK-NEXT: [[GO:%.*]] = aoarm.attention [[GQR]], [[KR]], [[V]] mask strict_causal{{ *$}}
  // CHECK-NEXT: [[G1:%.*]] = aoarm.add [[GI]], [[GO]]{{ *$}}
  // CHECK-NEXT: aoarm.yield [[H2]], [[G1]]{{ *$}}
  // CHECK-NEXT: }
  // CHECK-NEXT: [[WOUT:%.*]] = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[LOGITS:%.*]] = aoarm.head [[L]]#1, [[WOUT]]{{ *$}}
  // CHECK-NEXT: [[LOSS:%.*]] = aoarm.next_slot_loss [[LOGITS]], [[X]], [[PI]]{{ *$}}
  // CHECK-NEXT: aoarm.return [[LOSS]]{{ *$}}
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi
  %in = aoarm.shift_right %xs
  %lag = aoarm.lag %pi
  %lead = aoarm.lead %pi
  %embed = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %embed
  %w0 = aoarm.param "query_init" [d_model] f32 normal(0.02)
  %g0 = aoarm.broadcast %w0 to %h0
  %h, %g = aoarm.layers "layers" repeat n_layers (%hi = %h0, %gi = %g0) {
    %ng = aoarm.param "norm.g" [d_model] f32 ones
    %nb = aoarm.param "norm.b" [d_model] f32 zeros
    %wq = aoarm.param "attn.wq" [d_model, d_model] f32 normal(0.02)
    %wk = aoarm.param "attn.wk" [d_model, d_model] f32 normal(0.02)
    %wv = aoarm.param "attn.wv" [d_model, d_model] f32 normal(0.02)
    %w1 = aoarm.param "mlp.w1" [d_model, d_ff] f32 normal(0.02)
    %w3 = aoarm.param "mlp.w3" [d_model, d_ff] f32 normal(0.02)
    %w2 = aoarm.param "mlp.w2" [d_ff, d_model] f32 normal(0.02)
    // Content stream.
    %a = aoarm.layernorm %hi, %ng, %nb
    %q = aoarm.linear %a, %wq
    %k = aoarm.linear %a, %wk
    %v = aoarm.linear %a, %wv
    %qr = aoarm.rope %q at %lag
    %kr = aoarm.rope %k at %lag
    %o = aoarm.attention %qr, %kr, %v mask causal
    %h1 = aoarm.add %hi, %o
    %gate = aoarm.linear %h1, %w1
    %up = aoarm.linear %h1, %w3
    %s = aoarm.swiglu %gate, %up
    %mlp = aoarm.linear %s, %w2
    %h2 = aoarm.add %h1, %mlp
    // Query stream: strictly earlier content keys.
    %ga = aoarm.layernorm %gi, %ng, %nb
    %gq = aoarm.linear %ga, %wq
    %gqr = aoarm.rope %gq at %lead
    %go = aoarm.attention %gqr, %kr, %v mask strict_causal
    %g1 = aoarm.add %gi, %go
    aoarm.yield %h2, %g1
  }
  %wout = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %g, %wout
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}

// -----
// Unspecialized MDLM: time, mask, iota, a layer carrying one value,
// rmsnorm, gelu, bidirectional attention, mdlm_loss.

// CHECK-LABEL: aoarm.model @mdlm config {d_model = 16, mask_token = 27, n_heads = 2, n_layers = 1, rope_base = 5.0e+05, seq_len = 8, vocab = 28} {
aoarm.model @mdlm config {vocab = 28, mask_token = 27, d_model = 16, n_heads = 2,
                          n_layers = 1, seq_len = 8, rope_base = 500000.0} {
  // CHECK-NEXT: [[X:%.*]] = aoarm.tokens{{$}}
  // CHECK-NEXT: [[T:%.*]] = aoarm.time{{$}}
  // CHECK-NEXT: [[Z:%.*]] = aoarm.mask [[X]] at [[T]] schedule loglinear{{ *$}}
  // CHECK-NEXT: [[POS:%.*]] = aoarm.iota [[X]]{{ *$}}
  // CHECK-NEXT: [[E:%.*]] = aoarm.param "embed" [vocab, d_model] f32 normal(0.002){{$}}
  // CHECK-NEXT: [[H0:%.*]] = aoarm.embed [[Z]], [[E]]{{ *$}}
  // CHECK-NEXT: [[H:%.*]] = aoarm.layers "block" repeat n_layers ([[HI:%[^ ]+]] = [[H0]]) {
  // CHECK-NEXT: [[G:%.*]] = aoarm.param "norm.g" [d_model] f32 ones{{$}}
  // CHECK-NEXT: [[WU:%.*]] = aoarm.param "mlp.w" [d_model, 16] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[A:%.*]] = aoarm.rmsnorm [[HI]], [[G]]{{ *$}}
  // CHECK-NEXT: [[AR:%.*]] = aoarm.rope [[A]] at [[POS]]{{ *$}}
  // CHECK-NEXT: [[O:%.*]] = aoarm.attention [[AR]], [[AR]], [[A]] mask bidirectional{{ *$}}
  // CHECK-NEXT: [[U:%.*]] = aoarm.linear [[O]], [[WU]]{{ *$}}
  // CHECK-NEXT: [[ACT:%.*]] = aoarm.gelu [[U]]{{ *$}}
  // CHECK-NEXT: [[H1:%.*]] = aoarm.add [[HI]], [[ACT]]{{ *$}}
  // CHECK-NEXT: aoarm.yield [[H1]]{{ *$}}
  // CHECK-NEXT: }
  // CHECK-NEXT: [[WOUT:%.*]] = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[LOGITS:%.*]] = aoarm.head [[H]], [[WOUT]]{{ *$}}
  // CHECK-NEXT: [[LOSS:%.*]] = aoarm.mdlm_loss [[LOGITS]], [[X]], [[Z]], [[T]]{{ *$}}
  // CHECK-NEXT: aoarm.return [[LOSS]]{{ *$}}
  %x = aoarm.tokens
  %t = aoarm.time
  %z = aoarm.mask %x at %t schedule loglinear
  %pos = aoarm.iota %x
  %embed = aoarm.param "embed" [vocab, d_model] f32 normal(0.002)
  %h0 = aoarm.embed %z, %embed
  %h = aoarm.layers "block" repeat n_layers (%hi = %h0) {
    %g = aoarm.param "norm.g" [d_model] f32 ones
    %wu = aoarm.param "mlp.w" [d_model, 16] f32 normal(0.02)
    %a = aoarm.rmsnorm %hi, %g
    %ar = aoarm.rope %a at %pos
    %o = aoarm.attention %ar, %ar, %a mask bidirectional
    %u = aoarm.linear %o, %wu
    %act = aoarm.gelu %u
    %h1 = aoarm.add %hi, %act
    aoarm.yield %h1
  }
  %wout = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %h, %wout
  %loss = aoarm.mdlm_loss %logits, %x, %z, %t
  aoarm.return %loss
}

// -----
// Unspecialized left-to-right model: next_token_loss.

// CHECK-LABEL: aoarm.model @ar config {bos_token = 0, d_model = 16, n_heads = 2, n_layers = 1, seq_len = 8, vocab = 28} {
aoarm.model @ar config {vocab = 28, bos_token = 0, d_model = 16, n_heads = 2,
                        n_layers = 1, seq_len = 8} {
  // CHECK-NEXT: [[X:%.*]] = aoarm.tokens{{$}}
  // CHECK-NEXT: [[IN:%.*]] = aoarm.shift_right [[X]]{{ *$}}
  // CHECK-NEXT: [[E:%.*]] = aoarm.param "embed" [vocab, d_model] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[H:%.*]] = aoarm.embed [[IN]], [[E]]{{ *$}}
  // CHECK-NEXT: [[W:%.*]] = aoarm.param "head.w" [d_model, vocab] f32 zeros{{$}}
  // CHECK-NEXT: [[LOGITS:%.*]] = aoarm.head [[H]], [[W]]{{ *$}}
  // CHECK-NEXT: [[LOSS:%.*]] = aoarm.next_token_loss [[LOGITS]], [[X]]{{ *$}}
  // CHECK-NEXT: aoarm.return [[LOSS]]{{ *$}}
  %x = aoarm.tokens
  %in = aoarm.shift_right %x
  %embed = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h = aoarm.embed %in, %embed
  %w = aoarm.param "head.w" [d_model, vocab] f32 zeros
  %logits = aoarm.head %h, %w
  %loss = aoarm.next_token_loss %logits, %x
  aoarm.return %loss
}

// -----
// Specialized left-to-right model: tokens with a length, every operand type
// after a colon, a layer with a typed carried value and a typed yield.

// CHECK-LABEL: aoarm.model @ar_static config {bos_token = 27, d_ff = 32, d_model = 16, n_heads = 2, n_layers = 2, rope_base = 1.0e+04, seq_len = 8, vocab = 28} {
aoarm.model @ar_static config {vocab = 28, bos_token = 27, d_model = 16, n_heads = 2,
                               n_layers = 2, d_ff = 32, seq_len = 8,
                               rope_base = 10000.0} {
  // CHECK-NEXT: [[X:%.*]] = aoarm.tokens length 8{{$}}
  // CHECK-NEXT: [[IN:%.*]] = aoarm.shift_right [[X]] : tensor<?x8xi32>{{$}}
  // CHECK-NEXT: [[POS:%.*]] = aoarm.iota [[X]] : tensor<?x8xi32>{{$}}
  // CHECK-NEXT: [[E:%.*]] = aoarm.param "embed" [28, 16] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[H0:%.*]] = aoarm.embed [[IN]], [[E]] : tensor<?x8xi32>, tensor<28x16xf32>{{$}}
  // CHECK-NEXT: [[H:%.*]] = aoarm.layers "blocks" repeat n_layers ([[HI:%[^ ]+]] = [[H0]]) : tensor<?x8x16xf32> {
  // CHECK-NEXT: [[G:%.*]] = aoarm.param "norm.g" [16] f32 ones{{$}}
  // CHECK-NEXT: [[WQ:%.*]] = aoarm.param "attn.wq" [16, 16] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[W1:%.*]] = aoarm.param "mlp.w1" [16, 32] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[W2:%.*]] = aoarm.param "mlp.w2" [32, 16] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[A:%.*]] = aoarm.rmsnorm [[HI]], [[G]] : tensor<?x8x16xf32>, tensor<16xf32>{{$}}
  // CHECK-NEXT: [[Q:%.*]] = aoarm.linear [[A]], [[WQ]] : tensor<?x8x16xf32>, tensor<16x16xf32>{{$}}
  // CHECK-NEXT: [[QR:%.*]] = aoarm.rope [[Q]] at [[POS]] : tensor<?x8x16xf32>, tensor<?x8xi32>{{$}}
  // CHECK-NEXT: [[O:%.*]] = aoarm.attention [[QR]], [[QR]], [[A]] mask causal : tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: [[H1:%.*]] = aoarm.add [[HI]], [[O]] : tensor<?x8x16xf32>, tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: [[U:%.*]] = aoarm.linear [[H1]], [[W1]] : tensor<?x8x16xf32>, tensor<16x32xf32>{{$}}
  // CHECK-NEXT: [[ACT:%.*]] = aoarm.gelu [[U]] : tensor<?x8x32xf32>{{$}}
  // CHECK-NEXT: [[MLP:%.*]] = aoarm.linear [[ACT]], [[W2]] : tensor<?x8x32xf32>, tensor<32x16xf32>{{$}}
  // CHECK-NEXT: [[H2:%.*]] = aoarm.add [[H1]], [[MLP]] : tensor<?x8x16xf32>, tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: aoarm.yield [[H2]] : tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: }
  // CHECK-NEXT: [[WOUT:%.*]] = aoarm.param "head.w" [16, 28] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[LOGITS:%.*]] = aoarm.head [[H]], [[WOUT]] : tensor<?x8x16xf32>, tensor<16x28xf32>{{$}}
  // CHECK-NEXT: [[LOSS:%.*]] = aoarm.next_token_loss [[LOGITS]], [[X]] : tensor<?x8x28xf32>, tensor<?x8xi32>{{$}}
  // The loss is tensor<f32> in both forms, so its type is never printed.
  // CHECK-NEXT: aoarm.return [[LOSS]]{{ *$}}
  %x = aoarm.tokens length 8
  %in = aoarm.shift_right %x : tensor<?x8xi32>
  %pos = aoarm.iota %x : tensor<?x8xi32>
  %embed = aoarm.param "embed" [28, 16] f32 normal(0.02)
  %h0 = aoarm.embed %in, %embed : tensor<?x8xi32>, tensor<28x16xf32>
  %h = aoarm.layers "blocks" repeat n_layers (%hi = %h0) : tensor<?x8x16xf32> {
    %g = aoarm.param "norm.g" [16] f32 ones
    %wq = aoarm.param "attn.wq" [16, 16] f32 normal(0.02)
    %w1 = aoarm.param "mlp.w1" [16, 32] f32 normal(0.02)
    %w2 = aoarm.param "mlp.w2" [32, 16] f32 normal(0.02)
    %a = aoarm.rmsnorm %hi, %g : tensor<?x8x16xf32>, tensor<16xf32>
    %q = aoarm.linear %a, %wq : tensor<?x8x16xf32>, tensor<16x16xf32>
    %qr = aoarm.rope %q at %pos : tensor<?x8x16xf32>, tensor<?x8xi32>
    %o = aoarm.attention %qr, %qr, %a mask causal : tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>
    %h1 = aoarm.add %hi, %o : tensor<?x8x16xf32>, tensor<?x8x16xf32>
    %u = aoarm.linear %h1, %w1 : tensor<?x8x16xf32>, tensor<16x32xf32>
    %act = aoarm.gelu %u : tensor<?x8x32xf32>
    %mlp = aoarm.linear %act, %w2 : tensor<?x8x32xf32>, tensor<32x16xf32>
    %h2 = aoarm.add %h1, %mlp : tensor<?x8x16xf32>, tensor<?x8x16xf32>
    aoarm.yield %h2 : tensor<?x8x16xf32>
  }
  %wout = aoarm.param "head.w" [16, 28] f32 normal(0.02)
  %logits = aoarm.head %h, %wout : tensor<?x8x16xf32>, tensor<16x28xf32>
  %loss = aoarm.next_token_loss %logits, %x : tensor<?x8x28xf32>, tensor<?x8xi32>
  aoarm.return %loss : tensor<f32>
}

// -----
// Specialized two-stream model: !aoarm.perm<8>, a layer carrying two typed
// values, layernorm, swiglu, strict_causal attention.

// CHECK-LABEL: aoarm.model @two_stream_static config {bos_token = 27, d_ff = 32, d_model = 16, n_heads = 2, n_layers = 1, rope_base = 1.0e+04, seq_len = 8, vocab = 28} {
aoarm.model @two_stream_static config {vocab = 28, bos_token = 27, d_model = 16,
                                       n_heads = 2, n_layers = 1, d_ff = 32,
                                       seq_len = 8, rope_base = 10000.0} {
  // CHECK-NEXT: [[X:%.*]] = aoarm.tokens length 8{{$}}
  // CHECK-NEXT: [[PI:%.*]] = aoarm.order length 8{{$}}
  // CHECK-NEXT: [[XS:%.*]] = aoarm.permute [[X]] by [[PI]] : tensor<?x8xi32>, !aoarm.perm<8>{{$}}
  // CHECK-NEXT: [[IN:%.*]] = aoarm.shift_right [[XS]] : tensor<?x8xi32>{{$}}
  // CHECK-NEXT: [[LAG:%.*]] = aoarm.lag [[PI]] : !aoarm.perm<8>{{$}}
  // CHECK-NEXT: [[LEAD:%.*]] = aoarm.lead [[PI]] : !aoarm.perm<8>{{$}}
  // CHECK-NEXT: [[E:%.*]] = aoarm.param "embed" [28, 16] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[H0:%.*]] = aoarm.embed [[IN]], [[E]] : tensor<?x8xi32>, tensor<28x16xf32>{{$}}
  // CHECK-NEXT: [[W0:%.*]] = aoarm.param "query_init" [16] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[G0:%.*]] = aoarm.broadcast [[W0]] to [[H0]] : tensor<16xf32>, tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: [[L:%[0-9]+]]:2 = aoarm.layers "layers" repeat n_layers ([[HI:%[^ ]+]] = [[H0]], [[GI:%[^ ]+]] = [[G0]]) : tensor<?x8x16xf32>, tensor<?x8x16xf32> {
  // CHECK-NEXT: [[NG:%.*]] = aoarm.param "norm.g" [16] f32 ones{{$}}
  // CHECK-NEXT: [[NB:%.*]] = aoarm.param "norm.b" [16] f32 zeros{{$}}
  // CHECK-NEXT: [[W1:%.*]] = aoarm.param "mlp.w1" [16, 32] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[W3:%.*]] = aoarm.param "mlp.w3" [16, 32] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[W2:%.*]] = aoarm.param "mlp.w2" [32, 16] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[A:%.*]] = aoarm.layernorm [[HI]], [[NG]], [[NB]] : tensor<?x8x16xf32>, tensor<16xf32>, tensor<16xf32>{{$}}
  // CHECK-NEXT: [[KR:%.*]] = aoarm.rope [[A]] at [[LAG]] : tensor<?x8x16xf32>, tensor<?x8xi32>{{$}}
  // CHECK-NEXT: [[GR:%.*]] = aoarm.rope [[GI]] at [[LEAD]] : tensor<?x8x16xf32>, tensor<?x8xi32>{{$}}
  // CHECK-NEXT: [[GO:%.*]] = aoarm.attention [[GR]], [[KR]], [[A]] mask strict_causal : tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: [[GATE:%.*]] = aoarm.linear [[A]], [[W1]] : tensor<?x8x16xf32>, tensor<16x32xf32>{{$}}
  // CHECK-NEXT: [[UP:%.*]] = aoarm.linear [[A]], [[W3]] : tensor<?x8x16xf32>, tensor<16x32xf32>{{$}}
  // CHECK-NEXT: [[S:%.*]] = aoarm.swiglu [[GATE]], [[UP]] : tensor<?x8x32xf32>, tensor<?x8x32xf32>{{$}}
  // CHECK-NEXT: [[MLP:%.*]] = aoarm.linear [[S]], [[W2]] : tensor<?x8x32xf32>, tensor<32x16xf32>{{$}}
  // CHECK-NEXT: [[H1:%.*]] = aoarm.add [[HI]], [[MLP]] : tensor<?x8x16xf32>, tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: aoarm.yield [[H1]], [[GO]] : tensor<?x8x16xf32>, tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: }
  // CHECK-NEXT: [[WOUT:%.*]] = aoarm.param "head.w" [16, 28] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[LOGITS:%.*]] = aoarm.head [[L]]#1, [[WOUT]] : tensor<?x8x16xf32>, tensor<16x28xf32>{{$}}
  // CHECK-NEXT: [[LOSS:%.*]] = aoarm.next_slot_loss [[LOGITS]], [[X]], [[PI]] : tensor<?x8x28xf32>, tensor<?x8xi32>, !aoarm.perm<8>{{$}}
  // CHECK-NEXT: aoarm.return [[LOSS]]{{ *$}}
  %x = aoarm.tokens length 8
  %pi = aoarm.order length 8
  %xs = aoarm.permute %x by %pi : tensor<?x8xi32>, !aoarm.perm<8>
  %in = aoarm.shift_right %xs : tensor<?x8xi32>
  %lag = aoarm.lag %pi : !aoarm.perm<8>
  %lead = aoarm.lead %pi : !aoarm.perm<8>
  %embed = aoarm.param "embed" [28, 16] f32 normal(0.02)
  %h0 = aoarm.embed %in, %embed : tensor<?x8xi32>, tensor<28x16xf32>
  %w0 = aoarm.param "query_init" [16] f32 normal(0.02)
  %g0 = aoarm.broadcast %w0 to %h0 : tensor<16xf32>, tensor<?x8x16xf32>
  %h, %g = aoarm.layers "layers" repeat n_layers (%hi = %h0, %gi = %g0) : tensor<?x8x16xf32>, tensor<?x8x16xf32> {
    %ng = aoarm.param "norm.g" [16] f32 ones
    %nb = aoarm.param "norm.b" [16] f32 zeros
    %w1 = aoarm.param "mlp.w1" [16, 32] f32 normal(0.02)
    %w3 = aoarm.param "mlp.w3" [16, 32] f32 normal(0.02)
    %w2 = aoarm.param "mlp.w2" [32, 16] f32 normal(0.02)
    %a = aoarm.layernorm %hi, %ng, %nb : tensor<?x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    %kr = aoarm.rope %a at %lag : tensor<?x8x16xf32>, tensor<?x8xi32>
    %gr = aoarm.rope %gi at %lead : tensor<?x8x16xf32>, tensor<?x8xi32>
    %go = aoarm.attention %gr, %kr, %a mask strict_causal : tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>
    %gate = aoarm.linear %a, %w1 : tensor<?x8x16xf32>, tensor<16x32xf32>
    %up = aoarm.linear %a, %w3 : tensor<?x8x16xf32>, tensor<16x32xf32>
    %s = aoarm.swiglu %gate, %up : tensor<?x8x32xf32>, tensor<?x8x32xf32>
    %mlp = aoarm.linear %s, %w2 : tensor<?x8x32xf32>, tensor<32x16xf32>
    %h1 = aoarm.add %hi, %mlp : tensor<?x8x16xf32>, tensor<?x8x16xf32>
    aoarm.yield %h1, %go : tensor<?x8x16xf32>, tensor<?x8x16xf32>
  }
  %wout = aoarm.param "head.w" [16, 28] f32 normal(0.02)
  %logits = aoarm.head %g, %wout : tensor<?x8x16xf32>, tensor<16x28xf32>
  %loss = aoarm.next_slot_loss %logits, %x, %pi : tensor<?x8x28xf32>, tensor<?x8xi32>, !aoarm.perm<8>
  aoarm.return %loss
}

// -----
// Specialized MDLM: the times are [batch] from the start (tensor<?xf32>).

// CHECK-LABEL: aoarm.model @mdlm_static config {d_model = 16, mask_token = 27, n_heads = 2, n_layers = 1, seq_len = 8, vocab = 28} {
aoarm.model @mdlm_static config {vocab = 28, mask_token = 27, d_model = 16, n_heads = 2,
                                 n_layers = 1, seq_len = 8} {
  // CHECK-NEXT: [[X:%.*]] = aoarm.tokens length 8{{$}}
  // CHECK-NEXT: [[T:%.*]] = aoarm.time{{$}}
  // CHECK-NEXT: [[Z:%.*]] = aoarm.mask [[X]] at [[T]] schedule loglinear : tensor<?x8xi32>, tensor<?xf32>{{$}}
  // CHECK-NEXT: [[E:%.*]] = aoarm.param "embed" [28, 16] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[H:%.*]] = aoarm.embed [[Z]], [[E]] : tensor<?x8xi32>, tensor<28x16xf32>{{$}}
  // CHECK-NEXT: [[O:%.*]] = aoarm.attention [[H]], [[H]], [[H]] mask bidirectional : tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>{{$}}
  // CHECK-NEXT: [[W:%.*]] = aoarm.param "head.w" [16, 28] f32 normal(0.02){{$}}
  // CHECK-NEXT: [[LOGITS:%.*]] = aoarm.head [[O]], [[W]] : tensor<?x8x16xf32>, tensor<16x28xf32>{{$}}
  // CHECK-NEXT: [[LOSS:%.*]] = aoarm.mdlm_loss [[LOGITS]], [[X]], [[Z]], [[T]] : tensor<?x8x28xf32>, tensor<?x8xi32>, tensor<?x8xi32>, tensor<?xf32>{{$}}
  // CHECK-NEXT: aoarm.return [[LOSS]]{{ *$}}
  %x = aoarm.tokens length 8
  %t = aoarm.time
  %z = aoarm.mask %x at %t schedule loglinear : tensor<?x8xi32>, tensor<?xf32>
  %embed = aoarm.param "embed" [28, 16] f32 normal(0.02)
  %h = aoarm.embed %z, %embed : tensor<?x8xi32>, tensor<28x16xf32>
  %o = aoarm.attention %h, %h, %h mask bidirectional : tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>
  %w = aoarm.param "head.w" [16, 28] f32 normal(0.02)
  %logits = aoarm.head %o, %w : tensor<?x8x16xf32>, tensor<16x28xf32>
  %loss = aoarm.mdlm_loss %logits, %x, %z, %t : tensor<?x8x28xf32>, tensor<?x8xi32>, tensor<?x8xi32>, tensor<?xf32>
  aoarm.return %loss
}

// -----
// Mixed: static tokens with an order whose length is not fixed yet print
// `!aoarm.perm` in the type list.

// CHECK-LABEL: aoarm.model @dynamic_perm
aoarm.model @dynamic_perm config {vocab = 28, bos_token = 27, d_model = 16, n_heads = 2,
                                  n_layers = 1, seq_len = 8} {
  // CHECK-NEXT: [[X:%.*]] = aoarm.tokens length 8{{$}}
  // CHECK-NEXT: [[PI:%.*]] = aoarm.order{{$}}
  // CHECK-NEXT: [[XS:%.*]] = aoarm.permute [[X]] by [[PI]] : tensor<?x8xi32>, !aoarm.perm{{$}}
  // CHECK:      aoarm.next_slot_loss {{.*}}, [[X]], [[PI]] : tensor<?x8x28xf32>, tensor<?x8xi32>, !aoarm.perm{{$}}
  %x = aoarm.tokens length 8
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi : tensor<?x8xi32>, !aoarm.perm
  %in = aoarm.shift_right %xs : tensor<?x8xi32>
  %embed = aoarm.param "embed" [28, 16] f32 normal(0.02)
  %h = aoarm.embed %in, %embed : tensor<?x8xi32>, tensor<28x16xf32>
  %wout = aoarm.param "head.w" [16, 28] f32 normal(0.02)
  %logits = aoarm.head %h, %wout : tensor<?x8x16xf32>, tensor<16x28xf32>
  %loss = aoarm.next_slot_loss %logits, %x, %pi : tensor<?x8x28xf32>, tensor<?x8xi32>, !aoarm.perm
  aoarm.return %loss
}
