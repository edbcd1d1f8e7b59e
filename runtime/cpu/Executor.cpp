// The CPU reference executor (see Executor.h): plans each function once
// against the model, then runs its instructions in order on RefOps kernels.
#include "runtime/cpu/Executor.h"

#include "runtime/cpu/RefOps.h"
#include "runtime/support/Random.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace aoarm::cpu {
namespace {

/// The log-linear schedule's eps (docs/program.md: masked when
/// u < (1 - 1e-3) t).
constexpr double kMaskEps = 1e-3;

std::string shapeStr(const std::vector<int64_t> &shape) {
  return ValueType{ValueDType::F32, shape}.str().substr(3);
}

int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// An integer config value, checked to be whole and within [lo, hi].
StatusOr<int64_t> configInt(const ModelDesc &model, const std::string &key,
                            const std::string &who, int64_t lo, int64_t hi) {
  auto it = model.config.find(key);
  if (it == model.config.end())
    return Status::errorf("{} needs config key '{}', which the model does "
                          "not set",
                          who, key);
  const double v = it->second;
  if (!(v == std::floor(v)) || v < double(lo) || v > double(hi))
    return Status::errorf("{} needs config '{}' to be an integer in [{}, {}], "
                          "got {}",
                          who, key, lo, hi, v);
  return static_cast<int64_t>(v);
}

/// A positive real config value, or `fallback` when the key is absent.
StatusOr<double> configPositive(const ModelDesc &model, const std::string &key,
                                double fallback) {
  auto it = model.config.find(key);
  if (it == model.config.end())
    return fallback;
  if (!(it->second > 0) || !std::isfinite(it->second))
    return Status::errorf("config '{}' must be a positive number, got {}", key,
                          it->second);
  return it->second;
}

/// The op an instruction computes the forward or backward of.
OpCode formOf(const Instruction &ins) {
  return ins.op == OpCode::Vjp ? ins.kind : ins.op;
}

/// Checks `plan.program` against the model and fills the plan's tables.
Status planFunction(ExecutionPlan &plan, const ModelDesc &model,
                    const std::map<std::string, int> &paramByName) {
  const Program &p = plan.program;
  const int numInstructions = static_cast<int>(p.instructions.size());
  plan.paramIndex.assign(numInstructions, -1);
  plan.lseSource.assign(numInstructions, -1);
  plan.lseLastUse.assign(numInstructions, -1);
  plan.lastUse.assign(p.values.size(), -1);
  plan.gradValue.assign(model.params.size(), -1);

  StatusOr<int64_t> vocab =
      configInt(model, "vocab", p.name, 1, int64_t(1) << 30);
  if (!vocab)
    return vocab.status();
  plan.vocab = *vocab;
  StatusOr<double> ropeBase = configPositive(model, "rope_base", 10000.0);
  if (!ropeBase)
    return ropeBase.status().withContext(p.name);
  plan.ropeBase = *ropeBase;
  StatusOr<double> normEps = configPositive(model, "norm_eps", 1e-5);
  if (!normEps)
    return normEps.status().withContext(p.name);
  plan.normEps = *normEps;

  int firstAdamW = -1;
  int64_t length = 0; // L shared by tokens and orders
  for (int i = 0; i < numInstructions; ++i) {
    const Instruction &ins = p.instructions[i];
    const std::string where = p.where(i);
    for (int id : ins.operands)
      plan.lastUse[id] = i;
    const OpCode form = formOf(ins);
    // The forward operands (a vjp's start after its incoming gradient).
    const int base = ins.op == OpCode::Vjp && !isObjective(form) ? 1 : 0;
    auto operandType = [&](int k) -> const ValueType & {
      return p.values[ins.operands[base + k]];
    };

    if (ins.op == OpCode::Tokens || ins.op == OpCode::Order) {
      const int64_t l = p.values[ins.results[0]].shape[1];
      if (length != 0 && l != length)
        return Status::errorf("{}: length {} differs from the program's "
                              "sequence length {}",
                              where, l, length);
      length = l;
    }
    if (ins.op == OpCode::Tokens)
      plan.seqLen = length;
    if (ins.op == OpCode::Param) {
      auto it = paramByName.find(ins.name);
      if (it == paramByName.end())
        return Status::errorf("{}: parameter '{}' is not in the model's "
                              "parameter table",
                              where, ins.name);
      const ParamDesc &param = model.params[it->second];
      const ValueType &type = p.values[ins.results[0]];
      if (type.shape != param.shape)
        return Status::errorf("{}: parameter '{}' is {} here but {} in the "
                              "model",
                              where, ins.name, shapeStr(type.shape),
                              shapeStr(param.shape));
      plan.paramIndex[i] = it->second;
    }
    if (ins.op == OpCode::ShiftRight) {
      StatusOr<int64_t> bos =
          configInt(model, "bos_token", where, 0, plan.vocab - 1);
      if (!bos)
        return bos.status();
      plan.bosToken = static_cast<int32_t>(*bos);
    }
    if (form == OpCode::Mask || form == OpCode::MdlmLoss) {
      StatusOr<int64_t> mask =
          configInt(model, "mask_token", where, 0, plan.vocab - 1);
      if (!mask)
        return mask.status();
      plan.maskToken = static_cast<int32_t>(*mask);
    }
    if (form == OpCode::Rope || form == OpCode::Attention) {
      StatusOr<int64_t> heads = configInt(model, "n_heads", where, 1, 1 << 20);
      if (!heads)
        return heads.status();
      plan.heads = *heads;
      const int64_t d = operandType(0).shape.back();
      if (d % plan.heads != 0)
        return Status::errorf("{}: {} features do not split into n_heads = "
                              "{} heads",
                              where, d, plan.heads);
      if (form == OpCode::Rope && (d / plan.heads) % 2 != 0)
        return Status::errorf("{}: rope needs an even head size, got {} "
                              "({} features / {} heads)",
                              where, d / plan.heads, d, plan.heads);
    }
    if (isObjective(ins.op) && firstAdamW >= 0)
      return Status::errorf("{}: the objective comes after instruction {} "
                            "('adamw'), so a non-finite loss could not stop "
                            "the update",
                            where, firstAdamW);
    if (ins.op == OpCode::AdamW) {
      if (firstAdamW < 0)
        firstAdamW = i;
      const int param = plan.paramIndex[p.writer[ins.operands[0]]];
      plan.gradValue[param] = ins.operands[1];
    }
    if (ins.op == OpCode::Vjp && ins.kind == OpCode::Attention) {
      // Reuse the log-sum-exp of the forward with the same q, k, v, mask.
      for (int f = i - 1; f >= 0; --f) {
        const Instruction &fwd = p.instructions[f];
        if (fwd.op == OpCode::Attention && fwd.mask == ins.mask &&
            std::equal(fwd.operands.begin(), fwd.operands.end(),
                       ins.operands.begin() + 1)) {
          plan.lseSource[i] = f;
          plan.lseLastUse[f] = i;
          break;
        }
      }
    }
  }
  return Status::ok();
}

/// Box-Muller normal draws, two per pair of uniforms (see initParams).
template <typename T>
void fillNormal(T *out, int64_t n, double std, RandomStream &stream) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  for (int64_t i = 0; i < n; i += 2) {
    const double u1 = stream.uniformDouble();
    const double u2 = stream.uniformDouble();
    const double r = std::sqrt(-2.0 * std::log(1.0 - u1)); // 1 - u1 > 0
    out[i] = static_cast<T>(std * r * std::cos(kTwoPi * u2));
    if (i + 1 < n)
      out[i + 1] = static_cast<T>(std * r * std::sin(kTwoPi * u2));
  }
}

