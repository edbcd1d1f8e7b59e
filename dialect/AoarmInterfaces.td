//===- AoarmInterfaces.td - interfaces of the aoarm dialect --*- tablegen -*-===//

#ifndef AOARM_INTERFACES_TD
#define AOARM_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Aoarm_VJPOpInterface : OpInterface<"VJPOpInterface"> {
  let cppNamespace = "::aoarm";
  let description = [{
    Reverse-mode differentiation of one op: aoarm-synthesize walks a model's
    forward ops backwards and asks each for the gradients of its operands.
    All the rules live in dialect/VJP.cpp, attached as external models, so
    the autodiff table of the dialect reads in one place.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds the backward of this op at the builder's insertion point.
        `resultGrads` holds the gradient of each result (empty for an
        objective, whose seed is d loss = 1). Returns one value per operand:
        its gradient, or null where the operand is not differentiable.
      }],
      "::llvm::SmallVector<::mlir::Value>", "buildVJP",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::ValueRange":$resultGrads)>,
  ];
}

#endif // AOARM_INTERFACES_TD
