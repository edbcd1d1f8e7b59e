// models/ar.mlir through aoarmc: it parses and verifies as written,
// specializes at its own seq_len (128) and at 1024, and has the parameter
// count of the reference setup whatever the length.
//
// The left-to-right baseline: a causal decoder over BOS-shifted tokens,
// rotary positions 0..L-1, next_token_loss.

// RUN: aoarmc %models/ar.mlir --emit=parsed \
// RUN:   | FileCheck %s --check-prefix=PARSED --implicit-check-not="tensor<"
// RUN: aoarmc %models/ar.mlir --emit=mlir | FileCheck %s --check-prefix=L128
// RUN: aoarmc %models/ar.mlir --set seq_len=1024 --emit=mlir | FileCheck %s --check-prefix=L1024
// RUN: aoarmc %models/ar.mlir --emit=summary | FileCheck %s --check-prefix=SUMMARY
// RUN: aoarmc %models/ar.mlir --set seq_len=1024 --emit=summary | FileCheck %s --check-prefix=SUMMARY

// As written: config keys in the shapes, the layer not expanded, no types
// (no "tensor<" anywhere).
// PARSED-LABEL: aoarm.model @ar config {bos_token = 27, d_ff = 1024, d_model = 256, n_heads = 4, n_layers = 10, norm_eps = 1.0e-05, rope_base = 1.0e+04, seq_len = 128, vocab = 28} {
// PARSED: aoarm.iota
// PARSED: aoarm.layers "layers" repeat n_layers
// PARSED: aoarm.next_token_loss

// L128-LABEL: aoarm.model @ar config {bos_token = 27, d_ff = 1024, d_model = 256, n_heads = 4, n_layers = 10, norm_eps = 1.0e-05, rope_base = 1.0e+04, seq_len = 128, vocab = 28} {
// L128-NEXT: aoarm.tokens length 128{{$}}
// L128-NOT: aoarm.layers
// L128: aoarm.param "layers.0.attn.wq" [256, 256] f32 normal(0.02)
// L128: aoarm.attention {{.*}} mask causal : tensor<?x128x256xf32>, tensor<?x128x256xf32>, tensor<?x128x256xf32>
// L128: aoarm.param "layers.9.mlp.w2" [1024, 256] f32 normal(0.02)
// L128-NOT: "layers.10.
// L128: aoarm.next_token_loss {{.*}} : tensor<?x128x28xf32>, tensor<?x128xi32>

// L1024-LABEL: aoarm.model @ar config {bos_token = 27, d_ff = 1024, d_model = 256, n_heads = 4, n_layers = 10, norm_eps = 1.0e-05, rope_base = 1.0e+04, seq_len = 1024, vocab = 28} {
// L1024-NEXT: aoarm.tokens length 1024{{$}}
// L1024-NOT: aoarm.layers
// L1024: aoarm.param "layers.0.attn.wq" [256, 256] f32 normal(0.02)
// L1024: aoarm.attention {{.*}} mask causal : tensor<?x1024x256xf32>, tensor<?x1024x256xf32>, tensor<?x1024x256xf32>
// L1024: aoarm.param "layers.9.mlp.w2" [1024, 256] f32 normal(0.02)
// L1024-NOT: "layers.10.
// L1024: aoarm.next_token_loss {{.*}} : tensor<?x1024x28xf32>, tensor<?x1024xi32>

// SUMMARY: model ar
// SUMMARY: {{^ *}}total 7,884,032 (7.88 M in 83 tensors){{$}}
