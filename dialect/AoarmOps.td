//===- AoarmOps.td - the ops of the aoarm dialect ------------*- tablegen -*-===//
//
// Ops are grouped as a model is read: structure, inputs, order and
// positions, layers of the network, objectives. Each op infers its result
// type (no types in the spec text) and checks its own invariants; checks that
// need the whole model (config keys, unique parameter names, whether a
// prediction can see its own target) live on `aoarm.model`.
//
//===----------------------------------------------------------------------===//

#ifndef AOARM_OPS_TD
#define AOARM_OPS_TD

include "dialect/AoarmDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

// Operand types in the assembly: a spec writes none (its tensors are
// unranked until specialized); specialized IR prints them after a colon.
// custom<TypesXYZ> parses that optional type list, one letter per operand
// giving the type used when it is absent: F = tensor<*xf32>,
// I = tensor<*xi32>, P = !aoarm.perm, L = tensor<f32>, T = tensor<?xf32>
// (times are [batch] from the start); VarF: any number of F.
class Aoarm_Op<string mnemonic, list<Trait> traits = []>
    : Op<Aoarm_Dialect, mnemonic, traits>;

// An op of a model's body: it lives in `aoarm.model` or `aoarm.layers`,
// infers its result type, and verifies itself.
class Aoarm_BodyOp<string mnemonic, list<Trait> traits = []>
    : Aoarm_Op<mnemonic, !listconcat(traits, [
        ParentOneOf<["ModelOp", "LayersOp", "StepOp"]>, InferTypeOpAdaptor])> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

def Aoarm_ModelOp : Aoarm_Op<"model", [
    Symbol, IsolatedFromAbove, SingleBlock]> {
  let summary = "a language model, its config and its training objective";
  let description = [{
    The whole model: a config dictionary and a body that computes the loss
    of one training step. Config values are integers or floats and can be
    overridden at compile time (`aoarmc --set seq_len=1024`) without editing
    the file. Known keys:

    | key | type | meaning |
    |---|---|---|
    | `vocab` | int | token ids 0..vocab-1 (27 symbols + specials) |
    | `d_model` | int | width of the residual stream |
    | `n_heads` | int | attention heads; must divide `d_model` |
    | `n_layers` | int | repeats of `aoarm.layers` |
    | `d_ff` | int | hidden width of the MLP |
    | `seq_len` | int | L, slots per sequence |
    | `rope_base` | float | RoPE base (default 10000) |
    | `norm_eps` | float | epsilon of rmsnorm/layernorm (default 1e-5) |
    | `bos_token` | int | id that `aoarm.shift_right` puts in slot 0 |
    | `mask_token` | int | id that `aoarm.mask` writes |

    Example:

    ```mlir
    aoarm.model @tiny config {vocab = 28, d_model = 64, n_heads = 2,
                              n_layers = 2, seq_len = 32, bos_token = 27} {
      %x = aoarm.tokens
      ...
      aoarm.return %loss
    }
    ```
  }];
  // sym_name makes the model a symbol so a module could hold several.
  let arguments = (ins SymbolNameAttr:$sym_name, DictionaryAttr:$config);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $sym_name `config` custom<Config>($config) attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The integer value of config `key`, if the model has it.
    std::optional<int64_t> getConfigInt(llvm::StringRef key);
    /// The float value of config `key` (integers widen), if the model has it.
    std::optional<double> getConfigFloat(llvm::StringRef key);
    /// The objective op that feeds the terminator, or null.
    mlir::Operation *getObjective();
  }];
}

def Aoarm_ReturnOp : Aoarm_Op<"return", [
    Pure, HasParent<"ModelOp">, Terminator]> {
  let summary = "ends a model: the loss of the step";
  let description = [{
    ```mlir
    aoarm.return %loss
    ```
  }];
  let arguments = (ins Aoarm_Loss:$loss);
  let assemblyFormat = "$loss custom<TypesL>(type($loss)) attr-dict";
}

