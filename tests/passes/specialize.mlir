// RUN: aoarm-opt %s -aoarm-specialize | FileCheck %s

// Overrides: a ListOption takes several values separated by commas, or
// repeated `set=` entries; both apply every override.
// RUN: aoarm-opt %s -aoarm-specialize="set=seq_len=16,d_model=32" | FileCheck %s --check-prefix=SET
// RUN: aoarm-opt %s -aoarm-specialize="set=seq_len=16 set=d_model=32" | FileCheck %s --check-prefix=SET
// RUN: aoarm-opt %s -aoarm-specialize="set=n_layers=3,rope_base=500000" | FileCheck %s --check-prefix=LAYERS3

// Bad overrides fail the pass with an error at the model.
// RUN: not aoarm-opt %s -aoarm-specialize="set=dropout=0.1" 2>&1 | FileCheck %s --check-prefix=ERR-KEY
// RUN: not aoarm-opt %s -aoarm-specialize="set=seq_len=abc" 2>&1 | FileCheck %s --check-prefix=ERR-INT
// RUN: not aoarm-opt %s -aoarm-specialize="set=rope_base=fast" 2>&1 | FileCheck %s --check-prefix=ERR-FLOAT
// RUN: not aoarm-opt %s -aoarm-specialize="set=seq_len" 2>&1 | FileCheck %s --check-prefix=ERR-FORM
// RUN: not aoarm-opt %s -aoarm-specialize="set=n_heads=3" 2>&1 | FileCheck %s --check-prefix=ERR-HEADS

// A two-stream layer repeated twice: two carried values, parameters inside
// and outside the layer, values from before the layer used inside it.
aoarm.model @tiny config {vocab = 28, bos_token = 27, d_model = 8, n_heads = 2,
                          n_layers = 2, d_ff = 16, seq_len = 4,
                          rope_base = 10000.0} {
  %x = aoarm.tokens
  %pi = aoarm.order
  %xs = aoarm.permute %x by %pi
  %in = aoarm.shift_right %xs
  %lag = aoarm.lag %pi
  %lead = aoarm.lead %pi
  %e = aoarm.param "embed" [vocab, d_model] f32 normal(0.02)
  %h0 = aoarm.embed %in, %e
  %w0 = aoarm.param "query_init" [d_model] f32 normal(0.02)
  %g0 = aoarm.broadcast %w0 to %h0
  %h, %g = aoarm.layers "layers" repeat n_layers (%hi = %h0, %gi = %g0) {
    %wk = aoarm.param "attn.wk" [d_model, d_model] f32 normal(0.02)
    %w1 = aoarm.param "mlp.w1" [d_model, d_ff] f32 normal(0.02)
    %w2 = aoarm.param "mlp.w2" [d_ff, d_model] f32 zeros
    %k = aoarm.linear %hi, %wk
    %kr = aoarm.rope %k at %lag
    %gr = aoarm.rope %gi at %lead
    %go = aoarm.attention %gr, %kr, %hi mask causal
    %u = aoarm.linear %hi, %w1
    %m = aoarm.linear %u, %w2
    %h1 = aoarm.add %hi, %m
    aoarm.yield %h1, %go
  }
  %wout = aoarm.param "head.w" [d_model, vocab] f32 normal(0.02)
  %logits = aoarm.head %g, %wout
  %loss = aoarm.next_slot_loss %logits, %x, %pi
  aoarm.return %loss
}