Status checkSettings(const RunSettings &s) {
  if (!(s.lr >= 0) || !std::isfinite(s.lr))
    return Status::errorf("run settings: lr must be a finite number >= 0, "
                          "got {}",
                          s.lr);
  if (!(s.beta1 >= 0 && s.beta1 < 1) || !(s.beta2 >= 0 && s.beta2 < 1))
    return Status::errorf("run settings: betas must be in [0, 1), got {} "
                          "and {}",
                          s.beta1, s.beta2);
  if (!(s.eps > 0) || !(s.weightDecay >= 0) || !(s.maxGradNorm > 0))
    return Status::errorf("run settings: eps and maxGradNorm must be "
                          "positive and weightDecay >= 0, got {}, {} and {}",
                          s.eps, s.maxGradNorm, s.weightDecay);
  if (s.adamStep < 1)
    return Status::errorf("run settings: adamStep is 1-based, got {}",
                          s.adamStep);
  return Status::ok();
}

} // namespace

int64_t ParamDesc::count() const { return product(shape); }

/// A value during one run: real values as T, integer ones as int32, and
/// parameters as views of the master weights (never copied).
template <typename T> struct Executor<T>::Buffer {
  std::vector<int64_t> shape; // the batch resolved
  int64_t size = 0;
  std::vector<T> real;
  std::vector<int32_t> ints;
  const T *view = nullptr;
  /// The exact double of a scalar result (losses, the clip scale), NaN for
  /// others: outputs are reported without rounding to T.
  double scalar = std::numeric_limits<double>::quiet_NaN();

  const T *r() const { return view ? view : real.data(); }
  const int32_t *i() const { return ints.data(); }
};

