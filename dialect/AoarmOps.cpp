// Op semantics of the aoarm dialect: result type inference, verifiers and the
// custom pieces of assembly (config keys, shapes, initializers, types).
//
// A spec as written has unranked tensors (its shapes depend on the config);
// verifiers then check what does not need shapes (config keys, where rope
// positions come from, initializers). After aoarm-specialize every tensor is
// ranked and static but for the batch, and the same verifiers check every
// shape exactly.
#include "dialect/AoarmOps.h"

#include "dialect/ContentFlow.h"
#include "dialect/ModelConfig.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir;
using namespace aoarm;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

std::string shapeString(ArrayRef<int64_t> shape) {
  return "[" +
         llvm::join(llvm::map_range(shape, [](int64_t d) { return dimString(d); }),
                    ", ") +
         "]";
}

RankedTensorType ranked(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

/// True when every value is a ranked tensor, i.e. shapes can be checked.
bool allRanked(std::initializer_list<Value> values) {
  return llvm::all_of(values, [](Value v) { return bool(ranked(v)); });
}

Type f32Tensor(MLIRContext *ctx, std::optional<ArrayRef<int64_t>> shape) {
  Type f32 = Float32Type::get(ctx);
  if (!shape)
    return UnrankedTensorType::get(f32);
  return RankedTensorType::get(*shape, f32);
}

Type i32Tensor(MLIRContext *ctx, std::optional<ArrayRef<int64_t>> shape) {
  Type i32 = IntegerType::get(ctx, 32);
  if (!shape)
    return UnrankedTensorType::get(i32);
  return RankedTensorType::get(*shape, i32);
}

/// The shape of `v` when it is ranked with at least `minRank` dimensions.
std::optional<ArrayRef<int64_t>> shapeOf(Value v, int64_t minRank = 0) {
  RankedTensorType type = ranked(v);
  if (!type || type.getRank() < minRank)
    return std::nullopt;
  return type.getShape();
}

ModelOp getModel(Operation *op) { return op->getParentOfType<ModelOp>(); }

/// Where a value comes from, for messages: `'aoarm.add'` or `a block
/// argument`.
std::string describeSource(Value v) {
  if (Operation *def = v.getDefiningOp())
    return "'" + def->getName().getStringRef().str() + "'";
  return "a block argument";
}

/// The model's integer config keys (those that can name a dimension or a
/// repeat count), for messages.
std::string integerConfigKeys(ModelOp model) {
  SmallVector<StringRef> keys;
  for (NamedAttribute entry : model.getConfig())
    if (isa<IntegerAttr>(entry.getValue()))
      keys.push_back(entry.getName().getValue());
  return llvm::join(keys, ", ");
}

/// The model's integer config value, or nothing when the op is not (yet)
/// inside a model or the key is absent.
std::optional<int64_t> configInt(Operation *op, StringRef key) {
  if (ModelOp model = getModel(op))
    return model.getConfigInt(key);
  return std::nullopt;
}

/// Checks a tensor's rank once it is known.
LogicalResult expectRank(Operation *op, Value v, int64_t rank,
                         StringRef what) {
  RankedTensorType type = ranked(v);
  if (type && type.getRank() != rank)
    return op->emitOpError() << what << " must have rank " << rank << ", got "
                             << type.getRank() << " (shape "
                             << shapeString(type.getShape()) << ")";
  return success();
}

/// Checks that dimension `actual` matches `expected` (either may be `?`).
LogicalResult expectDim(Operation *op, int64_t actual, int64_t expected,
                        const Twine &what) {
  if (compatible(actual, expected))
    return success();
  return op->emitOpError() << what << " must be " << expected << ", got "
                           << actual;
}

/// Checks that two tensors have the same rank and compatible dimensions.
LogicalResult expectSameShape(Operation *op, Value a, Value b, StringRef aName,
                              StringRef bName) {
  auto ta = ranked(a), tb = ranked(b);
  if (!ta || !tb)
    return success();
  if (ta.getRank() != tb.getRank() ||
      !llvm::all_of(llvm::zip(ta.getShape(), tb.getShape()), [](auto p) {
        return compatible(std::get<0>(p), std::get<1>(p));
      }))
    return op->emitOpError()
           << aName << " and " << bName << " must have the same shape, got "
           << shapeString(ta.getShape()) << " and "
           << shapeString(tb.getShape());
  return success();
}

/// Requires `key` in the enclosing model's config (ops that read it).
LogicalResult expectConfigKey(Operation *op, StringRef key) {
  ModelOp model = getModel(op);
  if (model && !model.getConfig().get(key))
    return op->emitOpError() << "needs config key '" << key
                             << "' in the model's config";
  return success();
}

/// Checks that features split into n_heads heads (and even heads for rope).
LogicalResult expectHeads(Operation *op, int64_t features, bool needEven) {
  std::optional<int64_t> heads = configInt(op, "n_heads");
  if (!heads || ShapedType::isDynamic(features) || *heads <= 0)
    return success();
  if (features % *heads != 0)
    return op->emitOpError()
           << "n_heads (" << *heads << ") must divide the features ("
           << features << "), got remainder " << features % *heads;
  int64_t headDim = features / *heads;
  if (needEven && headDim % 2 != 0)
    return op->emitOpError() << "head dimension must be even under rope, got "
                             << headDim << " (" << features << " features / "
                             << *heads << " heads)";
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Custom assembly
//===----------------------------------------------------------------------===//

/// A config key written as a bare word: `repeat n_layers`.
static ParseResult parseConfigKey(OpAsmParser &parser, StringAttr &key) {
  std::string word;
  if (parser.parseKeywordOrString(&word))
    return failure();
  key = parser.getBuilder().getStringAttr(word);
  return success();
}

static void printConfigKey(OpAsmPrinter &printer, Operation *,
                           StringAttr key) {
  printer.printKeywordOrString(key.getValue());
}

/// A parameter shape: `[d_model, 3]`, each entry an integer or a config key.
static ParseResult parseShape(OpAsmParser &parser, ArrayAttr &shape) {
  SmallVector<Attribute> dims;
  Builder &b = parser.getBuilder();
  auto parseDim = [&]() -> ParseResult {
    int64_t value = 0;
    OptionalParseResult asInt = parser.parseOptionalInteger(value);
    if (asInt.has_value()) {
      if (failed(*asInt))
        return failure();
      dims.push_back(b.getI64IntegerAttr(value));
      return success();
    }
    std::string key;
    if (parser.parseKeywordOrString(&key))
      return failure();
    dims.push_back(b.getStringAttr(key));
    return success();
  };
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Square, parseDim))
    return failure();
  shape = b.getArrayAttr(dims);
  return success();
}