// Inputs get `length = seq_len`; every type is static but the batch.
// CHECK-LABEL: aoarm.model @tiny config {bos_token = 27, d_ff = 16, d_model = 8, n_heads = 2, n_layers = 2, rope_base = 1.0e+04, seq_len = 4, vocab = 28} {
// CHECK-NEXT:  [[X:%.*]] = aoarm.tokens length 4{{$}}
// CHECK-NEXT:  [[PI:%.*]] = aoarm.order length 4{{$}}
// CHECK-NEXT:  [[XS:%.*]] = aoarm.permute [[X]] by [[PI]] : tensor<?x4xi32>, !aoarm.perm<4>
// CHECK-NEXT:  [[IN:%.*]] = aoarm.shift_right [[XS]] : tensor<?x4xi32>
// CHECK-NEXT:  [[LAG:%.*]] = aoarm.lag [[PI]] : !aoarm.perm<4>
// CHECK-NEXT:  [[LEAD:%.*]] = aoarm.lead [[PI]] : !aoarm.perm<4>
// Config keys in parameter shapes become integers.
// CHECK-NEXT:  [[E:%.*]] = aoarm.param "embed" [28, 8] f32 normal(0.02)
// CHECK-NEXT:  [[H0:%.*]] = aoarm.embed [[IN]], [[E]] : tensor<?x4xi32>, tensor<28x8xf32>
// CHECK-NEXT:  [[W0:%.*]] = aoarm.param "query_init" [8] f32 normal(0.02)
// CHECK-NEXT:  [[G0:%.*]] = aoarm.broadcast [[W0]] to [[H0]] : tensor<8xf32>, tensor<?x4x8xf32>
// The layer is gone: copy 0 reads the initial values...
// CHECK-NOT:   aoarm.layers
// CHECK-NEXT:  [[WK0:%.*]] = aoarm.param "layers.0.attn.wk" [8, 8] f32 normal(0.02)
// CHECK-NEXT:  [[W10:%.*]] = aoarm.param "layers.0.mlp.w1" [8, 16] f32 normal(0.02)
// CHECK-NEXT:  [[W20:%.*]] = aoarm.param "layers.0.mlp.w2" [16, 8] f32 zeros
// CHECK-NEXT:  [[K0:%.*]] = aoarm.linear [[H0]], [[WK0]] : tensor<?x4x8xf32>, tensor<8x8xf32>
// CHECK-NEXT:  [[KR0:%.*]] = aoarm.rope [[K0]] at [[LAG]] : tensor<?x4x8xf32>, tensor<?x4xi32>
// CHECK-NEXT:  [[GR0:%.*]] = aoarm.rope [[G0]] at [[LEAD]] : tensor<?x4x8xf32>, tensor<?x4xi32>
// CHECK-NEXT:  [[GO0:%.*]] = aoarm.attention [[GR0]], [[KR0]], [[H0]] mask causal : tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>
// CHECK-NEXT:  [[U0:%.*]] = aoarm.linear [[H0]], [[W10]] : tensor<?x4x8xf32>, tensor<8x16xf32>
// CHECK-NEXT:  [[M0:%.*]] = aoarm.linear [[U0]], [[W20]] : tensor<?x4x16xf32>, tensor<16x8xf32>
// CHECK-NEXT:  [[H1:%.*]] = aoarm.add [[H0]], [[M0]] : tensor<?x4x8xf32>, tensor<?x4x8xf32>
// ...and copy 1 reads what copy 0 yielded, in order (h1, go0).
// CHECK-NEXT:  [[WK1:%.*]] = aoarm.param "layers.1.attn.wk" [8, 8] f32 normal(0.02)
// CHECK-NEXT:  [[W11:%.*]] = aoarm.param "layers.1.mlp.w1" [8, 16] f32 normal(0.02)
// CHECK-NEXT:  [[W21:%.*]] = aoarm.param "layers.1.mlp.w2" [16, 8] f32 zeros
// CHECK-NEXT:  [[K1:%.*]] = aoarm.linear [[H1]], [[WK1]] :
// CHECK-NEXT:  [[KR1:%.*]] = aoarm.rope [[K1]] at [[LAG]] :
// CHECK-NEXT:  [[GR1:%.*]] = aoarm.rope [[GO0]] at [[LEAD]] :
// CHECK-NEXT:  [[GO1:%.*]] = aoarm.attention [[GR1]], [[KR1]], [[H1]] mask causal :
// CHECK-NEXT:  [[U1:%.*]] = aoarm.linear [[H1]], [[W11]] :
// CHECK-NEXT:  [[M1:%.*]] = aoarm.linear [[U1]], [[W21]] :
// CHECK-NEXT:  [[H2:%.*]] = aoarm.add [[H1]], [[M1]] :
// The layer's results are the last copy's yields.
// CHECK-NEXT:  [[WOUT:%.*]] = aoarm.param "head.w" [8, 28] f32 normal(0.02)
// CHECK-NEXT:  [[LOGITS:%.*]] = aoarm.head [[GO1]], [[WOUT]] : tensor<?x4x8xf32>, tensor<8x28xf32>
// CHECK-NEXT:  [[LOSS:%.*]] = aoarm.next_slot_loss [[LOGITS]], [[X]], [[PI]] : tensor<?x4x28xf32>, tensor<?x4xi32>, !aoarm.perm<4>
// CHECK-NEXT:  aoarm.return [[LOSS]]
// CHECK-NOT:   layers.2

// SET-LABEL: aoarm.model @tiny config {bos_token = 27, d_ff = 16, d_model = 32, n_heads = 2, n_layers = 2, rope_base = 1.0e+04, seq_len = 16, vocab = 28} {
// SET-NEXT:  aoarm.tokens length 16{{$}}
// SET-NEXT:  aoarm.order length 16{{$}}
// SET-NEXT:  aoarm.permute {{.*}} : tensor<?x16xi32>, !aoarm.perm<16>
// SET:       aoarm.param "embed" [28, 32] f32 normal(0.02)
// SET-NEXT:  aoarm.embed {{.*}} : tensor<?x16xi32>, tensor<28x32xf32>
// SET:       aoarm.param "layers.1.mlp.w1" [32, 16] f32 normal(0.02)
// SET-NEXT:  aoarm.param "layers.1.mlp.w2" [16, 32] f32 zeros
// SET:       aoarm.linear {{.*}} : tensor<?x16x32xf32>, tensor<32x16xf32>
// SET:       aoarm.param "head.w" [32, 28] f32 normal(0.02)
// SET-NEXT:  aoarm.head {{.*}} : tensor<?x16x32xf32>, tensor<32x28xf32>
// SET-NEXT:  aoarm.next_slot_loss {{.*}} : tensor<?x16x28xf32>, tensor<?x16xi32>, !aoarm.perm<16>

// LAYERS3-LABEL: aoarm.model @tiny config {bos_token = 27, d_ff = 16, d_model = 8, n_heads = 2, n_layers = 3, rope_base = 5.0e+05, seq_len = 4, vocab = 28} {
// LAYERS3:       aoarm.param "layers.0.attn.wk"
// LAYERS3:       aoarm.param "layers.1.attn.wk"
// LAYERS3:       aoarm.param "layers.2.attn.wk"
// LAYERS3-NOT:   layers.3

// ERR-KEY: specialize.mlir:{{[0-9]+}}:1: error: unknown config key 'dropout' in --set; valid keys: bos_token, d_ff, d_model, n_heads, n_layers, rope_base, seq_len, vocab
// ERR-INT: specialize.mlir:{{[0-9]+}}:1: error: --set seq_len=abc: expected an integer
// ERR-FLOAT: specialize.mlir:{{[0-9]+}}:1: error: --set rope_base=fast: expected a number
// ERR-FORM: specialize.mlir:{{[0-9]+}}:1: error: --set 'seq_len' must have the form key=value
// Overrides are checked like the config as written.
// ERR-HEADS: specialize.mlir:{{[0-9]+}}:1: error: n_heads (3) must divide d_model (8), got remainder 2