template <typename T>
template <typename E>
std::vector<E> Executor<T>::Recycler<E>::take(int64_t size) {
  const size_t n = static_cast<size_t>(size);
  std::vector<E> v;
  // The smallest stored capacity that holds n: every step asks for the same
  // sizes, so from the second step on each request finds its own size, the
  // most recently freed (the likeliest still in cache) first. A much larger
  // one is left for the value it was made for.
  auto it = free_.lower_bound(n);
  if (it != free_.end() && it->first <= 2 * n + 4096) {
    v = std::move(it->second.back());
    it->second.pop_back();
    if (it->second.empty())
      free_.erase(it);
  }
  v.assign(n, E(0));
  return v;
}

template <typename T>
template <typename E>
void Executor<T>::Recycler<E>::give(std::vector<E> &v) {
  if (v.capacity() > 0)
    free_[v.capacity()].push_back(std::move(v));
  v = std::vector<E>();
}

template <typename T> void Executor<T>::recycle(Buffer &buf) {
  realStorage_.give(buf.real);
  intStorage_.give(buf.ints);
}

template <typename T>
StatusOr<Executor<T>> Executor<T>::create(ModelDesc model,
                                          std::vector<Program> functions) {
  Executor executor;
  std::map<std::string, int> paramByName;
  int64_t total = 0;
  for (size_t i = 0; i < model.params.size(); ++i) {
    const ParamDesc &param = model.params[i];
    if (!paramByName.emplace(param.name, static_cast<int>(i)).second)
      return Status::errorf("model: parameter '{}' is declared twice",
                            param.name);
    for (int64_t d : param.shape)
      if (d <= 0)
        return Status::errorf("model: parameter '{}' has shape {}; every "
                              "dimension must be positive",
                              param.name, shapeStr(param.shape));
    if (param.init == InitKind::Normal &&
        (!(param.std > 0) || !std::isfinite(param.std)))
      return Status::errorf("model: parameter '{}' has normal init with std "
                            "{}; it must be positive",
                            param.name, param.std);
    executor.offsets_.push_back(total);
    total += param.count();
  }
  executor.params_.assign(total, T(0));
  executor.m_.assign(total, T(0));
  executor.v_.assign(total, T(0));
  for (Program &program : functions) {
    const std::string name = program.name;
    if (executor.plans_.count(name))
      return Status::errorf("function '{}' is given twice", name);
    ExecutionPlan plan;
    plan.program = std::move(program);
    AOARM_RETURN_IF_ERROR(planFunction(plan, model, paramByName));
    executor.plans_.emplace(name, std::move(plan));
  }
  executor.model_ = std::move(model);
  return executor;
}

template <typename T>
int Executor<T>::paramIndex(const std::string &name) const {
  for (size_t i = 0; i < model_.params.size(); ++i)
    if (model_.params[i].name == name)
      return static_cast<int>(i);
  return -1;
}

template <typename T> void Executor<T>::initParams(uint64_t seed) {
  for (size_t i = 0; i < model_.params.size(); ++i) {
    const ParamDesc &param = model_.params[i];
    T *out = params_.data() + offsets_[i];
    const int64_t n = param.count();
    switch (param.init) {
    case InitKind::Zeros:
      std::fill(out, out + n, T(0));
      break;
    case InitKind::Ones:
      std::fill(out, out + n, T(1));
      break;
    case InitKind::Normal: {
      RandomStream stream(seed, RandomPurpose::Init, 0,
                          static_cast<uint32_t>(i));
      fillNormal(out, n, param.std, stream);
      break;
    }
    }
  }
  std::fill(m_.begin(), m_.end(), T(0));
  std::fill(v_.begin(), v_.end(), T(0));
}

template <typename T>
Status Executor<T>::setAdamState(std::vector<T> m, std::vector<T> v) {
  if (m.size() != params_.size() || v.size() != params_.size())
    return Status::errorf("AdamW state of {} and {} elements, the model has "
                          "{} parameters",
                          m.size(), v.size(), params_.size());
  m_ = std::move(m);
  v_ = std::move(v);
  return Status::ok();
}

template <typename T>
bool Executor<T>::hasFunction(const std::string &name) const {
  return plans_.count(name) != 0;
}