static void printShape(OpAsmPrinter &printer, Operation *, ArrayAttr shape) {
  printer << "[";
  llvm::interleaveComma(shape, printer, [&](Attribute dim) {
    if (auto i = dyn_cast<IntegerAttr>(dim))
      printer << i.getInt();
    else if (auto s = dyn_cast<StringAttr>(dim))
      printer.printKeywordOrString(s.getValue());
    else
      printer << dim;
  });
  printer << "]";
}

/// An initializer: `normal(0.02)`, `zeros` or `ones`.
static ParseResult parseInit(OpAsmParser &parser, InitKindAttr &init,
                             FloatAttr &std) {
  llvm::SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (parser.parseKeyword(&word))
    return failure();
  std::optional<InitKind> kind = symbolizeInitKind(word);
  if (!kind)
    return parser.emitError(loc)
           << "unknown initializer '" << word
           << "', expected normal(std), zeros or ones";
  init = InitKindAttr::get(parser.getContext(), *kind);
  if (succeeded(parser.parseOptionalLParen())) {
    double value;
    if (parser.parseFloat(value) || parser.parseRParen())
      return failure();
    std = parser.getBuilder().getF64FloatAttr(value);
  }
  return success();
}

/// The shortest decimal that reads back as the same double ("0.02", "1e-05").
static std::string shortFloat(const llvm::APFloat &value) {
  double v = value.convertToDouble();
  char text[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof(text), "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v)
      break;
  }
  // MLIR float literals need a '.', or "28" would read back as an i64.
  std::string out = text;
  if (out.find_first_of(".n") == std::string::npos) {
    size_t e = out.find('e');
    out.insert(e == std::string::npos ? out.size() : e, ".0");
  }
  return out;
}

static void printInit(OpAsmPrinter &printer, Operation *, InitKindAttr init,
                      FloatAttr std) {
  printer << stringifyInitKind(init.getValue());
  if (std)
    printer << "(" << shortFloat(std.getValue()) << ")";
}

/// The config: `{vocab = 28, rope_base = 10000.0}`, without type suffixes
/// (integers are i64 and floats f64 when parsed back).
static ParseResult parseConfig(OpAsmParser &parser, DictionaryAttr &config) {
  return parser.parseAttribute(config);
}

static void printConfig(OpAsmPrinter &printer, Operation *,
                        DictionaryAttr config) {
  printer << "{";
  llvm::interleaveComma(config, printer, [&](NamedAttribute entry) {
    printer << entry.getName().getValue() << " = ";
    if (auto i = dyn_cast<IntegerAttr>(entry.getValue());
        i && i.getType().isInteger(64))
      printer << i.getInt();
    else if (auto f = dyn_cast<FloatAttr>(entry.getValue());
             f && f.getType().isF64())
      printer << shortFloat(f.getValue());
    else
      printer.printAttribute(entry.getValue());
  });
  printer << "}";
}

/// Parses the optional `: type, type` list of an op's operands; absent, the
/// types are the unspecialized `defaults`.
static ParseResult parseOperandTypes(OpAsmParser &parser,
                                     ArrayRef<Type> defaults,
                                     ArrayRef<Type *> types) {
  if (failed(parser.parseOptionalColon())) {
    for (auto [type, fallback] : llvm::zip(types, defaults))
      *type = fallback;
    return success();
  }
  for (auto [i, type] : llvm::enumerate(types))
    if ((i > 0 && parser.parseComma()) || parser.parseType(*type))
      return failure();
  return success();
}

