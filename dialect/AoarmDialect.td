//===- AoarmDialect.td - the aoarm dialect, its types and enums -*- tablegen -*-===//
//
// The dialect in which researchers write any-order language models. A model
// is one `aoarm.model` op whose body reads like the model's figure: inputs,
// embeddings, a repeated layer, a head and one objective. Shapes are written
// with config keys (`[d_model, d_ff]`); `aoarm-specialize` fixes them.
//
//===----------------------------------------------------------------------===//

#ifndef AOARM_DIALECT_TD
#define AOARM_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Aoarm_Dialect : Dialect {
  let name = "aoarm";
  let cppNamespace = "::aoarm";
  let summary = "Any-order language models: orders, positions, attention and objectives";
  let description = [{
    The `aoarm` dialect describes a language model and its training
    objective in one op, `aoarm.model`, so that `aoarmc` can specialize it,
    synthesize its training step and compile it for the GPU.

    Permutation awareness is in the types: the order in which an any-order
    model reads a sequence is a `!aoarm.perm` value, and the positions fed to
    `aoarm.rope` must come from that order (`aoarm.lag`, `aoarm.lead`) or from
    `aoarm.iota`. Activations are `f32` tensors `[batch, slots, features]`.

    A spec is written without types: its shapes depend on the config, so
    its tensors are unranked until `aoarm-specialize` fixes every dimension
    but the batch (which stays `?` so one bundle trains at any batch size).
    Specialized IR prints its types after a colon, e.g.
    `aoarm.add %a, %b : tensor<?x128x256xf32>, tensor<?x128x256xf32>`.
  }];
  // The perm type prints as `!aoarm.perm` or `!aoarm.perm<128>`.
  let useDefaultTypePrinterParser = 1;
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

def Aoarm_PermType : TypeDef<Aoarm_Dialect, "Perm"> {
  let mnemonic = "perm";
  let summary = "one order (a permutation of the slots) per sequence of a batch";
  let description = [{
    A batch of permutations pi of `length` positions: slot t of the
    structural order holds the token at text position pi(t). The length is
    dynamic (`!aoarm.perm`) until `aoarm-specialize` fixes it to `seq_len`
    (`!aoarm.perm<128>`).
  }];
  let parameters = (ins "int64_t":$length);
  // Custom so the dynamic form reads `!aoarm.perm` rather than `<-922...>`.
  let hasCustomAssemblyFormat = 1;
  let extraClassDeclaration = [{
    bool hasStaticLength() const { return !::mlir::ShapedType::isDynamic(getLength()); }
  }];
}

def Aoarm_Perm : Type<CPred<"::llvm::isa<::aoarm::PermType>($_self)">,
                      "aoarm order (!aoarm.perm)", "::aoarm::PermType">;

//===----------------------------------------------------------------------===//
// Enums (they print as bare words: `mask causal`, `zeros`)
//===----------------------------------------------------------------------===//

def Aoarm_MaskKind : I32EnumAttr<"MaskKind", "which keys each query slot may see", [
    I32EnumAttrCase<"causal", 0>,
    I32EnumAttrCase<"bidirectional", 1>,
    I32EnumAttrCase<"strict_causal", 2>]> {
  let cppNamespace = "::aoarm";
}

def Aoarm_InitKind : I32EnumAttr<"InitKind", "how a parameter is initialised", [
    I32EnumAttrCase<"normal", 0>,
    I32EnumAttrCase<"zeros", 1>,
    I32EnumAttrCase<"ones", 2>]> {
  let cppNamespace = "::aoarm";
}

def Aoarm_Schedule : I32EnumAttr<"Schedule", "masked-diffusion noise schedule", [
    I32EnumAttrCase<"loglinear", 0>]> {
  let cppNamespace = "::aoarm";
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// Before aoarm-specialize the shapes of a spec are not known (they depend
// on the config), so its tensors are unranked (`tensor<*xf32>`) and the spec
// text carries no types at all; afterwards they are ranked and static but
// for the batch, and the printed IR shows them. Ranks are checked by the
// op verifiers once known.
def Aoarm_Tokens : TensorOf<[I32]>;       // [batch, slots] token ids
def Aoarm_Positions : TensorOf<[I32]>;    // [batch, slots] text positions
def Aoarm_Act : TensorOf<[F32]>;          // [batch, slots, features]
def Aoarm_Time : TensorOf<[F32]>;         // [batch] diffusion time t
def Aoarm_Loss : 0DTensorOf<[F32]>;       // scalar, nats per token
// A scalar the step ops build themselves (clipping scale).
def Aoarm_Scalar : 0DTensorOf<[F32]> {
  let builderCall = "::mlir::RankedTensorType::get({}, $_builder.getF32Type())";
}

#endif // AOARM_DIALECT_TD
