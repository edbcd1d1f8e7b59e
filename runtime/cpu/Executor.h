// The CPU reference executor: runs a model's step programs op by op.
//
// It holds the model's parameters (master weights of type T in ONE
// contiguous allocation, laid out in declaration order) and the AdamW state
// (first and second moments, contiguous in the same layout), and runs the
// functions of docs/program.md on a token batch with the kernels of
// RefOps.h. It is the oracle for the GPU path and lets aoarm train and be
// tested without a GPU. T is float (training) or double (finite-difference
// gradient checks).
//
// Random draws follow docs/program.md and docs/data.md, so a step can be
// replayed from (seed, step) alone:
// - `order`: row b is RandomStream(seed, Order, step, rowOffset + b)
//   .permutation(L), unless the caller gives the orders;
// - `time`: diffusionTimes(seed, step, B), unless the caller gives times;
// - `mask`: u[b, l] = uniformFloat() drawn in l order from
//   RandomStream(seed, Mask, step, rowOffset + b). A second `mask`
//   instruction in one program continues the same row streams (masks are
//   not pure: two masks are two draws);
// - parameter i: RandomStream(seed, Init, 0, i), normal draws by Box-Muller
//   on pairs of uniformDouble() (see initParams).
//
// Values are allocated per run for the batch at hand (the CPU needs no
// arena) and freed after their last use.
#pragma once

#include "runtime/cpu/Program.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace aoarm::cpu {

/// How a parameter starts.
enum class InitKind { Normal, Zeros, Ones };

/// One parameter of the model, as the bundle's parameter table gives it.
struct ParamDesc {
  std::string name;           // e.g. "layers.0.attn.wq"
  std::vector<int64_t> shape; // static; [] is a scalar
  InitKind init = InitKind::Zeros;
  double std = 0.0; // for InitKind::Normal

  /// Elements (1 for a scalar).
  int64_t count() const;
};

/// What the executor needs to know about the model.
struct ModelDesc {
  /// Config values by key (vocab, n_heads, rope_base, norm_eps, bos_token,
  /// mask_token, ...); integers are stored exactly.
  std::map<std::string, double> config;
  /// In declaration order: the order of the one parameter allocation.
  std::vector<ParamDesc> params;
};

/// Optimizer settings of one run of a training step.
struct RunSettings {
  double lr = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weightDecay = 0.1;
  /// Global-norm clipping threshold (clip_scale).
  double maxGradNorm = 1.0;
  /// The 1-based AdamW step (bias correction).
  int64_t adamStep = 1;
};

/// The inputs of one run.
struct StepInputs {
  const int32_t *tokens = nullptr; // [B, L] in text order, ids in [0, vocab)
  int64_t batch = 0;               // B
  int64_t seqLen = 0;              // L, must equal the program's
  uint64_t seed = 0;
  /// Names the step's random streams (orders, times, masks).
  uint32_t step = 0;
  /// Row b draws from stream index rowOffset + b, so evaluation can tie
  /// draws to a chunk index rather than to a row of a batch.
  uint32_t rowOffset = 0;
  /// Given orders (sampling, evaluation with chosen orders), or nullptr to
  /// draw them. Each row must be a permutation of 0..L-1. // [B, L]
  const int32_t *orders = nullptr;
  /// Given MDLM times in (0, 1], or nullptr to draw them. // [B]
  const double *times = nullptr;
};

/// What a run returns.
struct RunResult {
  /// Scalar outputs (the loss) by name, in double.
  std::map<std::string, double> outputs;
  /// Non-scalar outputs, flattened row-major with the batch resolved.
  std::map<std::string, std::vector<double>> tensors;
  /// The global gradient norm and clipping factor (clip_scale), NaN when
  /// the run computed none.
  double gradNorm = std::numeric_limits<double>::quiet_NaN();
  double clipScale = std::numeric_limits<double>::quiet_NaN();
  /// True when the parameters were updated (adamw ran).
  bool updated = false;
  /// Empty, or what became non-finite (then no parameter was updated).
  std::string nonFinite;
};

/// Parameter gradients of one batch, for gradient checks.
template <typename T> struct Gradients {
  /// Scalar outputs by name (the loss), in double.
  std::map<std::string, double> outputs;
  /// d loss / d params in the parameters' layout; zero for a parameter
  /// the program computes no gradient for. // [numParams]
  std::vector<T> grads;
  /// Per parameter: whether the program computes its gradient.
  std::vector<bool> hasGradient;
};