/// Prints the operand types unless they are all the unspecialized defaults.
static void printOperandTypes(OpAsmPrinter &printer, ArrayRef<Type> defaults,
                              ArrayRef<Type> types) {
  if (llvm::equal(defaults, types))
    return;
  printer << ": ";
  llvm::interleaveComma(types, printer);
}

namespace {
/// The unspecialized type of each letter of a custom<TypesXYZ> directive.
Type defaultType(MLIRContext *ctx, char letter) {
  switch (letter) {
  case 'F':
    return UnrankedTensorType::get(Float32Type::get(ctx));
  case 'I':
    return UnrankedTensorType::get(IntegerType::get(ctx, 32));
  case 'P':
    return PermType::get(ctx, ShapedType::kDynamic);
  case 'T':
    return RankedTensorType::get({ShapedType::kDynamic}, Float32Type::get(ctx));
  default: // 'L'
    return RankedTensorType::get({}, Float32Type::get(ctx));
  }
}

SmallVector<Type> defaultTypes(MLIRContext *ctx, StringRef letters) {
  return llvm::to_vector(
      llvm::map_range(letters, [&](char c) { return defaultType(ctx, c); }));
}
} // namespace

// custom<TypesXYZ>: one parse/print pair per operand signature used in
// AoarmOps.td.
#define AOARM_TYPES_1(NAME, LETTERS)                                           \
  static ParseResult parse##NAME(OpAsmParser &p, Type &a) {                    \
    return parseOperandTypes(p, defaultTypes(p.getContext(), LETTERS), {&a});  \
  }                                                                            \
  static void print##NAME(OpAsmPrinter &p, Operation *op, Type a) {            \
    printOperandTypes(p, defaultTypes(op->getContext(), LETTERS), {a});        \
  }
#define AOARM_TYPES_2(NAME, LETTERS)                                           \
  static ParseResult parse##NAME(OpAsmParser &p, Type &a, Type &b) {           \
    return parseOperandTypes(p, defaultTypes(p.getContext(), LETTERS),         \
                             {&a, &b});                                        \
  }                                                                            \
  static void print##NAME(OpAsmPrinter &p, Operation *op, Type a, Type b) {    \
    printOperandTypes(p, defaultTypes(op->getContext(), LETTERS), {a, b});     \
  }
#define AOARM_TYPES_3(NAME, LETTERS)                                           \
  static ParseResult parse##NAME(OpAsmParser &p, Type &a, Type &b, Type &c) {  \
    return parseOperandTypes(p, defaultTypes(p.getContext(), LETTERS),         \
                             {&a, &b, &c});                                    \
  }                                                                            \
  static void print##NAME(OpAsmPrinter &p, Operation *op, Type a, Type b,      \
                          Type c) {                                            \
    printOperandTypes(p, defaultTypes(op->getContext(), LETTERS), {a, b, c});  \
  }

AOARM_TYPES_1(TypesF, "F")
AOARM_TYPES_1(TypesI, "I")
AOARM_TYPES_1(TypesP, "P")
AOARM_TYPES_1(TypesL, "L")
AOARM_TYPES_2(TypesFF, "FF")
AOARM_TYPES_2(TypesFI, "FI")
AOARM_TYPES_2(TypesIF, "IF")
AOARM_TYPES_2(TypesIP, "IP")
AOARM_TYPES_2(TypesIT, "IT")
AOARM_TYPES_3(TypesFFF, "FFF")
AOARM_TYPES_3(TypesFIP, "FIP")

static ParseResult parseTypesFIIT(OpAsmParser &p, Type &a, Type &b, Type &c,
                                  Type &d) {
  return parseOperandTypes(p, defaultTypes(p.getContext(), "FIIT"),
                           {&a, &b, &c, &d});
}
static void printTypesFIIT(OpAsmPrinter &p, Operation *op, Type a, Type b,
                           Type c, Type d) {
  printOperandTypes(p, defaultTypes(op->getContext(), "FIIT"), {a, b, c, d});
}

/// Any number of activations (aoarm.yield).
static ParseResult
parseTypesVarF(OpAsmParser &p,
               ArrayRef<OpAsmParser::UnresolvedOperand> operands,
               SmallVectorImpl<Type> &types) {
  types.assign(operands.size(), defaultType(p.getContext(), 'F'));
  SmallVector<Type *> refs;
  for (Type &type : types)
    refs.push_back(&type);
  SmallVector<Type> defaults(types.begin(), types.end());
  return parseOperandTypes(p, defaults, refs);
}
static void printTypesVarF(OpAsmPrinter &p, Operation *op, OperandRange,
                           TypeRange types) {
  SmallVector<Type> defaults(types.size(), defaultType(op->getContext(), 'F'));
  printOperandTypes(p, defaults, llvm::to_vector(types));
}

