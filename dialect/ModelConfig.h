// The config keys a model may declare, their types and ranges, and the
// `--set key=value` overrides applied by aoarm-specialize. One table, so the
// verifier, the pass and the docs agree on what a key means.
#pragma once

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace aoarm {

enum class ConfigType { Int, Float };

/// One known config key.
struct ConfigKeyInfo {
  llvm::StringRef name;
  ConfigType type;
  /// Every model must set it.
  bool required;
  /// Smallest allowed value (inclusive for ints, exclusive for floats).
  double minimum;
  llvm::StringRef meaning;
};

/// All keys a model's config may hold.
llvm::ArrayRef<ConfigKeyInfo> knownConfigKeys();

/// The key's entry, or null when it is not a known key.
const ConfigKeyInfo *lookupConfigKey(llvm::StringRef name);

using EmitErrorFn = llvm::function_ref<mlir::InFlightDiagnostic()>;

/// Checks every key of `config`: known, of the right type, in range, the
/// required ones present, and the relations between keys (n_heads divides
/// d_model, special tokens below vocab).
mlir::LogicalResult verifyConfig(mlir::DictionaryAttr config,
                                 EmitErrorFn emitError);

/// Applies overrides written `key=value` to `config`. The key must already
/// be in this model's config (the error lists the valid ones) and the value
/// must parse as the key's type.
mlir::FailureOr<mlir::DictionaryAttr>
applyConfigOverrides(mlir::DictionaryAttr config,
                     llvm::ArrayRef<std::string> overrides,
                     EmitErrorFn emitError);

} // namespace aoarm
