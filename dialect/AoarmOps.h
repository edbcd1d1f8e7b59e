// The aoarm dialect: its types, attributes and ops (see AoarmOps.td).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/AoarmOpsDialect.h.inc"

#include "dialect/AoarmEnums.h.inc"

#include "dialect/AoarmInterfaces.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/AoarmOpsTypes.h.inc"

#define GET_OP_CLASSES
#include "dialect/AoarmOps.h.inc"