/// The values a layer carries, named for the body: `(%x = %h, %y = %g)`,
/// then the optional types, then the body.
static ParseResult
parseCarriedValues(OpAsmParser &parser, Region &body,
                   SmallVectorImpl<OpAsmParser::UnresolvedOperand> &inits,
                   SmallVectorImpl<Type> &types) {
  SmallVector<OpAsmParser::Argument> args;
  auto parseOne = [&]() -> ParseResult {
    OpAsmParser::Argument arg;
    OpAsmParser::UnresolvedOperand init;
    if (parser.parseArgument(arg) || parser.parseEqual() ||
        parser.parseOperand(init))
      return failure();
    args.push_back(arg);
    inits.push_back(init);
    return success();
  };
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Paren, parseOne))
    return failure();
  if (parseTypesVarF(parser, inits, types))
    return failure();
  for (auto [arg, type] : llvm::zip(args, types))
    arg.type = type;
  return parser.parseRegion(body, args);
}

static void printCarriedValues(OpAsmPrinter &printer, Operation *op,
                               Region &body, OperandRange inits,
                               TypeRange types) {
  printer << "(";
  llvm::interleaveComma(llvm::zip(body.getArguments(), inits), printer,
                        [&](auto pair) {
                          printer << std::get<0>(pair) << " = "
                                  << std::get<1>(pair);
                        });
  printer << ")";
  // The types, when printed, are the only custom output not preceded by the
  // space the generated printer puts before each directive.
  if (!llvm::all_of(types, [&](Type type) {
        return type == defaultType(op->getContext(), 'F');
      }))
    printer << " ";
  printTypesVarF(printer, op, inits, types);
  printer << " ";
  printer.printRegion(body, /*printEntryBlockArgs=*/false);
}

#define GET_OP_CLASSES
#include "dialect/AoarmOps.cpp.inc"

//===----------------------------------------------------------------------===//
// ModelOp
//===----------------------------------------------------------------------===//

std::optional<int64_t> ModelOp::getConfigInt(StringRef key) {
  if (auto value = dyn_cast_or_null<IntegerAttr>(getConfig().get(key)))
    return value.getInt();
  return std::nullopt;
}

std::optional<double> ModelOp::getConfigFloat(StringRef key) {
  Attribute value = getConfig().get(key);
  if (auto f = dyn_cast_or_null<FloatAttr>(value))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(value))
    return static_cast<double>(i.getInt());
  return std::nullopt;
}

Operation *ModelOp::getObjective() {
  Block &body = getBody().front();
  if (body.empty())
    return nullptr;
  auto ret = dyn_cast<ReturnOp>(body.back());
  if (!ret)
    return nullptr;
  Operation *def = ret.getLoss().getDefiningOp();
  if (isa_and_nonnull<NextTokenLossOp, NextSlotLossOp, MDLMLossOp>(def))
    return def;
  return nullptr;
}

LogicalResult ModelOp::verify() {
  return verifyConfig(getConfig(), [&]() { return emitOpError(); });
}

LogicalResult ModelOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != 0)
    return emitOpError() << "body must take no arguments (inputs are "
                            "aoarm.tokens, aoarm.order and aoarm.time), got "
                         << body.getNumArguments();
  if (body.empty() || !isa<ReturnOp>(body.back()))
    return emitOpError() << "body must end with aoarm.return of the loss";
  if (!getObjective())
    return emitOpError()
           << "the returned loss must come from an objective "
              "(aoarm.next_token_loss, aoarm.next_slot_loss, aoarm.mdlm_loss), "
              "got "
           << describeSource(cast<ReturnOp>(body.back()).getLoss());

  // Parameter names are checkpoint names: they must be unique. Inside an
  // unexpanded aoarm.layers they are unique per prefix.
  llvm::StringMap<Operation *> seen;
  // Synthesized steps repeat the parameters on purpose; skip them.
  WalkResult walk = this->walk<WalkOrder::PreOrder>([&](Operation *op) -> WalkResult {
    if (isa<StepOp>(op))
      return WalkResult::skip();
    auto param = dyn_cast<ParamOp>(op);
    if (!param)
      return WalkResult::advance();
    std::string name = param.getName().str();
    if (auto layers = param->getParentOfType<LayersOp>())
      name = (layers.getPrefix() + ".<i>." + name).str();
    auto [it, inserted] = seen.try_emplace(name, param);
    if (!inserted) {
      InFlightDiagnostic diag =
          param.emitOpError() << "parameter '" << name
                              << "' is declared twice; checkpoint names must "
                                 "be unique";
      diag.attachNote(it->second->getLoc()) << "first declared here";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  return verifyNoTargetLeak(*this);
}

//===----------------------------------------------------------------------===//
// LayersOp
//===----------------------------------------------------------------------===//

LogicalResult LayersOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  for (Value init : adaptor.getInits())
    types.push_back(init.getType());
  return success();
}

LogicalResult LayersOp::verify() {
  if (getPrefix().empty())
    return emitOpError() << "needs a non-empty name prefix, e.g. \"layers\"";
  ModelOp model = getModel(*this);
  if (model && !model.getConfigInt(getCount()))
    return emitOpError() << "repeat count '" << getCount()
                         << "' must be an integer config key of the model; "
                            "keys: "
                         << integerConfigKeys(model);
  if (getInits().empty())
    return emitOpError() << "must carry at least one value";
  return success();
}

LogicalResult LayersOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInits().size())
    return emitOpError() << "body must take " << getInits().size()
                         << " arguments (one per carried value), got "
                         << body.getNumArguments();
  // The custom form gives each argument its carried value's type; only the
  // generic form can disagree.
  for (auto [i, arg, init] : llvm::enumerate(body.getArguments(), getInits()))
    if (arg.getType() != init.getType())
      return emitOpError() << "body argument #" << i
                           << " must have the type of its carried value, "
                           << init.getType() << ", got " << arg.getType();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError() << "body must end with aoarm.yield";
  if (yield.getValues().size() != getInits().size())
    return yield.emitOpError() << "must yield " << getInits().size()
                               << (getInits().size() == 1 ? " value"
                                                          : " values")
                               << " (one per carried value), got "
                               << yield.getValues().size();
  for (auto [i, value, init] : llvm::enumerate(yield.getValues(), getInits()))
    if (failed(expectSameShape(yield, value, init,
                               ("yielded value #" + Twine(i)).str(),
                               "the carried value")))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Inputs
