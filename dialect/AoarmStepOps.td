//===- AoarmStepOps.td - synthesized step functions ----------*- tablegen -*-===//
//
// What aoarm-synthesize builds inside a model: the functions the runtime
// calls (`train_step`, `eval_step`), their backward ops and the optimizer.
// Users never write these; they appear in `aoarmc --emit=synthesized`.
//
//===----------------------------------------------------------------------===//

#ifndef AOARM_STEP_OPS_TD
#define AOARM_STEP_OPS_TD

def Aoarm_StepOp : Aoarm_Op<"step", [
    HasParent<"ModelOp">, SingleBlock, NoRegionArguments]> {
  let summary = "a function the runtime calls (train_step, eval_step)";
  let description = [{
    A straight-line program over the model's inputs (`aoarm.tokens`,
    `aoarm.order`, `aoarm.time`) and parameters, ending in
    `aoarm.step_return`. `train_step` also holds the backward pass
    (`aoarm.vjp`), the global-norm clipping scale and one `aoarm.adamw` per
    parameter.

    ```mlir
    aoarm.step "eval_step" {
      %x = aoarm.tokens length 8
      ...
      aoarm.step_return ["loss"] %loss : tensor<f32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$name $body attr-dict";
  let hasRegionVerifier = 1;
}

def Aoarm_StepReturnOp : Aoarm_Op<"step_return", [
    Pure, HasParent<"StepOp">, Terminator, ReturnLike]> {
  let summary = "ends a step: its named outputs";
  let description = [{
    ```mlir
    aoarm.step_return ["loss"] %loss : tensor<f32>
    ```
  }];
  let arguments = (ins StrArrayAttr:$names, Variadic<AnyType>:$outputs);
  let assemblyFormat = "$names $outputs attr-dict `:` type($outputs)";
  let hasVerifier = 1;
}

def Aoarm_VJPOp : Aoarm_Op<"vjp", [Pure, HasParent<"StepOp">]> {
  let summary = "the backward of one forward op (vector-Jacobian product)";
  let description = [{
    Given the gradient of the forward op's result (none for objectives,
    whose seed is d loss = 1) and the forward op's operands, returns the
    gradient of each differentiable operand, in operand order. `kind` names
    the forward op; the exact math of each kind is that of the CPU reference
    kernels (docs/program.md). Built by each op's `VJPOpInterface`.

    ```mlir
    %dx, %dw = aoarm.vjp "linear" (%dy, %x, %w)
        : (tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<16x16xf32>)
        -> (tensor<?x8x16xf32>, tensor<16x16xf32>)
    ```
  }];
  let arguments = (ins StrAttr:$kind, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyTensor>:$grads);
  let assemblyFormat = [{
    $kind `(` $inputs `)` attr-dict `:` functional-type($inputs, $grads)
  }];
  let hasVerifier = 1;
}

def Aoarm_RopeAttentionOp : Aoarm_Op<"rope_attention", [
    Pure, HasParent<"StepOp">, InferTypeOpAdaptor]> {
  let summary = "attention with RoPE folded into its query and key loads";
  let description = [{
    `aoarm.attention (aoarm.rope %q at %qpos), (aoarm.rope %k at %kpos), %v`
    as one kernel: it reads the unrotated query and key and the positions
    (from the order: lead for queries, lag for keys under D-RoPE), and
    rotates each row as it loads it, so no rotated copy of Q or K is ever
    written. Built by `aoarm-fuse`; its backward is
    `aoarm.vjp "rope_attention"(%dout, %q, %k, %v, %qpos, %kpos) {mask}`,
    whose dq and dk are the gradients of the unrotated q and k.

    ```mlir
    %o = aoarm.rope_attention %q, %k, %v at %lead, %lag mask causal
        : tensor<?x64x256xf32>, tensor<?x64x256xf32>, tensor<?x64x256xf32>,
          tensor<?x64xi32>, tensor<?x64xi32>
    ```
  }];
  let arguments = (ins Aoarm_Act:$query, Aoarm_Act:$key, Aoarm_Act:$value,
                       Aoarm_Positions:$query_positions,
                       Aoarm_Positions:$key_positions, Aoarm_MaskKind:$mask);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = [{
    $query `,` $key `,` $value `at` $query_positions `,` $key_positions
    `mask` $mask attr-dict `:` type($query) `,` type($key) `,` type($value)
    `,` type($query_positions) `,` type($key_positions)
  }];
  let hasVerifier = 1;
}

def Aoarm_ClipScaleOp : Aoarm_Op<"clip_scale", [Pure, HasParent<"StepOp">]> {
  let summary = "global-norm clipping scale over all parameter gradients";
  let description = [{
    `min(1, max_norm / (||(g1, ..., gn)||_2 + 1e-6))`; `max_norm` is a
    setting of the run, not of the model.

    ```mlir
    %s = aoarm.clip_scale %g0, %g1 : tensor<28x16xf32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins Variadic<TensorOf<[F32]>>:$grads);
  let results = (outs Aoarm_Scalar:$scale);
  let assemblyFormat = "$grads attr-dict `:` type($grads)";
}

def Aoarm_AdamWOp : Aoarm_Op<"adamw", [
    HasParent<"StepOp">, AllTypesMatch<["param", "grad"]>]> {
  let summary = "one AdamW update of a parameter (fp32 master weight)";
  let description = [{
    Updates parameter `param` in place with gradient `scale * grad`:
    decoupled weight decay and bias correction; learning rate, betas,
    epsilon, weight decay and the step count are settings of the run.

    ```mlir
    aoarm.adamw %w, %dw, %s : tensor<16x16xf32>
    ```
  }];
  let arguments = (ins TensorOf<[F32]>:$param, TensorOf<[F32]>:$grad,
                       Aoarm_Scalar:$scale);
  let assemblyFormat = "$param `,` $grad `,` $scale attr-dict `:` type($param)";
  let hasVerifier = 1;
}

#endif // AOARM_STEP_OPS_TD