/// A function checked against a model, with what the executor precomputes
/// to run it (internal to Executor; public so Executor stays movable).
struct ExecutionPlan {
  Program program;
  /// Per instruction: the parameter a `param` reads, else -1.
  std::vector<int> paramIndex;
  /// Per value: the last instruction that reads it (-1: none).
  std::vector<int> lastUse;
  /// Per instruction: for a vjp of attention, the forward attention
  /// instruction whose log-sum-exp it reuses (-1: recompute it).
  std::vector<int> lseSource;
  /// Per instruction: the last vjp reusing this attention's log-sum-exp
  /// (-1: the forward does not keep it).
  std::vector<int> lseLastUse;
  /// Per parameter: the gradient value its adamw reads (-1: none).
  std::vector<int> gradValue;
  /// L of the token input (0 when the program has no `tokens`).
  int64_t seqLen = 0;
  /// Config the ops read.
  int64_t vocab = 0;
  int64_t heads = 0;
  int32_t bosToken = -1;
  int32_t maskToken = -1;
  double ropeBase = 10000.0;
  double normEps = 1e-5;
};

/// Runs step programs on the CPU. T is float or double.
template <typename T> class Executor {
public:
  /// Checks every function against the model (parameter names and shapes,
  /// the config keys each op needs, head sizes) and allocates zeroed
  /// parameters and AdamW state.
  static StatusOr<Executor> create(ModelDesc model,
                                   std::vector<Program> functions);

  const ModelDesc &model() const { return model_; }
  /// Total parameter elements.
  int64_t numParams() const { return static_cast<int64_t>(params_.size()); }
  /// Where parameter i starts in params(), in declaration order.
  int64_t paramOffset(size_t i) const { return offsets_[i]; }
  /// The index of the parameter named `name`, or -1.
  int paramIndex(const std::string &name) const;
  T *params() { return params_.data(); }             // [numParams]
  const T *params() const { return params_.data(); } // [numParams]
  /// AdamW first and second moments, laid out like params(). // [numParams]
  const std::vector<T> &adamM() const { return m_; }
  const std::vector<T> &adamV() const { return v_; }
  /// Replaces the AdamW moments (a resumed run's, from its checkpoint);
  /// refuses vectors that are not numParams() long, changing nothing.
  Status setAdamState(std::vector<T> m, std::vector<T> v);

  /// Initialises every parameter from its spec and zeroes the AdamW state:
  /// normal(std) draws come from RandomStream(seed, Init, 0, i) for
  /// parameter i, two per pair of uniformDouble() u1, u2 (Box-Muller:
  /// r = sqrt(-2 ln(1 - u1)), z = r cos(2 pi u2) then r sin(2 pi u2)).
  void initParams(uint64_t seed);

  /// True when the executor has a function named `name`.
  bool hasFunction(const std::string &name) const;
  /// The sequence length L the function's token input has (0 when it reads
  /// no tokens or does not exist).
  int64_t seqLen(const std::string &function) const;
  /// True when the function reads an order (an `order` instruction: the
  /// any-order models), so StepInputs::orders can fix it.
  bool readsOrder(const std::string &function) const;

  /// Runs the whole function: the forward, the gradients, clip_scale and
  /// adamw. A non-finite loss or gradient norm is reported in
  /// RunResult::nonFinite and leaves the parameters unchanged.
  StatusOr<RunResult> run(const std::string &function, const StepInputs &inputs,
                          const RunSettings &settings);

  /// Runs only what the function's outputs depend on (no gradients, no
  /// update): the loss of the current parameters.
  StatusOr<RunResult> evaluate(const std::string &function,
                               const StepInputs &inputs);

  /// Runs the forward and the backward, stopping at the gradients that
  /// feed clip_scale / adamw: the loss and d loss / d params, with no
  /// clipping and no update.
  StatusOr<Gradients<T>> runForwardBackward(const std::string &function,
                                            const StepInputs &inputs);

private:
  using Plan = ExecutionPlan;
  struct Buffer;
  enum class Mode { Full, Gradients, Forward };

  Executor() = default;
  Status execute(const Plan &plan, Mode mode, const StepInputs &inputs,
                 const RunSettings &settings, RunResult &result,
                 std::vector<Buffer> *keptValues);
  const Plan *findPlan(const std::string &name, Status &status) const;

  ModelDesc model_;
  std::vector<int64_t> offsets_; // [numParams declared] start of each
  std::vector<T> params_;        // [numParams]
  std::vector<T> m_;             // [numParams]
  std::vector<T> v_;             // [numParams]
  std::map<std::string, Plan> plans_;

  /// Storage of values freed after their last use, handed to the next
  /// results of this call or a later one. Allocating every step's values
  /// afresh spent half of a tiny CPU training step in page faults and
  /// first touches of fresh memory (docs/cpu-reference.md). It holds about
  /// one step's peak of values between calls.
  template <typename E> class Recycler {
  public:
    /// A vector of `size` zeros, on recycled storage where one fits.
    std::vector<E> take(int64_t size);
    /// Keeps v's storage for a later take(); leaves v empty.
    void give(std::vector<E> &v);

  private:
    std::map<size_t, std::vector<std::vector<E>>> free_; // by capacity
  };
  Recycler<T> realStorage_;
  Recycler<int32_t> intStorage_;
  void recycle(Buffer &buf);
};

extern template class Executor<float>;
extern template class Executor<double>;

} // namespace aoarm::cpu