//===----------------------------------------------------------------------===//

/// aoarm.tokens and aoarm.order: `length` is seq_len once specialized.
static LogicalResult verifyLength(Operation *op, std::optional<uint64_t> length) {
  std::optional<int64_t> seqLen = configInt(op, "seq_len");
  if (length && seqLen && static_cast<int64_t>(*length) != *seqLen)
    return op->emitOpError() << "length must be seq_len = " << *seqLen
                             << ", got " << *length;
  return success();
}

LogicalResult TokensOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location>,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  IntegerAttr length = adaptor.getLengthAttr();
  if (!length)
    types.push_back(i32Tensor(ctx, std::nullopt));
  else
    types.push_back(i32Tensor(ctx, {{kDyn, length.getInt()}}));
  return success();
}

LogicalResult TokensOp::verify() { return verifyLength(*this, getLength()); }

LogicalResult OrderOp::inferReturnTypes(MLIRContext *ctx,
                                        std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  IntegerAttr length = adaptor.getLengthAttr();
  types.push_back(PermType::get(ctx, length ? length.getInt() : kDyn));
  return success();
}

LogicalResult OrderOp::verify() { return verifyLength(*this, getLength()); }

LogicalResult TimeOp::inferReturnTypes(MLIRContext *ctx,
                                       std::optional<Location>, Adaptor,
                                       SmallVectorImpl<Type> &types) {
  types.push_back(f32Tensor(ctx, {{kDyn}}));
  return success();
}

LogicalResult TimeOp::verify() { return success(); }

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::inferReturnTypes(MLIRContext *ctx,
                                        std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape;
  for (Attribute dim : adaptor.getShape()) {
    auto i = dyn_cast<IntegerAttr>(dim);
    if (!i || i.getInt() <= 0) { // a config key: aoarm-specialize fixes it
      types.push_back(f32Tensor(ctx, std::nullopt));
      return success();
    }
    shape.push_back(i.getInt());
  }
  types.push_back(f32Tensor(ctx, shape));
  return success();
}

std::optional<SmallVector<int64_t>> ParamOp::getStaticShape() {
  SmallVector<int64_t> shape;
  for (Attribute dim : getShape()) {
    auto i = dyn_cast<IntegerAttr>(dim);
    if (!i)
      return std::nullopt;
    shape.push_back(i.getInt());
  }
  return shape;
}