template <typename T>
int64_t Executor<T>::seqLen(const std::string &function) const {
  auto it = plans_.find(function);
  return it == plans_.end() ? 0 : it->second.seqLen;
}

template <typename T>
bool Executor<T>::readsOrder(const std::string &function) const {
  auto it = plans_.find(function);
  if (it == plans_.end())
    return false;
  const std::vector<Instruction> &instructions =
      it->second.program.instructions;
  return std::any_of(
      instructions.begin(), instructions.end(),
      [](const Instruction &i) { return i.op == OpCode::Order; });
}

template <typename T>
const ExecutionPlan *Executor<T>::findPlan(const std::string &name,
                                           Status &status) const {
  auto it = plans_.find(name);
  if (it != plans_.end())
    return &it->second;
  std::string known;
  for (const auto &[key, plan] : plans_)
    known += (known.empty() ? "" : ", ") + key;
  status = Status::errorf("no function '{}' (the executor has: {})", name,
                          known.empty() ? "none" : known);
  return nullptr;
}

template <typename T>
StatusOr<RunResult> Executor<T>::run(const std::string &function,
                                     const StepInputs &inputs,
                                     const RunSettings &settings) {
  Status status;
  const Plan *plan = findPlan(function, status);
  if (!plan)
    return status;
  AOARM_RETURN_IF_ERROR(checkSettings(settings));
  RunResult result;
  AOARM_RETURN_IF_ERROR(
      execute(*plan, Mode::Full, inputs, settings, result, nullptr));
  return result;
}

template <typename T>
StatusOr<RunResult> Executor<T>::evaluate(const std::string &function,
                                          const StepInputs &inputs) {
  Status status;
  const Plan *plan = findPlan(function, status);
  if (!plan)
    return status;
  RunResult result;
  AOARM_RETURN_IF_ERROR(
      execute(*plan, Mode::Forward, inputs, RunSettings(), result, nullptr));
  return result;
}

template <typename T>
StatusOr<Gradients<T>>
Executor<T>::runForwardBackward(const std::string &function,
                                const StepInputs &inputs) {
  Status status;
  const Plan *plan = findPlan(function, status);
  if (!plan)
    return status;
  RunResult result;
  std::vector<Buffer> values;
  AOARM_RETURN_IF_ERROR(
      execute(*plan, Mode::Gradients, inputs, RunSettings(), result, &values));
  Gradients<T> grads;
  grads.outputs = std::move(result.outputs);
  grads.grads.assign(params_.size(), T(0));
  grads.hasGradient.assign(model_.params.size(), false);
  for (size_t i = 0; i < model_.params.size(); ++i) {
    const int id = plan->gradValue[i];
    if (id < 0)
      continue;
    const Buffer &g = values[id];
    std::copy(g.r(), g.r() + g.size, grads.grads.begin() + offsets_[i]);
    grads.hasGradient[i] = true;
  }
  return grads;
}

