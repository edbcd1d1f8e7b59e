// Dialect registration and the assembly of the perm type.
#include "dialect/AoarmOps.h"
#include "dialect/VJP.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace aoarm;

#include "dialect/AoarmOpsDialect.cpp.inc"

#include "dialect/AoarmEnums.cpp.inc"

#include "dialect/AoarmInterfaces.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/AoarmOpsTypes.cpp.inc"

void AoarmDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/AoarmOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/AoarmOpsTypes.cpp.inc"
      >();
  attachVJPInterfaces(getContext());
}

// `!aoarm.perm` (length not fixed yet) or `!aoarm.perm<128>`.
Type PermType::parse(AsmParser &parser) {
  int64_t length = ShapedType::kDynamic;
  if (succeeded(parser.parseOptionalLess())) {
    llvm::SMLoc loc = parser.getCurrentLocation();
    if (parser.parseInteger(length) || parser.parseGreater())
      return {};
    if (length <= 0) {
      parser.emitError(loc) << "perm length must be positive, got " << length;
      return {};
    }
  }
  return PermType::get(parser.getContext(), length);
}

void PermType::print(AsmPrinter &printer) const {
  if (hasStaticLength())
    printer << "<" << getLength() << ">";
}
