// models/mdlm.mlir through aoarmc: it parses and verifies as written,
// specializes at its own seq_len (128) and at 1024, and has the parameter
// count of the reference setup whatever the length.
//
// Masked diffusion: a bidirectional encoder over aoarm.mask of the tokens
// at time t, mdlm_loss over the masked slots.

// RUN: aoarmc %models/mdlm.mlir --emit=parsed \
// RUN:   | FileCheck %s --check-prefix=PARSED --implicit-check-not="tensor<"
// RUN: aoarmc %models/mdlm.mlir --emit=mlir | FileCheck %s --check-prefix=L128
// RUN: aoarmc %models/mdlm.mlir --set seq_len=1024 --emit=mlir | FileCheck %s --check-prefix=L1024
// RUN: aoarmc %models/mdlm.mlir --emit=summary | FileCheck %s --check-prefix=SUMMARY
// RUN: aoarmc %models/mdlm.mlir --set seq_len=1024 --emit=summary | FileCheck %s --check-prefix=SUMMARY

// As written: config keys in the shapes, the layer not expanded, no types
// (no "tensor<" anywhere).
// PARSED-LABEL: aoarm.model @mdlm config {d_ff = 1024, d_model = 256, mask_token = 27, n_heads = 4, n_layers = 10, norm_eps = 1.0e-05, rope_base = 1.0e+04, seq_len = 128, vocab = 28} {
// PARSED: aoarm.time
// PARSED: aoarm.mask
// PARSED: aoarm.layers "layers" repeat n_layers
// PARSED: aoarm.mdlm_loss

// L128-LABEL: aoarm.model @mdlm config {d_ff = 1024, d_model = 256, mask_token = 27, n_heads = 4, n_layers = 10, norm_eps = 1.0e-05, rope_base = 1.0e+04, seq_len = 128, vocab = 28} {
// L128-NEXT: aoarm.tokens length 128{{$}}
// L128-NEXT: aoarm.time{{$}}
// L128: aoarm.mask {{.*}} schedule loglinear : tensor<?x128xi32>, tensor<?xf32>
// L128-NOT: aoarm.layers
// L128: aoarm.param "layers.0.attn.wq" [256, 256] f32 normal(0.02)
// L128: aoarm.attention {{.*}} mask bidirectional : tensor<?x128x256xf32>, tensor<?x128x256xf32>, tensor<?x128x256xf32>
// L128: aoarm.param "layers.9.mlp.w2" [1024, 256] f32 normal(0.02)
// L128-NOT: "layers.10.
// L128: aoarm.mdlm_loss {{.*}} : tensor<?x128x28xf32>, tensor<?x128xi32>, tensor<?x128xi32>, tensor<?xf32>

// L1024-LABEL: aoarm.model @mdlm config {d_ff = 1024, d_model = 256, mask_token = 27, n_heads = 4, n_layers = 10, norm_eps = 1.0e-05, rope_base = 1.0e+04, seq_len = 1024, vocab = 28} {
// L1024-NEXT: aoarm.tokens length 1024{{$}}
// L1024-NEXT: aoarm.time{{$}}
// L1024: aoarm.mask {{.*}} schedule loglinear : tensor<?x1024xi32>, tensor<?xf32>
// L1024-NOT: aoarm.layers
// L1024: aoarm.param "layers.0.attn.wq" [256, 256] f32 normal(0.02)
// L1024: aoarm.attention {{.*}} mask bidirectional : tensor<?x1024x256xf32>, tensor<?x1024x256xf32>, tensor<?x1024x256xf32>
// L1024: aoarm.param "layers.9.mlp.w2" [1024, 256] f32 normal(0.02)
// L1024-NOT: "layers.10.
// L1024: aoarm.mdlm_loss {{.*}} : tensor<?x1024x28xf32>, tensor<?x1024xi32>, tensor<?x1024xi32>, tensor<?xf32>

// SUMMARY: model mdlm
// SUMMARY: {{^ *}}total 7,884,032 (7.88 M in 83 tensors){{$}}