def Aoarm_LayersOp : Aoarm_Op<"layers", [
    HasParent<"ModelOp">, SingleBlock, InferTypeOpAdaptor]> {
  let summary = "a layer written once and repeated n times";
  let description = [{
    The body is one layer; it is applied `count` times (a config key),
    threading the values in parentheses from one repeat to the next. Each
    `aoarm.param` inside is stacked: parameter `attn.wq` of repeat 3 is
    named `layers.3.attn.wq` in checkpoints (the prefix is the op's string).
    Values defined before the op (positions, orders) are visible inside.
    `aoarm-specialize` expands the op into `count` copies.

    ```mlir
    %h_out = aoarm.layers "layers" repeat n_layers (%x = %h) {
      %g = aoarm.param "norm.g" [d_model] f32 ones
      %y = aoarm.rmsnorm %x, %g
      aoarm.yield %y
    }
    ```
  }];
  let arguments = (ins StrAttr:$prefix, StrAttr:$count, Variadic<Aoarm_Act>:$inits);
  let results = (outs Variadic<Aoarm_Act>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $prefix `repeat` custom<ConfigKey>($count)
    custom<CarriedValues>($body, $inits, type($inits)) attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Aoarm_YieldOp : Aoarm_Op<"yield", [
    Pure, HasParent<"LayersOp">, Terminator, ReturnLike]> {
  let summary = "ends a layer: the values passed to the next repeat";
  let description = [{
    ```mlir
    aoarm.yield %h, %g
    ```
  }];
  let arguments = (ins Variadic<Aoarm_Act>:$values);
  let assemblyFormat = "$values custom<TypesVarF>(ref($values), type($values)) attr-dict";
}

//===----------------------------------------------------------------------===//
// Inputs of a step (filled by the runtime)
//===----------------------------------------------------------------------===//

def Aoarm_TokensOp : Aoarm_BodyOp<"tokens", [Pure]> {
  let summary = "the batch of token sequences of this step, in text order";
  let description = [{
    Token ids `[batch, seq_len]`, 0..26 for `a`..`z` and space. The length is
    written by `aoarm-specialize` (`aoarm.tokens length 128`).

    ```mlir
    %x = aoarm.tokens
    ```
  }];
  let arguments = (ins OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$length);
  let results = (outs Aoarm_Tokens:$tokens);
  let assemblyFormat = "(`length` $length^)? attr-dict";
}

def Aoarm_OrderOp : Aoarm_BodyOp<"order", [Pure]> {
  let summary = "the order of each sequence of this step";
  let description = [{
    One permutation per sequence. In training and evaluation the runtime
    draws it uniformly at random from the step's seeded stream; in sampling
    it is the order the user asked for (random, left-to-right or a file).

    ```mlir
    %pi = aoarm.order
    ```
  }];
  let arguments = (ins OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$length);
  let results = (outs Aoarm_Perm:$order);
  let assemblyFormat = "(`length` $length^)? attr-dict";
}

def Aoarm_TimeOp : Aoarm_BodyOp<"time", [Pure]> {
  let summary = "the masked-diffusion time t of each sequence";
  let description = [{
    `t` in (0, 1] per sequence `[batch]`, drawn by the runtime with
    low-discrepancy sampling over the batch.

    ```mlir
    %t = aoarm.time
    ```
  }];
  let results = (outs Aoarm_Time:$t);
  let assemblyFormat = "attr-dict";
}

def Aoarm_ParamOp : Aoarm_BodyOp<"param"> {
  let summary = "a trained parameter: name, shape, dtype and initializer";
  let description = [{
    Declares a parameter where it is used. The name is the one checkpoints
    use (inside `aoarm.layers "layers"` it gains the prefix `layers.<i>.`).
    Dimensions are integers or config keys. Parameters are `f32` master
    weights; lower-precision storage is a code-generation choice.
    Initializers: `normal(std)`, `zeros`, `ones`.

    ```mlir
    %wq = aoarm.param "attn.wq" [d_model, d_model] f32 normal(0.02)
    %g = aoarm.param "norm.g" [d_model] f32 ones
    ```
  }];
  let arguments = (ins StrAttr:$name, ArrayAttr:$shape, TypeAttr:$dtype,
                       Aoarm_InitKind:$init, OptionalAttr<F64Attr>:$std);
  let results = (outs Aoarm_Act:$value);
  let assemblyFormat = [{
    $name custom<Shape>($shape) $dtype custom<Init>($init, $std) attr-dict
  }];
  let extraClassDeclaration = [{
    /// The static shape, or nothing while a dimension is still a config key.
    std::optional<llvm::SmallVector<int64_t>> getStaticShape();
  }];
}

//===----------------------------------------------------------------------===//
// Orders and positions
//===----------------------------------------------------------------------===//

def Aoarm_PermuteOp : Aoarm_BodyOp<"permute", [Pure]> {
  let summary = "reorders tokens into the structural order";
  let description = [{
    `out[b, t] = x[b, pi_b(t)]`: slot t holds the token at text position
    pi(t).

    ```mlir
    %xs = aoarm.permute %x by %pi
    ```
  }];
  let arguments = (ins Aoarm_Tokens:$tokens, Aoarm_Perm:$order);
  let results = (outs Aoarm_Tokens:$out);
  let assemblyFormat = "$tokens `by` $order custom<TypesIP>(type($tokens), type($order)) attr-dict";
}

def Aoarm_ShiftRightOp : Aoarm_BodyOp<"shift_right", [Pure]> {
  let summary = "moves tokens one slot right and puts BOS in slot 0";
  let description = [{
    `out[b, 0] = bos_token`, `out[b, t] = x[b, t-1]`: slot t then holds the
    token before its target, so a causal decoder at slot t predicts slot t
    of the unshifted sequence, and every one of the L tokens is predicted.
    Needs config key `bos_token`.

    ```mlir
    %in = aoarm.shift_right %xs
    ```
  }];
  let arguments = (ins Aoarm_Tokens:$tokens);
  let results = (outs Aoarm_Tokens:$out);
  let assemblyFormat = "$tokens custom<TypesI>(type($tokens)) attr-dict";
}

def Aoarm_LagOp : Aoarm_BodyOp<"lag", [Pure]> {
  let summary = "the text position of the token each slot holds (BOS-shifted)";
  let description = [{
    With the BOS-shifted slots of `aoarm.shift_right`, slot t holds the token
    at position pi(t-1), and BOS sits at position 0:
    `out[b, 0] = 0`, `out[b, t] = pi_b(t-1)`. Keys (and the content stream's
    queries) are rotated at these lagging positions.

    ```mlir
    %lag = aoarm.lag %pi
    ```
  }];
  let arguments = (ins Aoarm_Perm:$order);
  let results = (outs Aoarm_Positions:$positions);
  let assemblyFormat = "$order custom<TypesP>(type($order)) attr-dict";
}

def Aoarm_LeadOp : Aoarm_BodyOp<"lead", [Pure]> {
  let summary = "the text position each slot predicts";
  let description = [{
    `out[b, t] = pi_b(t)`: the place in the text of slot t's target. In
    Decoupled RoPE, queries are rotated at these leading positions, so the
    target's position reaches the model without its content.

    ```mlir
    %lead = aoarm.lead %pi
    ```
  }];
  let arguments = (ins Aoarm_Perm:$order);
  let results = (outs Aoarm_Positions:$positions);
  let assemblyFormat = "$order custom<TypesP>(type($order)) attr-dict";
}

def Aoarm_IotaOp : Aoarm_BodyOp<"iota", [Pure]> {
  let summary = "positions 0..L-1 of every row (left-to-right order)";
  let description = [{
    `out[b, t] = t`, shaped like the given tokens.

    ```mlir
    %pos = aoarm.iota %x
    ```
  }];
  let arguments = (ins Aoarm_Tokens:$like);
  let results = (outs Aoarm_Positions:$positions);
  let assemblyFormat = "$like custom<TypesI>(type($like)) attr-dict";
}

def Aoarm_MaskOp : Aoarm_BodyOp<"mask"> {
  let summary = "masked diffusion: replaces tokens by the mask token";
  let description = [{
    Each token of sequence b becomes `mask_token` independently with
    probability 1 - alpha(t_b); under the log-linear schedule
    alpha(t) = 1 - (1 - eps) t with eps = 1e-3, so the ELBO weight of a
    masked token is 1/t. The draws come from the step's seeded stream (not
    pure: two masks are two draws). Needs config key `mask_token`.

    ```mlir
    %z = aoarm.mask %x at %t schedule loglinear
    ```
  }];
  let arguments = (ins Aoarm_Tokens:$tokens, Aoarm_Time:$t,
                       Aoarm_Schedule:$schedule);
  let results = (outs Aoarm_Tokens:$out);
  let assemblyFormat = "$tokens `at` $t `schedule` $schedule custom<TypesIT>(type($tokens), type($t)) attr-dict";
}

//===----------------------------------------------------------------------===//
// Layers of the network
//===----------------------------------------------------------------------===//

def Aoarm_EmbedOp : Aoarm_BodyOp<"embed", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    `out[b, t, :] = table[x[b, t], :]` with table `[vocab, d]`.

    ```mlir
    %h = aoarm.embed %in, %table
    ```
  }];
  let arguments = (ins Aoarm_Tokens:$tokens, Aoarm_Act:$table);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$tokens `,` $table custom<TypesIF>(type($tokens), type($table)) attr-dict";
}