LogicalResult ParamOp::verify() {
  StringRef name = getName();
  if (name.empty() || name.front() == '.' || name.back() == '.' ||
      name.contains("..") || !llvm::all_of(name, [](char c) {
        return llvm::isAlnum(c) || c == '_' || c == '.';
      }))
    return emitOpError() << "parameter name '" << name
                         << "' must be dotted words of letters, digits and _ "
                            "(e.g. \"attn.wq\")";
  if (getShape().empty())
    return emitOpError() << "parameter '" << name << "' needs a shape";
  ModelOp model = getModel(*this);
  for (auto [i, dim] : llvm::enumerate(getShape())) {
    if (auto value = dyn_cast<IntegerAttr>(dim)) {
      if (value.getInt() <= 0)
        return emitOpError() << "parameter '" << name << "' dimension " << i
                             << " must be positive, got " << value.getInt();
      continue;
    }
    auto key = dyn_cast<StringAttr>(dim);
    if (!key)
      return emitOpError() << "parameter '" << name << "' dimension " << i
                           << " must be an integer or a config key, got "
                           << dim;
    if (model && !model.getConfigInt(key.getValue()))
      return emitOpError() << "parameter '" << name << "' dimension " << i
                           << " is '" << key.getValue()
                           << "', not an integer config key of the model; "
                              "keys: "
                           << integerConfigKeys(model);
  }
  if (!getDtype().isF32())
    return emitOpError() << "parameter '" << name
                         << "' dtype must be f32 (master weights; storage "
                            "precision is chosen by codegen), got "
                         << getDtype();
  switch (getInit()) {
  case InitKind::normal:
    if (!getStdAttr() || !(getStdAttr().getValueAsDouble() > 0))
      return emitOpError() << "parameter '" << name
                           << "': normal(std) needs std > 0, got "
                           << (getStdAttr() ? shortFloat(getStdAttr().getValue())
                                            : std::string("no std"));
    break;
  case InitKind::zeros:
  case InitKind::ones:
    if (getStdAttr())
      return emitOpError() << "parameter '" << name << "': "
                           << stringifyInitKind(getInit())
                           << " takes no std, got "
                           << shortFloat(getStdAttr().getValue());
    break;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Orders and positions
//===----------------------------------------------------------------------===//

/// Token-valued ops keep the type of their token operand.
#define AOARM_TOKENS_LIKE(OP, GETTER)                                          \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location>,   \
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &types) {           \
    types.push_back(adaptor.GETTER().getType());                               \
    return success();                                                          \
  }

AOARM_TOKENS_LIKE(PermuteOp, getTokens)
AOARM_TOKENS_LIKE(ShiftRightOp, getTokens)
AOARM_TOKENS_LIKE(MaskOp, getTokens)

LogicalResult PermuteOp::verify() {
  if (failed(expectRank(*this, getTokens(), 2, "tokens")))
    return failure();
  std::optional<ArrayRef<int64_t>> tokens = shapeOf(getTokens(), 2);
  if (!tokens)
    return success();
  return expectDim(*this, (*tokens)[1],
                   cast<PermType>(getOrder().getType()).getLength(),
                   "token sequence length (the perm's length)");
}

LogicalResult ShiftRightOp::verify() {
  if (failed(expectRank(*this, getTokens(), 2, "tokens")))
    return failure();
  return expectConfigKey(*this, "bos_token");
}

static LogicalResult inferPositions(MLIRContext *ctx, Value order,
                                    SmallVectorImpl<Type> &types) {
  auto perm = dyn_cast<PermType>(order.getType());
  if (!perm || !perm.hasStaticLength())
    types.push_back(i32Tensor(ctx, std::nullopt));
  else
    types.push_back(i32Tensor(ctx, {{kDyn, perm.getLength()}}));
  return success();
}

LogicalResult LagOp::inferReturnTypes(MLIRContext *ctx,
                                      std::optional<Location>, Adaptor adaptor,
                                      SmallVectorImpl<Type> &types) {
  return inferPositions(ctx, adaptor.getOrder(), types);
}

LogicalResult LagOp::verify() { return success(); }

LogicalResult LeadOp::inferReturnTypes(MLIRContext *ctx,
                                       std::optional<Location>,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &types) {
  return inferPositions(ctx, adaptor.getOrder(), types);
}

LogicalResult LeadOp::verify() { return success(); }

LogicalResult IotaOp::inferReturnTypes(MLIRContext *ctx,
                                       std::optional<Location>,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &types) {
  types.push_back(i32Tensor(ctx, shapeOf(adaptor.getLike())));
  return success();
}

LogicalResult IotaOp::verify() {
  return expectRank(*this, getLike(), 2, "tokens");
}

LogicalResult MaskOp::verify() {
  if (failed(expectConfigKey(*this, "mask_token")) ||
      failed(expectRank(*this, getTokens(), 2, "tokens")) ||
      failed(expectRank(*this, getT(), 1, "t")))
    return failure();
  if (!allRanked({getTokens(), getT()}))
    return success();
  return expectDim(*this, ranked(getT()).getDimSize(0),
                   ranked(getTokens()).getDimSize(0),
                   "the batch of t (the tokens' batch)");
}

//===----------------------------------------------------------------------===//
// Layers of the network
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::inferReturnTypes(MLIRContext *ctx,
                                        std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  std::optional<ArrayRef<int64_t>> tokens = shapeOf(adaptor.getTokens(), 2);
  std::optional<ArrayRef<int64_t>> table = shapeOf(adaptor.getTable(), 1);
  if (!tokens || !table)
    types.push_back(f32Tensor(ctx, std::nullopt));
  else
    types.push_back(
        f32Tensor(ctx, {{(*tokens)[0], (*tokens)[1], table->back()}}));
  return success();
}

LogicalResult EmbedOp::verify() {
  // Positions are int32 too, but they index the text, not the vocabulary.
  if (Operation *source = getTokens().getDefiningOp();
      isa_and_nonnull<LagOp, LeadOp, IotaOp>(source))
    return emitOpError() << "embeds token ids, got positions from '"
                         << source->getName().getStringRef()
                         << "'; positions reach the model through aoarm.rope";
  if (failed(expectRank(*this, getTokens(), 2, "tokens")) ||
      failed(expectRank(*this, getTable(), 2, "embedding table [vocab, d]")))
    return failure();
  std::optional<int64_t> vocab = configInt(*this, "vocab");
  if (!vocab || !ranked(getTable()))
    return success();
  return expectDim(*this, ranked(getTable()).getDimSize(0), *vocab,
                   "embedding table rows (vocab)");
}

LogicalResult BroadcastOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location>,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  types.push_back(f32Tensor(ctx, shapeOf(adaptor.getLike())));
  return success();
}