template <typename T>
Status Executor<T>::execute(const Plan &plan, Mode mode,
                            const StepInputs &inputs,
                            const RunSettings &settings, RunResult &result,
                            std::vector<Buffer> *keptValues) {
  const Program &p = plan.program;
  const int numInstructions = static_cast<int>(p.instructions.size());
  const int numValues = static_cast<int>(p.values.size());
  const int64_t B = inputs.batch;
  const int64_t L = plan.seqLen;

  // ---- inputs ----
  if (B <= 0)
    return Status::errorf("{}: the batch must hold at least one row, got {}",
                          p.name, B);
  if (L > 0) {
    if (!inputs.tokens)
      return Status::errorf("{}: no token batch given", p.name);
    if (inputs.seqLen != L)
      return Status::errorf("{}: the token batch has sequences of {} but the "
                            "program was compiled for seq_len {}",
                            p.name, inputs.seqLen, L);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < L; ++l) {
        const int32_t token = inputs.tokens[b * L + l];
        if (token < 0 || token >= plan.vocab)
          return Status::errorf("{}: token batch row {} column {} is {}, "
                                "out of range [0, {})",
                                p.name, b, l, token, plan.vocab);
      }
  }

  // ---- which instructions run, which values survive ----
  std::vector<bool> runs(numInstructions, mode == Mode::Full);
  std::vector<bool> keep(numValues, false);
  for (const auto &[name, id] : p.outputs)
    keep[id] = true;
  if (mode == Mode::Gradients)
    for (int id : plan.gradValue)
      if (id >= 0)
        keep[id] = true;
  if (mode != Mode::Full) {
    // Backward slice from the kept values; clip_scale and adamw never run.
    std::vector<bool> needed = keep;
    for (int i = numInstructions - 1; i >= 0; --i) {
      const Instruction &ins = p.instructions[i];
      if (ins.op == OpCode::ClipScale || ins.op == OpCode::AdamW)
        continue;
      for (int id : ins.results)
        if (needed[id])
          runs[i] = true;
      if (runs[i])
        for (int id : ins.operands)
          needed[id] = true;
    }
  }

  // ---- the step's draws, made on first use ----
  std::vector<int32_t> orders; // [B, L]
  auto ensureOrders = [&](int64_t length) -> Status {
    if (!orders.empty())
      return Status::ok();
    orders.resize(B * length);
    if (inputs.orders) {
      for (int64_t b = 0; b < B; ++b) {
        Permutation row(inputs.orders + b * length,
                        inputs.orders + (b + 1) * length);
        if (auto why = whyNotPermutation(row))
          return Status::errorf("{}: given order of row {} is not a "
                                "permutation of 0..{}: {}",
                                p.name, b, length - 1, *why);
      }
      std::copy(inputs.orders, inputs.orders + B * length, orders.begin());
      return Status::ok();
    }
    for (int64_t b = 0; b < B; ++b) {
      RandomStream stream(inputs.seed, RandomPurpose::Order, inputs.step,
                          inputs.rowOffset + static_cast<uint32_t>(b));
      Permutation row = stream.permutation(length);
      for (int64_t t = 0; t < length; ++t)
        orders[b * length + t] = static_cast<int32_t>(row[t]);
    }
    return Status::ok();
  };
  std::vector<double> times; // [B]
  auto ensureTimes = [&]() -> Status {
    if (!times.empty())
      return Status::ok();
    if (inputs.times) {
      times.assign(inputs.times, inputs.times + B);
      for (int64_t b = 0; b < B; ++b)
        if (!(times[b] > 0 && times[b] <= 1))
          return Status::errorf("{}: given time of row {} is {}, outside "
                                "(0, 1]",
                                p.name, b, times[b]);
    } else {
      times = diffusionTimes(inputs.seed, inputs.step, B);
    }
    return Status::ok();
  };
  std::vector<RandomStream> maskStreams;  // one per row, shared by all masks
  std::map<int, std::vector<T>> lseCache; // forward attention -> [B, H, Lq]

  std::vector<Buffer> vals(numValues);
  bool nonFinite = false;

  for (int i = 0; i < numInstructions; ++i) {
    if (!runs[i])
      continue;
    const Instruction &ins = p.instructions[i];
    auto in = [&](int k) -> const Buffer & { return vals[ins.operands[k]]; };
    // Allocates result k (zeroed) with the batch resolved.
    auto out = [&](int k) -> Buffer & {
      Buffer &buf = vals[ins.results[k]];
      const ValueType &type = p.values[ins.results[k]];
      buf.shape = type.shape;
      for (int64_t &d : buf.shape)
        if (d == kBatchDim)
          d = B;
      buf.size = product(buf.shape);
      if (ins.op == OpCode::Param)
        return buf;
      if (type.dtype == ValueDType::F32)
        buf.real = realStorage_.take(buf.size);
      else
        buf.ints = intStorage_.take(buf.size);
      return buf;
    };
    // Rows and features of a real value viewed as [N, D].
    auto features = [](const Buffer &buf) { return buf.shape.back(); };
    auto rows = [](const Buffer &buf) {
      return buf.size / std::max<int64_t>(1, buf.shape.back());
    };

    // The targets (and MDLM weights) of an objective whose forward operands
    // start at `base`; checks that every counted target is a class.
    std::vector<int32_t> gathered;
    std::vector<T> weights;
    auto objective = [&](int base, const int32_t *&targets, const T *&w,
                         int32_t &excluded) -> Status {
      const Buffer &logits = in(base);
      const int64_t n = rows(logits), v = features(logits);
      const int64_t length = logits.shape[1];
      targets = in(base + 1).i();
      w = nullptr;
      excluded = -1;
      if (formOf(ins) == OpCode::NextSlotLoss) {
        gathered.resize(n);
        gatherTargets(gathered.data(), in(base + 1).i(), in(base + 2).i(), B,
                      length);
        targets = gathered.data();
      }
      if (formOf(ins) == OpCode::MdlmLoss) {
        weights.resize(n);
        mdlmLossWeights(weights.data(), in(base + 2).i(), in(base + 3).r(), B,
                        length, plan.maskToken);
        w = weights.data();
        excluded = plan.maskToken;
      }
      for (int64_t r = 0; r < n; ++r) {
        if (w && w[r] == T(0))
          continue;
        if (targets[r] < 0 || targets[r] >= v || targets[r] == excluded)
          return Status::errorf(
              "{}: target of row {} column {} is {}, not "
              "a class in [0, {}){}",
              p.where(i), r / length, r % length, targets[r], v,
              excluded >= 0 ? fmt::format(" other than the mask "
                                          "token {}",
                                          excluded)
                            : std::string());
      }
      return Status::ok();
    };

    switch (ins.op) {
    case OpCode::Tokens: {
      Buffer &y = out(0);
      std::copy(inputs.tokens, inputs.tokens + y.size, y.ints.begin());
      break;
    }
    case OpCode::Order: {
      Buffer &y = out(0);
      AOARM_RETURN_IF_ERROR(ensureOrders(y.shape[1]));
      std::copy(orders.begin(), orders.end(), y.ints.begin());
      break;
    }
    case OpCode::Time: {
      Buffer &y = out(0);
      AOARM_RETURN_IF_ERROR(ensureTimes());
      for (int64_t b = 0; b < B; ++b)
        y.real[b] = static_cast<T>(times[b]);
      break;
    }
    case OpCode::Param: {
      Buffer &y = out(0);
      y.view = params_.data() + offsets_[plan.paramIndex[i]];
      break;
    }
    case OpCode::Permute: {
      Buffer &y = out(0);
      permuteTokens(y.ints.data(), in(0).i(), in(1).i(), B, y.shape[1]);
      break;
    }
    case OpCode::ShiftRight: {
      Buffer &y = out(0);
      shiftRight(y.ints.data(), in(0).i(), B, y.shape[1], plan.bosToken);
      break;
    }
    case OpCode::Lag: {
      Buffer &y = out(0);
      lagPositions(y.ints.data(), in(0).i(), B, y.shape[1]);
      break;
    }
    case OpCode::Lead: {
      Buffer &y = out(0);
      leadPositions(y.ints.data(), in(0).i(), B, y.shape[1]);
      break;
    }
    case OpCode::Iota: {
      Buffer &y = out(0);
      iotaPositions(y.ints.data(), B, y.shape[1]);
      break;
    }
    case OpCode::Mask: {
      Buffer &y = out(0);
      const int64_t length = y.shape[1];
      if (maskStreams.empty())
        for (int64_t b = 0; b < B; ++b)
          maskStreams.emplace_back(inputs.seed, RandomPurpose::Mask,
                                   inputs.step,
                                   inputs.rowOffset + static_cast<uint32_t>(b));
      std::vector<T> u(B * length); // [B, L]
      for (int64_t b = 0; b < B; ++b)
        for (int64_t l = 0; l < length; ++l)
          u[b * length + l] = static_cast<T>(maskStreams[b].uniformFloat());
      mdlmMask(y.ints.data(), in(0).i(), u.data(), in(1).r(), B, length,
               plan.maskToken, kMaskEps);
      break;
    }
    case OpCode::Embed: {
      Buffer &y = out(0);
      const Buffer &ids = in(0), &table = in(1);
      const int64_t v = table.shape[0];
      for (int64_t k = 0; k < ids.size; ++k)
        if (ids.i()[k] < 0 || ids.i()[k] >= v)
          return Status::errorf("{}: id {} at flat index {} is outside the "
                                "table's {} rows",
                                p.where(i), ids.i()[k], k, v);
      embedForward(y.real.data(), ids.i(), table.r(), ids.size, table.shape[1]);
      break;
    }
    case OpCode::Broadcast: {
      Buffer &y = out(0);
      broadcastRowsForward(y.real.data(), in(0).r(), rows(y), features(y));
      break;
    }
    case OpCode::Linear:
    case OpCode::Head: {
      Buffer &y = out(0);
      const Buffer &w = in(1);
      linearForward(y.real.data(), in(0).r(), w.r(), static_cast<T *>(nullptr),
                    rows(y), w.shape[0], w.shape[1]);
      break;
    }
    case OpCode::RmsNorm: {
      Buffer &y = out(0);
      rmsnormForward(y.real.data(), in(0).r(), in(1).r(), rows(y), features(y),
                     plan.normEps);
      break;
    }
    case OpCode::LayerNorm: {
      Buffer &y = out(0);
      layernormForward(y.real.data(), in(0).r(), in(1).r(), in(2).r(), rows(y),
                       features(y), plan.normEps);
      break;
    }
    case OpCode::Gelu: {
      Buffer &y = out(0);
      geluForward(y.real.data(), in(0).r(), y.size);
      break;
    }
    case OpCode::Swiglu: {
      Buffer &y = out(0);
      swigluForward(y.real.data(), in(0).r(), in(1).r(), y.size);
      break;
    }
    case OpCode::Add: {
      Buffer &y = out(0);
      addForward(y.real.data(), in(0).r(), in(1).r(), y.size);
      break;
    }
    case OpCode::Rope: {
      Buffer &y = out(0);
      const int64_t d = features(y);
      ropeForward(y.real.data(), in(0).r(), in(1).i(), B, y.shape[1],
                  plan.heads, d / plan.heads, plan.ropeBase);
      break;
    }
    case OpCode::Attention: {
      Buffer &y = out(0);
      const int64_t lq = in(0).shape[1], lk = in(1).shape[1];
      const int64_t d = features(y);
      std::vector<T> lse(B * plan.heads * lq); // [B, H, Lq]
      attentionForward(y.real.data(), lse.data(), in(0).r(), in(1).r(),
                       in(2).r(), B, lq, lk, plan.heads, d / plan.heads,
                       ins.mask);
      if (plan.lseLastUse[i] >= 0)
        lseCache[i] = std::move(lse);
      break;
    }
    case OpCode::NextTokenLoss:
    case OpCode::NextSlotLoss:
    case OpCode::MdlmLoss: {
      const int32_t *targets;
      const T *w;
      int32_t excluded;
      AOARM_RETURN_IF_ERROR(objective(0, targets, w, excluded));
      const Buffer &logits = in(0);
      const int64_t n = rows(logits);
      const double loss = crossEntropyForward(logits.r(), targets, w, n,
                                              features(logits), excluded) /
                          static_cast<double>(n);
      Buffer &y = out(0);
      y.real[0] = static_cast<T>(loss);
      y.scalar = loss;
      if (!std::isfinite(loss) && !nonFinite) {
        nonFinite = true;
        result.nonFinite =
            fmt::format("{} gave a loss of {}", p.where(i), loss);
      }
      break;
    }
    case OpCode::Vjp: {
      switch (ins.kind) {
      case OpCode::Embed: {
        Buffer &dtable = out(0);
        embedBackward(dtable.real.data(), in(1).i(), in(0).r(), in(1).size,
                      features(dtable));
        break;
      }
      case OpCode::Broadcast: {
        Buffer &dv = out(0);
        broadcastRowsBackward(dv.real.data(), in(0).r(), rows(in(0)), dv.size);
        break;
      }
      case OpCode::Linear:
      case OpCode::Head: {
        Buffer &dx = out(0);
        Buffer &dw = out(1);
        linearBackward(dx.real.data(), dw.real.data(),
                       static_cast<T *>(nullptr), in(0).r(), in(1).r(),
                       in(2).r(), rows(dx), dw.shape[0], dw.shape[1]);
        break;
      }
      case OpCode::RmsNorm: {
        Buffer &dx = out(0);
        Buffer &dg = out(1);
        rmsnormBackward(dx.real.data(), dg.real.data(), in(0).r(), in(1).r(),
                        in(2).r(), rows(dx), features(dx), plan.normEps);
        break;
      }
      case OpCode::LayerNorm: {
        Buffer &dx = out(0);
        Buffer &dg = out(1);
        Buffer &db = out(2);
        layernormBackward(dx.real.data(), dg.real.data(), db.real.data(),
                          in(0).r(), in(1).r(), in(2).r(), rows(dx),
                          features(dx), plan.normEps);
        break;
      }
      case OpCode::Gelu: {
        Buffer &dx = out(0);
        geluBackward(dx.real.data(), in(0).r(), in(1).r(), dx.size);
        break;
      }
      case OpCode::Swiglu: {
        Buffer &da = out(0);
        Buffer &db = out(1);
        swigluBackward(da.real.data(), db.real.data(), in(0).r(), in(1).r(),
                       in(2).r(), da.size);
        break;
      }
      case OpCode::Rope: {
        Buffer &dx = out(0);
        const int64_t d = features(dx);
        ropeBackward(dx.real.data(), in(0).r(), in(2).i(), B, dx.shape[1],
                     plan.heads, d / plan.heads, plan.ropeBase);
        break;
      }
      case OpCode::Attention: {
        Buffer &dq = out(0);
        Buffer &dk = out(1);
        Buffer &dv = out(2);
        const int64_t lq = dq.shape[1], lk = dk.shape[1];
        const int64_t d = features(dq), hd = d / plan.heads;
        const T *lse = nullptr;
        std::vector<T> scratchLse, scratchOut;
        auto cached = lseCache.find(plan.lseSource[i]);
        if (cached != lseCache.end()) {
          lse = cached->second.data();
        } else {
          // The forward ran in another mode or not at all: recompute.
          scratchLse.resize(B * plan.heads * lq);
          scratchOut.resize(dq.size);
          attentionForward(scratchOut.data(), scratchLse.data(), in(1).r(),
                           in(2).r(), in(3).r(), B, lq, lk, plan.heads, hd,
                           ins.mask);
          lse = scratchLse.data();
        }
        attentionBackward(dq.real.data(), dk.real.data(), dv.real.data(),
                          in(0).r(), in(1).r(), in(2).r(), in(3).r(), lse, B,
                          lq, lk, plan.heads, hd, ins.mask);
        break;
      }
      case OpCode::NextTokenLoss:
      case OpCode::NextSlotLoss:
      case OpCode::MdlmLoss: {
        const int32_t *targets;
        const T *w;
        int32_t excluded;
        AOARM_RETURN_IF_ERROR(objective(0, targets, w, excluded));
        Buffer &dlogits = out(0);
        const int64_t n = rows(dlogits);
        crossEntropyBackward(dlogits.real.data(), in(0).r(), targets, w, n,
                             features(dlogits), 1.0 / static_cast<double>(n),
                             excluded);
        break;
      }
      default:
        return Status::errorf("{}: no vjp for '{}'", p.where(i),
                              opCodeName(ins.kind));
      }
      break;
    }
    case OpCode::ClipScale: {
      std::vector<std::pair<const T *, int64_t>> grads;
      for (size_t k = 0; k < ins.operands.size(); ++k)
        grads.emplace_back(in(static_cast<int>(k)).r(),
                           in(static_cast<int>(k)).size);
      const double norm = globalNorm(grads);
      const double scale = clipScale(norm, settings.maxGradNorm);
      Buffer &y = out(0);
      y.real[0] = static_cast<T>(scale);
      y.scalar = scale;
      result.gradNorm = norm;
      result.clipScale = scale;
      if (!std::isfinite(norm) && !nonFinite) {
        nonFinite = true;
        result.nonFinite =
            fmt::format("{} gave a gradient norm of {}", p.where(i), norm);
      }
      break;
    }
    case OpCode::AdamW: {
      // A non-finite loss or norm must not reach the master weights.
      if (nonFinite)
        break;
      const int param = plan.paramIndex[p.writer[ins.operands[0]]];
      const int64_t offset = offsets_[param];
      AdamWConfig config;
      config.lr = settings.lr;
      config.beta1 = settings.beta1;
      config.beta2 = settings.beta2;
      config.eps = settings.eps;
      config.weightDecay = settings.weightDecay;
      const Buffer &s = in(2);
      const double scale =
          std::isnan(s.scalar) ? static_cast<double>(s.r()[0]) : s.scalar;
      adamwStep(params_.data() + offset, m_.data() + offset, v_.data() + offset,
                in(1).r(), in(1).size, settings.adamStep, config, scale);
      result.updated = true;
      break;
    }
    }

    // Free what no later instruction reads.
    for (int id : ins.operands)
      if (plan.lastUse[id] == i && !keep[id])
        recycle(vals[id]);
    for (int id : ins.results)
      if (plan.lastUse[id] < 0 && !keep[id])
        recycle(vals[id]);
    if (ins.op == OpCode::Vjp)
      for (auto it = lseCache.begin(); it != lseCache.end();)
        it = plan.lseLastUse[it->first] == i ? lseCache.erase(it) : ++it;
  }

  for (const auto &[name, id] : p.outputs) {
    const Buffer &buf = vals[id];
    if (!runs[p.writer[id]])
      continue;
    if (buf.shape.empty() && p.values[id].dtype == ValueDType::F32) {
      result.outputs[name] =
          std::isnan(buf.scalar) ? static_cast<double>(buf.r()[0]) : buf.scalar;
      continue;
    }
    std::vector<double> flat(buf.size);
    for (int64_t k = 0; k < buf.size; ++k)
      flat[k] = p.values[id].dtype == ValueDType::F32
                    ? static_cast<double>(buf.r()[k])
                    : static_cast<double>(buf.i()[k]);
    result.tensors[name] = std::move(flat);
  }
  if (keptValues)
    *keptValues = std::move(vals);
  else
    for (Buffer &buf : vals)
      recycle(buf);
  return Status::ok();
}

template class Executor<float>;
template class Executor<double>;

} // namespace aoarm::cpu
