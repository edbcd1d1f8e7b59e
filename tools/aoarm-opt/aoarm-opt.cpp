// aoarm-opt: runs aoarm passes one at a time, for lit tests and debugging.
#include "dialect/AoarmOps.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  aoarm::registerAoarmPipelines();
  mlir::DialectRegistry registry;
  registry.insert<aoarm::AoarmDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "aoarm pass driver\n", registry));
}
