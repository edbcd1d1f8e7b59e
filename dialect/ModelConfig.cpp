#include "dialect/ModelConfig.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <cstdio>
#include <limits>

using namespace mlir;

namespace aoarm {

llvm::ArrayRef<ConfigKeyInfo> knownConfigKeys() {
  static const ConfigKeyInfo keys[] = {
      {"vocab", ConfigType::Int, true, 2, "token ids 0..vocab-1"},
      {"d_model", ConfigType::Int, true, 1, "width of the residual stream"},
      {"n_heads", ConfigType::Int, true, 1, "attention heads"},
      {"n_layers", ConfigType::Int, true, 1, "repeats of aoarm.layers"},
      {"d_ff", ConfigType::Int, false, 1, "hidden width of the MLP"},
      {"seq_len", ConfigType::Int, true, 2, "slots per sequence"},
      {"rope_base", ConfigType::Float, false, 0, "RoPE base"},
      {"norm_eps", ConfigType::Float, false, 0, "epsilon of the norms"},
      {"bos_token", ConfigType::Int, false, 0, "id put in slot 0"},
      {"mask_token", ConfigType::Int, false, 0, "id of the mask token"},
  };
  return keys;
}

const ConfigKeyInfo *lookupConfigKey(llvm::StringRef name) {
  for (const ConfigKeyInfo &key : knownConfigKeys())
    if (key.name == name)
      return &key;
  return nullptr;
}

static std::string knownKeyList() {
  return llvm::join(llvm::map_range(knownConfigKeys(),
                                    [](const ConfigKeyInfo &k) {
                                      return k.name.str();
                                    }),
                    ", ");
}

/// A number as people write it in a config ("0", "1e-05"), for messages.
static std::string formatNumber(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", v);
  return text;
}

static std::optional<int64_t> intValue(Attribute attr) {
  if (auto i = dyn_cast_or_null<IntegerAttr>(attr))
    if (i.getType().isSignlessInteger() || i.getType().isIndex())
      return i.getInt();
  return std::nullopt;
}

LogicalResult verifyConfig(DictionaryAttr config, EmitErrorFn emitError) {
  for (NamedAttribute entry : config) {
    llvm::StringRef name = entry.getName().getValue();
    const ConfigKeyInfo *key = lookupConfigKey(name);
    if (!key)
      return emitError() << "unknown config key '" << name
                         << "'; valid keys: " << knownKeyList();
    Attribute value = entry.getValue();
    if (key->type == ConfigType::Int) {
      std::optional<int64_t> v = intValue(value);
      if (!v)
        return emitError() << "config key '" << name
                           << "' must be an integer, got " << value;
      if (*v < static_cast<int64_t>(key->minimum))
        return emitError() << "config key '" << name << "' must be >= "
                           << static_cast<int64_t>(key->minimum) << ", got "
                           << *v;
      // Token ids and positions are int32 tensors, and shapes built from
      // these keys must not overflow.
      if (*v > std::numeric_limits<int32_t>::max())
        return emitError() << "config key '" << name << "' must be <= "
                           << std::numeric_limits<int32_t>::max() << ", got "
                           << *v;
    } else {
      double v;
      if (auto f = dyn_cast<FloatAttr>(value))
        v = f.getValueAsDouble();
      else if (std::optional<int64_t> i = intValue(value))
        v = static_cast<double>(*i);
      else
        return emitError() << "config key '" << name
                           << "' must be a number, got " << value;
      if (!(v > key->minimum) || !std::isfinite(v))
        return emitError() << "config key '" << name
                           << "' must be a finite number > "
                           << formatNumber(key->minimum) << ", got "
                           << formatNumber(v);
    }
  }
  for (const ConfigKeyInfo &key : knownConfigKeys())
    if (key.required && !config.get(key.name))
      return emitError() << "config is missing required key '" << key.name
                         << "'";

  int64_t dModel = *intValue(config.get("d_model"));
  int64_t nHeads = *intValue(config.get("n_heads"));
  if (dModel % nHeads != 0)
    return emitError() << "n_heads (" << nHeads << ") must divide d_model ("
                       << dModel << "), got remainder " << dModel % nHeads;
  int64_t vocab = *intValue(config.get("vocab"));
  for (llvm::StringRef special : {"bos_token", "mask_token"})
    if (std::optional<int64_t> id = intValue(config.get(special)))
      if (*id >= vocab)
        return emitError() << special << " (" << *id
                           << ") must be below vocab (" << vocab << ")";
  return success();
}

FailureOr<DictionaryAttr>
applyConfigOverrides(DictionaryAttr config,
                     llvm::ArrayRef<std::string> overrides,
                     EmitErrorFn emitError) {
  Builder builder(config.getContext());
  NamedAttrList entries(config);
  for (const std::string &text : overrides) {
    auto [name, valueText] = llvm::StringRef(text).split('=');
    name = name.trim();
    valueText = valueText.trim();
    if (name.empty() || !llvm::StringRef(text).contains('=') ||
        valueText.empty())
      return emitError() << "--set '" << text
                         << "' must have the form key=value";
    if (!config.get(name) && lookupConfigKey(name)) {
      std::string declared = llvm::join(
          llvm::map_range(config, [](NamedAttribute e) {
            return e.getName().getValue().str();
          }),
          ", ");
      return emitError() << "--set " << name
                         << ": this model does not declare config key '"
                         << name
                         << "'; --set changes declared keys only: "
                         << declared;
    }
    if (!config.get(name)) {
      std::string valid = llvm::join(
          llvm::map_range(config, [](NamedAttribute e) {
            return e.getName().getValue().str();
          }),
          ", ");
      return emitError() << "unknown config key '" << name
                         << "' in --set; valid keys: " << valid;
    }
    const ConfigKeyInfo *key = lookupConfigKey(name);
    if (!key) // The model's own config was verified, so this cannot happen.
      return emitError() << "unknown config key '" << name << "'";
    Attribute value;
    if (key->type == ConfigType::Int) {
      int64_t v;
      if (valueText.getAsInteger(10, v))
        return emitError() << "--set " << name << "=" << valueText
                           << ": expected an integer";
      value = builder.getI64IntegerAttr(v);
    } else {
      double v;
      if (valueText.getAsDouble(v))
        return emitError() << "--set " << name << "=" << valueText
                           << ": expected a number";
      value = builder.getF64FloatAttr(v);
    }
    entries.set(name, value);
  }
  DictionaryAttr result = entries.getDictionary(config.getContext());
  if (failed(verifyConfig(result, emitError)))
    return failure();
  return result;
}

} // namespace aoarm