LogicalResult BroadcastOp::verify() {
  if (failed(expectRank(*this, getVector(), 1, "broadcast vector")))
    return failure();
  if (!allRanked({getVector(), getLike()}))
    return success();
  return expectDim(*this, ranked(getVector()).getDimSize(0),
                   ranked(getLike()).getShape().back(),
                   "vector size (the features of the target shape)");
}

/// x [..., k] @ w [k, n] -> [..., n] (aoarm.linear and aoarm.head).
static void inferMatmul(MLIRContext *ctx, Value input, Value weight,
                        SmallVectorImpl<Type> &types) {
  std::optional<ArrayRef<int64_t>> x = shapeOf(input, 1);
  std::optional<ArrayRef<int64_t>> w = shapeOf(weight, 2);
  if (!x || !w) {
    types.push_back(f32Tensor(ctx, std::nullopt));
    return;
  }
  SmallVector<int64_t> shape(*x);
  shape.back() = w->back();
  types.push_back(f32Tensor(ctx, shape));
}

static LogicalResult verifyMatmul(Operation *op, Value input, Value weight,
                                  StringRef weightDesc) {
  if (failed(expectRank(op, weight, 2, weightDesc)))
    return failure();
  if (!allRanked({input, weight}))
    return success();
  return expectDim(op, ranked(weight).getDimSize(0),
                   ranked(input).getShape().back(),
                   "weight rows (the input's features)");
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location>,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  inferMatmul(ctx, adaptor.getInput(), adaptor.getWeight(), types);
  return success();
}

LogicalResult LinearOp::verify() {
  return verifyMatmul(*this, getInput(), getWeight(), "weight [in, out]");
}

LogicalResult HeadOp::inferReturnTypes(MLIRContext *ctx,
                                       std::optional<Location>,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &types) {
  inferMatmul(ctx, adaptor.getInput(), adaptor.getWeight(), types);
  return success();
}

LogicalResult HeadOp::verify() {
  if (failed(verifyMatmul(*this, getInput(), getWeight(), "weight [d, vocab]")))
    return failure();
  std::optional<int64_t> vocab = configInt(*this, "vocab");
  if (!vocab || !ranked(getWeight()))
    return success();
  return expectDim(*this, ranked(getWeight()).getDimSize(1), *vocab,
                   "weight columns (vocab)");
}

/// Ops whose result has the type of their first operand.
#define AOARM_SAME_AS_FIRST_OPERAND(OP, GETTER)                                \
  LogicalResult OP::inferReturnTypes(MLIRContext *ctx,                         \
                                     std::optional<Location>, Adaptor adaptor, \
                                     SmallVectorImpl<Type> &types) {           \
    types.push_back(f32Tensor(ctx, shapeOf(adaptor.GETTER())));                \
    return success();                                                          \
  }

AOARM_SAME_AS_FIRST_OPERAND(RMSNormOp, getInput)
AOARM_SAME_AS_FIRST_OPERAND(LayerNormOp, getInput)
AOARM_SAME_AS_FIRST_OPERAND(GeluOp, getInput)
AOARM_SAME_AS_FIRST_OPERAND(SwiGLUOp, getGate)
AOARM_SAME_AS_FIRST_OPERAND(AddOp, getLhs)
AOARM_SAME_AS_FIRST_OPERAND(RopeOp, getInput)
AOARM_SAME_AS_FIRST_OPERAND(AttentionOp, getQuery)
AOARM_SAME_AS_FIRST_OPERAND(RopeAttentionOp, getQuery)

/// A per-feature vector (a norm's gain or bias) against the features of x.
static LogicalResult expectFeatureVector(Operation *op, Value vector, Value x,
                                         StringRef what) {
  if (failed(expectRank(op, vector, 1, what)))
    return failure();
  if (!allRanked({vector, x}))
    return success();
  return expectDim(op, ranked(vector).getDimSize(0),
                   ranked(x).getShape().back(),
                   Twine(what) + " size (the input's features)");
}

LogicalResult RMSNormOp::verify() {
  return expectFeatureVector(*this, getGain(), getInput(), "gain");
}

LogicalResult LayerNormOp::verify() {
  if (failed(expectFeatureVector(*this, getGain(), getInput(), "gain")))
    return failure();
  return expectFeatureVector(*this, getBias(), getInput(), "bias");
}

LogicalResult GeluOp::verify() { return success(); }

LogicalResult SwiGLUOp::verify() {
  return expectSameShape(*this, getGate(), getUp(), "gate", "up");
}

LogicalResult AddOp::verify() {
  return expectSameShape(*this, getLhs(), getRhs(), "lhs", "rhs");
}

LogicalResult RopeOp::verify() {
  if (!isa_and_nonnull<LagOp, LeadOp, IotaOp>(getPositions().getDefiningOp()))
    return emitOpError()
           << "positions must come from an order (aoarm.lag, aoarm.lead) or "
              "from aoarm.iota, got "
           << describeSource(getPositions());
  if (failed(expectRank(*this, getInput(), 3,
                        "input [batch, slots, features]")))
    return failure();
  if (!allRanked({getInput(), getPositions()}))
    return success();
  auto input = ranked(getInput());
  if (failed(expectDim(*this, ranked(getPositions()).getDimSize(1),
                       input.getDimSize(1),
                       "positions length (the input's slots)")))
    return failure();
  return expectHeads(*this, input.getDimSize(2), /*needEven=*/true);
}

