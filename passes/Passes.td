//===- Passes.td - the passes of aoarmc ----------------------*- tablegen -*-===//
//
// Each pass: def XxxPass, CLI aoarm-xxx, file passes/Xxx.cpp, test
// tests/passes/xxx.mlir. Grouped by stage of the pipeline, in pipeline order.
//
//===----------------------------------------------------------------------===//

#ifndef AOARM_PASSES_TD
#define AOARM_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Front end
//===----------------------------------------------------------------------===//

def SpecializePass : Pass<"aoarm-specialize", "mlir::ModuleOp"> {
  let summary = "Apply config overrides, fix every shape, expand repeated layers";
  let description = [{
    Turns a spec as written into the model that will be compiled:

    1. `set` overrides (`key=value`) replace config values; a key the model
       does not declare, or a value of the wrong type, is an error that lists
       the valid keys.
    2. Each `aoarm.layers "p" repeat n (...)` becomes n copies of its body,
       chained through the carried values; parameter `name` of copy i is
       renamed `p.i.name`.
    3. Config keys in parameter shapes become integers, `aoarm.tokens` and
       `aoarm.order` get `length = seq_len`, and every result type is
       inferred again, so every dimension but the batch is static.

    Afterwards the verifier runs on the static model: shape, head and
    target-leak checks are exact.
  }];
  let options = [
    ListOption<"overrides", "set", "std::string",
               "config overrides written key=value">,
  ];
  let dependentDialects = ["aoarm::AoarmDialect"];
}

//===----------------------------------------------------------------------===//
// Training step
//===----------------------------------------------------------------------===//

def SynthesizePass : Pass<"aoarm-synthesize", "mlir::ModuleOp"> {
  let summary = "Build the step functions the runtime calls: eval_step, train_step, decode_step";
  let description = [{
    On a specialized model (no `aoarm.layers` left), adds inside the model:

    - `aoarm.step "eval_step"`: the forward pass and the loss.
    - `aoarm.step "train_step"`: the forward pass; then reverse-mode
      gradients, built by walking the forward ops backwards and asking each
      op's `VJPOpInterface` for the gradients of its operands (a value used
      twice receives the sum of its gradients, via `aoarm.add`); then the
      global-norm clipping scale over every parameter gradient
      (`aoarm.clip_scale`) and one `aoarm.adamw` per parameter.
    - `aoarm.step "decode_step"`: what the sampler calls. The forward up to
      the logits the objective reads (`logits`), and for each slot the text
      position those logits predict (`positions`: `aoarm.lead` of the order
      under `next_slot_loss`, `aoarm.iota` under `next_token_loss` and
      `mdlm_loss`). An `aoarm.mask` is cut out, its tokens taking the place
      of its result, so an MDLM decode_step is the denoiser applied to the
      sequence it is given, mask tokens included. A causal model's
      decode_step can run one slot at a time against cached keys and values
      (docs/sampling.md).

    The loss is the seed: objectives' backward needs no incoming gradient.
    A parameter that does not influence the loss is an error (it would
    never train).
  }];
  let dependentDialects = ["aoarm::AoarmDialect"];
}

//===----------------------------------------------------------------------===//
// GPU path
//===----------------------------------------------------------------------===//

def FusePass : Pass<"aoarm-fuse", "mlir::ModuleOp"> {
  let summary = "Fold RoPE at order-derived positions into the attention kernel";
  let description = [{
    In every synthesized step, an `aoarm.attention` whose query and key are
    both `aoarm.rope` results becomes one `aoarm.rope_attention` that reads
    the unrotated q and k with their positions and rotates them as it loads
    them, and its backward `aoarm.vjp "attention"` becomes
    `aoarm.vjp "rope_attention"`, which returns the gradients of the
    unrotated q and k. The `aoarm.vjp "rope"` ops that turned rotated
    gradients back are then identities and go, and so do the ropes: no
    rotated copy of Q or K, nor of its gradient, is left.

    A rope is folded only when every use of its result is the query or key
    of an attention (or of that attention's backward) that can be folded
    too, i.e. whose other operand is also such a rope; the rope's gradient
    then reaches it only through those attentions, summed by `aoarm.add`,
    which stays valid for unrotated gradients because the rotation is
    linear. Two-stream attention, whose rotated content keys feed both
    streams' attentions, folds into both. Anything else (a rotated value
    used by another op, a query without rope) is left unfused and still
    compiles.

    The CPU reference executor runs the unfused steps; this pass prepares
    the GPU kernels (`aoarmc --emit=fused`).
  }];
  let dependentDialects = ["aoarm::AoarmDialect"];
}

#endif // AOARM_PASSES_TD
