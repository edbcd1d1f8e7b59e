// A model's config and parameter table as a user reads it
// (`aoarmc --emit=summary`): its size without training it.
#pragma once

#include "dialect/AoarmOps.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace aoarm {

/// One row of the parameter table of a specialized model.
struct ParamInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t count;
};

/// The parameters of a specialized model in declaration order; fails (with
/// a located error) when a shape is not static yet.
mlir::FailureOr<std::vector<ParamInfo>> collectParams(ModelOp model);

/// Prints the config and the parameter table with the total count.
mlir::LogicalResult printModelSummary(ModelOp model, llvm::raw_ostream &os);

} // namespace aoarm