LogicalResult AttentionOp::verify() {
  for (auto [value, name] : {std::pair{getQuery(), "query"},
                             {getKey(), "key"},
                             {getValue(), "value"}})
    if (failed(expectRank(*this, value, 3, name)))
      return failure();
  if (!allRanked({getQuery(), getKey(), getValue()}))
    return success();
  auto q = ranked(getQuery()), k = ranked(getKey());
  if (failed(expectSameShape(*this, getKey(), getValue(), "key", "value")) ||
      failed(expectDim(*this, q.getDimSize(2), k.getDimSize(2),
                       "query features (the key's features)")) ||
      failed(expectDim(*this, q.getDimSize(0), k.getDimSize(0),
                       "query batch (the key's batch)")))
    return failure();
  if (getMask() != MaskKind::bidirectional &&
      failed(expectDim(*this, q.getDimSize(1), k.getDimSize(1),
                       "query slots under a causal mask (the key's slots)")))
    return failure();
  return expectHeads(*this, q.getDimSize(2), /*needEven=*/false);
}

LogicalResult RopeAttentionOp::verify() {
  // What the unfused pair checks: attention's shapes, rope's positions.
  auto q = ranked(getQuery()), k = ranked(getKey());
  if (!q || !k || !ranked(getValue()))
    return emitOpError() << "needs ranked query, key and value";
  if (q.getRank() != 3 || k.getRank() != 3 || q.getShape() != k.getShape() ||
      ranked(getValue()).getShape() != k.getShape())
    return emitOpError() << "needs query, key and value of one shape "
                            "[batch, slots, features], got "
                         << getQuery().getType() << ", " << getKey().getType()
                         << ", " << getValue().getType();
  for (auto [positions, name] :
       {std::pair{getQueryPositions(), "query positions"},
        {getKeyPositions(), "key positions"}}) {
    auto p = ranked(positions);
    if (!p || p.getRank() != 2 || p.getDimSize(1) != q.getDimSize(1))
      return emitOpError() << name << " must be [batch, " << q.getDimSize(1)
                           << "], got " << positions.getType();
  }
  return expectHeads(*this, q.getDimSize(2), /*needEven=*/true);
}

//===----------------------------------------------------------------------===//
// Objectives
//===----------------------------------------------------------------------===//

#define AOARM_LOSS(OP)                                                         \
  LogicalResult OP::inferReturnTypes(MLIRContext *ctx,                         \
                                     std::optional<Location>, Adaptor,         \
                                     SmallVectorImpl<Type> &types) {           \
    types.push_back(f32Tensor(ctx, ArrayRef<int64_t>{}));                      \
    return success();                                                          \
  }

AOARM_LOSS(NextTokenLossOp)
AOARM_LOSS(NextSlotLossOp)
AOARM_LOSS(MDLMLossOp)

/// Logits [batch, slots, vocab] against targets [batch, slots].
static LogicalResult verifyLogits(Operation *op, Value logits, Value targets) {
  if (failed(expectRank(op, logits, 3, "logits [batch, slots, vocab]")) ||
      failed(expectRank(op, targets, 2, "targets [batch, slots]")))
    return failure();
  if (!allRanked({logits, targets}))
    return success();
  auto l = ranked(logits), t = ranked(targets);
  if (failed(expectDim(op, l.getDimSize(0), t.getDimSize(0),
                       "logits batch (the targets' batch)")) ||
      failed(expectDim(op, l.getDimSize(1), t.getDimSize(1),
                       "logits slots (the targets' length)")))
    return failure();
  if (std::optional<int64_t> vocab = configInt(op, "vocab"))
    return expectDim(op, l.getDimSize(2), *vocab, "logits width (vocab)");
  return success();
}

LogicalResult NextTokenLossOp::verify() {
  return verifyLogits(*this, getLogits(), getTargets());
}

LogicalResult NextSlotLossOp::verify() {
  if (failed(verifyLogits(*this, getLogits(), getTargets())))
    return failure();
  std::optional<ArrayRef<int64_t>> targets = shapeOf(getTargets(), 2);
  if (!targets)
    return success();
  return expectDim(*this, (*targets)[1],
                   cast<PermType>(getOrder().getType()).getLength(),
                   "targets length (the perm's length)");
}

LogicalResult MDLMLossOp::verify() {
  if (failed(verifyLogits(*this, getLogits(), getTargets())))
    return failure();
  auto mask = dyn_cast_or_null<MaskOp>(getMasked().getDefiningOp());
  std::string found;
  if (!mask)
    found = describeSource(getMasked());
  else if (mask.getTokens() != getTargets())
    found = "aoarm.mask of other tokens";
  else if (mask.getT() != getT())
    found = "aoarm.mask at another t";
  if (!found.empty())
    return emitOpError() << "masked tokens must be aoarm.mask of the same "
                            "targets at the same t, got "
                         << found;
  return success();
}