def Aoarm_BroadcastOp : Aoarm_BodyOp<"broadcast", [Pure]> {
  let summary = "a learned vector repeated at every slot";
  let description = [{
    `out[b, t, :] = v[:]`, shaped like `like`. The two-stream query stream
    starts from such a vector: it knows its target's position, not content.

    ```mlir
    %g0 = aoarm.broadcast %w to %h
    ```
  }];
  let arguments = (ins Aoarm_Act:$vector, Aoarm_Act:$like);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$vector `to` $like custom<TypesFF>(type($vector), type($like)) attr-dict";
}

def Aoarm_LinearOp : Aoarm_BodyOp<"linear", [Pure]> {
  let summary = "x @ w over the last dimension";
  let description = [{
    `out[..., n] = sum_k x[..., k] w[k, n]`, w `[k, n]` (no bias: the
    reference models use none).

    ```mlir
    %q = aoarm.linear %hn, %wq
    ```
  }];
  let arguments = (ins Aoarm_Act:$input, Aoarm_Act:$weight);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$input `,` $weight custom<TypesFF>(type($input), type($weight)) attr-dict";
}

def Aoarm_RMSNormOp : Aoarm_BodyOp<"rmsnorm", [Pure]> {
  let summary = "RMS normalisation with a learned gain";
  let description = [{
    `out = x / sqrt(mean(x^2) + norm_eps) * g` over the last dimension.

    ```mlir
    %hn = aoarm.rmsnorm %h, %g
    ```
  }];
  let arguments = (ins Aoarm_Act:$input, Aoarm_Act:$gain);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$input `,` $gain custom<TypesFF>(type($input), type($gain)) attr-dict";
}

