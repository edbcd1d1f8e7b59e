#include "codegen/GpuModule.h"

using namespace mlir;
using nlohmann::json;

namespace aoarm {
namespace {

/// Where a buffer lives, as the runtime binds it.
json bufferRef(const StepPlan &plan, int id) {
  const PlannedBuffer &b = plan.buffers.at(id);
  return json{{"region", regionName(b.region)},
              {"offset", b.offset},
              {"bytes", b.bytes},
              {"per_row", b.perRow}};
}

json launchDim(const kernels::LaunchDim &d) {
  return json::array({d.perBatch, d.constant, d.divisor});
}

} // namespace

FailureOr<GpuProgram> buildGpuProgram(ModelOp model,
                                      const PlanOptions &options) {
  GpuProgram program;
  for (StepOp step : model.getBody().front().getOps<StepOp>()) {
    FailureOr<StepPlan> plan = planStep(model, step, options);
    if (failed(plan))
      return failure();
    const std::string problem = checkPlan(*plan);
    if (!problem.empty())
      return step.emitOpError() << "memory plan: " << problem;
    program.plans.push_back(std::move(*plan));
  }

  // Every launch of every step, in step and launch order, so the module's
  // wrapper order (and names) are fixed by the model alone.
  std::vector<kernels::WrapperSpec> specs;
  for (const StepPlan &plan : program.plans)
    for (const KernelInstance &k : plan.kernels)
      for (const kernels::Launch &launch : k.lowered.launches)
        specs.push_back({launch, kernels::argumentTypes(k.request, launch),
                         k.file, k.line});
  std::vector<std::string> names;
  kernels::CudaModule module =
      kernels::emitCudaModule(specs, &names, options.tensorCores);
  program.source = std::move(module.source);

  json table = json::array();
  std::map<std::string, int> index;
  for (size_t s = 0; s < specs.size(); ++s) {
    if (index.count(names[s]))
      continue;
    index[names[s]] = static_cast<int>(table.size());
    table.push_back(json{{"name", names[s]},
                         {"call", specs[s].launch.call},
                         {"block", specs[s].launch.block},
                         {"args", specs[s].argTypes}});
  }

  json functions = json::object();
  size_t s = 0;
  for (const StepPlan &plan : program.plans) {
    json launches = json::array();
    for (const KernelInstance &k : plan.kernels) {
      for (const kernels::Launch &launch : k.lowered.launches) {
        json args = json::array();
        for (const kernels::ArgRef &a : launch.args) {
          switch (a.kind) {
          case kernels::ArgRef::Input:
            args.push_back(bufferRef(plan, k.inputs.at(a.index)));
            break;
          case kernels::ArgRef::Output:
            args.push_back(bufferRef(plan, k.outputs.at(a.index)));
            break;
          case kernels::ArgRef::Scratch:
            args.push_back(bufferRef(plan, k.scratch.at(a.index)));
            break;
          case kernels::ArgRef::Scalars:
            args.push_back(json{{"scalars", true}});
            break;
          case kernels::ArgRef::Batch:
            args.push_back(json{{"batch", true}});
            break;
          }
        }
        launches.push_back(json{
            {"kernel", index.at(names[s++])},
            {"op", k.kernel},
            {"grid", json::array({launchDim(launch.grid[0]),
                                  launchDim(launch.grid[1]),
                                  launchDim(launch.grid[2])})},
            {"block", launch.block},
            {"args", std::move(args)}});
      }
    }
    json hostInputs = json::array();
    for (const HostInput &h : plan.hostInputs)
      hostInputs.push_back(
          json{{"kind", h.kind}, {"buffer", bufferRef(plan, h.buffer)}});
    json outputs = json::array();
    for (const auto &[name, id] : plan.outputs)
      outputs.push_back(json{{"name", name}, {"buffer", bufferRef(plan, id)}});
    json function = json{{"arena_row_bytes", plan.arenaRowBytes},
                         {"arena_fixed_bytes", plan.arenaFixedBytes},
                         {"host_inputs", std::move(hostInputs)},
                         {"outputs", std::move(outputs)},
                         {"launches", std::move(launches)}};
    // Where the clipping factor lands, for the run's log.
    for (const KernelInstance &k : plan.kernels)
      if (k.kernel == "clip_scale")
        function["clip_scale"] = bufferRef(plan, k.outputs.at(0));
    functions[plan.step] = std::move(function);
  }
  const int64_t paramBytes =
      program.plans.empty() ? 0 : program.plans.front().paramBytes;
  program.manifest =
      json{{"param_bytes", paramBytes},
           {"activations", options.bf16Activations ? "bf16" : "f32"},
           {"tensor_cores", options.tensorCores},
           {"kernels", std::move(table)},
           {"functions", std::move(functions)}};
  return program;
}

} // namespace aoarm