def Aoarm_LayerNormOp : Aoarm_BodyOp<"layernorm", [Pure]> {
  let summary = "layer normalisation with a learned gain and bias";
  let description = [{
    `out = (x - mean) / sqrt(var + norm_eps) * g + b` over the last
    dimension (biased variance).

    ```mlir
    %hn = aoarm.layernorm %h, %g, %b
    ```
  }];
  let arguments = (ins Aoarm_Act:$input, Aoarm_Act:$gain, Aoarm_Act:$bias);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$input `,` $gain `,` $bias custom<TypesFFF>(type($input), type($gain), type($bias)) attr-dict";
}

def Aoarm_GeluOp : Aoarm_BodyOp<"gelu", [Pure]> {
  let summary = "GELU, exact (erf) form";
  let description = [{
    `out = 0.5 x (1 + erf(x / sqrt(2)))`.

    ```mlir
    %a = aoarm.gelu %u
    ```
  }];
  let arguments = (ins Aoarm_Act:$input);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$input custom<TypesF>(type($input)) attr-dict";
}

def Aoarm_SwiGLUOp : Aoarm_BodyOp<"swiglu", [Pure]> {
  let summary = "gated linear unit with a SiLU gate";
  let description = [{
    `out = silu(gate) * up`, `silu(a) = a * sigmoid(a)`.

    ```mlir
    %a = aoarm.swiglu %gate, %up
    ```
  }];
  let arguments = (ins Aoarm_Act:$gate, Aoarm_Act:$up);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$gate `,` $up custom<TypesFF>(type($gate), type($up)) attr-dict";
}

def Aoarm_AddOp : Aoarm_BodyOp<"add", [Pure]> {
  let summary = "residual add";
  let description = [{
    ```mlir
    %h2 = aoarm.add %h, %attn
    ```
  }];
  let arguments = (ins Aoarm_Act:$lhs, Aoarm_Act:$rhs);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$lhs `,` $rhs custom<TypesFF>(type($lhs), type($rhs)) attr-dict";
}

def Aoarm_RopeOp : Aoarm_BodyOp<"rope", [Pure]> {
  let summary = "rotary position embedding at given positions";
  let description = [{
    Rotates each of the `n_heads` heads of x `[batch, slots, d]` at the
    position of its slot: pairs (i, i + hd/2) of a head of size hd turn by
    angle `pos * rope_base^(-2i/hd)`. The positions must come from an order
    (`aoarm.lag`, `aoarm.lead`) or from `aoarm.iota`, so the compiler knows
    what they mean and can fold the rotation into the attention kernel.
    The head size must be even. Without a `rope_base` key the base is
    10000.

    ```mlir
    %qr = aoarm.rope %q at %lead
    ```
  }];
  let arguments = (ins Aoarm_Act:$input, Aoarm_Positions:$positions);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$input `at` $positions custom<TypesFI>(type($input), type($positions)) attr-dict";
}

def Aoarm_AttentionOp : Aoarm_BodyOp<"attention", [Pure]> {
  let summary = "multi-head scaled dot-product attention";
  let description = [{
    `n_heads` heads, scale 1/sqrt(hd). Query slot i sees key slots j with
    `causal`: j <= i; `strict_causal`: j < i (the unshifted XLNet query
    stream; slot 0 sees nothing and outputs zeros); `bidirectional`: all j.
    Causal kinds need as many query slots as key slots. Queries may come
    from another stream than keys and values (two-stream attention).

    ```mlir
    %o = aoarm.attention %q, %k, %v mask causal
    ```
  }];
  let arguments = (ins Aoarm_Act:$query, Aoarm_Act:$key, Aoarm_Act:$value,
                       Aoarm_MaskKind:$mask);
  let results = (outs Aoarm_Act:$out);
  let assemblyFormat = "$query `,` $key `,` $value `mask` $mask custom<TypesFFF>(type($query), type($key), type($value)) attr-dict";
}

def Aoarm_HeadOp : Aoarm_BodyOp<"head", [Pure]> {
  let summary = "the output head: features to vocabulary logits";
  let description = [{
    `logits[b, t, v] = sum_k x[b, t, k] w[k, v]`, w `[d, vocab]`. Kept apart
    from `aoarm.linear` so the compiler can fold it into the cross-entropy
    (the probabilities never reach memory).

    ```mlir
    %logits = aoarm.head %hn, %wout
    ```
  }];
  let arguments = (ins Aoarm_Act:$input, Aoarm_Act:$weight);
  let results = (outs Aoarm_Act:$logits);
  let assemblyFormat = "$input `,` $weight custom<TypesFF>(type($input), type($weight)) attr-dict";
}

//===----------------------------------------------------------------------===//
// Objectives (nats per token, averaged over batch x seq_len)
//===----------------------------------------------------------------------===//

def Aoarm_NextTokenLossOp : Aoarm_BodyOp<"next_token_loss", [Pure]> {
  let summary = "left-to-right next-token cross-entropy";
  let description = [{
    Slot t predicts `x[b, t]` (with BOS-shifted inputs, every token is
    predicted): `loss = mean_{b,t} -log softmax(logits[b, t])[x[b, t]]`.
    The model must not let slot t see `x[b, t]`.

    ```mlir
    %loss = aoarm.next_token_loss %logits, %x
    ```
  }];
  let arguments = (ins Aoarm_Act:$logits, Aoarm_Tokens:$targets);
  let results = (outs Aoarm_Loss:$loss);
  let assemblyFormat = "$logits `,` $targets custom<TypesFI>(type($logits), type($targets)) attr-dict";
}

def Aoarm_NextSlotLossOp : Aoarm_BodyOp<"next_slot_loss", [Pure]> {
  let summary = "any-order cross-entropy over the structural order";
  let description = [{
    Slot t predicts the token at text position pi(t):
    `loss = mean_{b,t} -log softmax(logits[b, t])[x[b, pi_b(t)]]`. The
    verifier checks that the tokens reach the model in this same order and
    that no slot can see its own target (see `aoarm.model`).

    ```mlir
    %loss = aoarm.next_slot_loss %logits, %x, %pi
    ```
  }];
  let arguments = (ins Aoarm_Act:$logits, Aoarm_Tokens:$targets, Aoarm_Perm:$order);
  let results = (outs Aoarm_Loss:$loss);
  let assemblyFormat = "$logits `,` $targets `,` $order custom<TypesFIP>(type($logits), type($targets), type($order)) attr-dict";
}

def Aoarm_MDLMLossOp : Aoarm_BodyOp<"mdlm_loss", [Pure]> {
  let summary = "masked-diffusion ELBO, SUBS parameterisation, weight 1/t";
  let description = [{
    With the mask logit at -inf and unmasked tokens carried over (SUBS),
    only masked slots cost:
    `loss = mean_{b,l} [z[b,l] = mask] (1/t_b) (-log softmax(logits[b,l])[x[b,l]])`.
    `masked` must be `aoarm.mask` of the same `targets` at the same `t`.

    ```mlir
    %loss = aoarm.mdlm_loss %logits, %x, %z, %t
    ```
  }];
  let arguments = (ins Aoarm_Act:$logits, Aoarm_Tokens:$targets,
                       Aoarm_Tokens:$masked, Aoarm_Time:$t);
  let results = (outs Aoarm_Loss:$loss);
  let assemblyFormat = "$logits `,` $targets `,` $masked `,` $t custom<TypesFIIT>(type($logits), type($targets), type($masked), type($t)) attr-dict";
}

include "dialect/AoarmStepOps.td"

#endif // AOARM_OPS_TD
