#include "export/trace_pipeline.hpp"

#include <algorithm>
#include <set>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/shape_analysis.h>

#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

using torch::jit::Graph;

std::string identifier(const std::string& name) {
  std::string out = name;
  std::replace_if(out.begin(), out.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)) && c != '_'; }, '_');
  return std::isdigit(static_cast<unsigned char>(out[0])) ? "_" + out : out;  // "body.0" -> body._0
}

// The model's module tree as TorchScript modules holding the same tensors: the tracer turns each use of one of
// them into an attribute read, so the export carries the weights as parameters, under the checkpoint's names.
void mirror(torch::jit::Module& into, const torch::nn::Module& from, const std::string& type_path) {
  for (const auto& p : from.named_parameters(/*recurse=*/false)) into.register_parameter(p.key(), p.value(), false);
  for (const auto& b : from.named_buffers(/*recurse=*/false)) into.register_buffer(b.key(), b.value());
  for (const auto& c : from.named_children()) {
    const std::string path = type_path + "." + identifier(c.key());
    torch::jit::Module child{c10::QualifiedName(path)};
    mirror(child, *c.value(), path);
    into.register_module(c.key(), child);
  }
}

sdk::Batch batch_of(const std::map<std::string, at::Tensor>& inputs) {
  sdk::Batch b;
  b.inputs = inputs;
  const int64_t n = inputs.begin()->second.size(0);
  // No labels at inference: an adjustment that read them would read -1 and be caught by the check against the
  // model's own prediction, which has the real ones.
  b.label = at::full({n}, -1, at::kLong);
  b.group = at::full({n}, -1, at::kLong);
  b.environment = at::full({n}, -1, at::kLong);
  b.ood = at::zeros({n}, at::kBool);
  b.index = at::arange(n, at::kLong);
  return b;
}

at::Tensor predict(PipelineModel& model, const sdk::Batch& batch) {
  sdk::Batch b = batch;
  sdk::Estimates estimates;
  sdk::ForwardRecord record = model.forward_step(b, estimates);
  return model.predict(record, b, estimates);
}

sdk::Batch first(const sdk::Batch& batch, int64_t n) {
  std::map<std::string, at::Tensor> inputs;
  for (const auto& [m, t] : batch.inputs) inputs[m] = t.slice(0, 0, n);
  sdk::Batch b = batch_of(inputs);
  b.label = batch.label.slice(0, 0, n);
  b.group = batch.group.slice(0, 0, n);
  return b;
}

std::shared_ptr<Graph> trace_at(PipelineModel& model, torch::jit::Module& self, const sdk::Batch& batch) {
  c10::Dict<std::string, at::Tensor> inputs;
  for (const auto& [m, t] : batch.inputs) inputs.insert(m, t);
  auto fn = [&](torch::jit::Stack in) -> torch::jit::Stack {
    std::map<std::string, at::Tensor> traced;
    for (const auto& kv : in.at(0).toGenericDict()) traced[kv.key().toStringRef()] = kv.value().toTensor();
    return {predict(model, batch_of(traced))};
  };
  auto traced = torch::jit::tracer::trace({c10::IValue(inputs)}, fn, [](const at::Tensor&) { return std::string(); },
                                         /*strict=*/true, /*force_outplace=*/false, &self);
  // What the prediction does not use (the placeholder labels, per-modality logits) goes: it is not the model.
  torch::jit::EliminateDeadCode(traced.first->graph);
  return traced.first->graph;
}

// The graph with its tensor shapes erased: equal for two batch sizes exactly when no batch size is baked in.
std::string without_shapes(const std::shared_ptr<Graph>& graph) {
  std::shared_ptr<Graph> g = graph->copy();
  torch::jit::EraseShapeInformation(g);
  return g->toString();
}

void random_ops(const torch::jit::Block* block, std::set<std::string>& found) {
  static const std::set<std::string> kinds = {"aten::rand", "aten::randn", "aten::rand_like", "aten::randn_like",
      "aten::randint", "aten::randint_like", "aten::randperm", "aten::bernoulli", "aten::bernoulli_", "aten::multinomial",
      "aten::normal", "aten::normal_", "aten::uniform_", "aten::exponential_", "aten::poisson", "aten::random_"};
  for (const torch::jit::Node* node : block->nodes()) {
    if (kinds.count(node->kind().toQualString())) found.insert(node->kind().toQualString());
    for (const torch::jit::Block* inner : node->blocks()) random_ops(inner, found);
  }
}

void add_method(torch::jit::Module& self, const std::string& name, const std::shared_ptr<Graph>& graph) {
  auto fn = self._ivalue()->compilation_unit()->create_function(c10::QualifiedName(*self.type()->name(), name), graph);
  self.type()->addMethod(fn);
}

// forward for a graph traced at batch size 1: each sample through it, the logits concatenated.
const char* kPerSampleForward = R"(
def forward(self, inputs: Dict[str, Tensor]) -> Tensor:
    n = 0
    for k in inputs.keys():
        n = inputs[k].size(0)
    outs: List[Tensor] = []
    for i in range(n):
        one: Dict[str, Tensor] = {}
        for k in inputs.keys():
            one[k] = inputs[k][i:i + 1]
        outs.append(self.forward_one(one))
    return torch.cat(outs, 0)
)";

}  // namespace

TracedPipeline trace_pipeline(PipelineModel& model, RunState& state, const sdk::Batch& batch) {
  if (batch.size() < 3) throw InputError("export needs at least 3 evaluation samples to check the traced module");
  torch::NoGradGuard no_grad;
  model.root().eval();
  state.phase = sdk::Phase::Eval;
  TracedPipeline out{torch::jit::Module(c10::QualifiedName("__torch__.mmdebias.Pipeline")), "", {}};
  for (const auto& i : model.pipeline().interventions)
    if ((i.object->hooks() & sdk::kPredict) != 0) out.in_prediction.push_back(i.name + " (" + i.type + ")");
  const std::string adjusting = out.in_prediction.empty() ? "" : "; the interventions that adjust predictions: " + join(out.in_prediction);
  mirror(out.module, model.root(), "__torch__.mmdebias.Pipeline");

  std::shared_ptr<Graph> two, three;
  try {
    two = trace_at(model, out.module, first(batch, 2));
    three = trace_at(model, out.module, first(batch, 3));
  } catch (const std::exception& e) {
    const std::string what = e.what();
    // The tracer cannot record a random generator passed to an op: a prediction that samples.
    if (what.find("at::Generator") != std::string::npos)
      throw InputError("the prediction draws random numbers (with a seeded generator), so no fixed module reproduces it" + adjusting);
    throw InputError("cannot trace the prediction: " + what + adjusting);
  }
  std::set<std::string> random;
  random_ops(three->block(), random);
  if (!random.empty())
    throw InputError("the prediction draws random numbers (" + join({random.begin(), random.end()}) +
                     "), so no fixed module reproduces it" + adjusting);
  if (without_shapes(two) == without_shapes(three)) {
    out.batching = "batched";
    add_method(out.module, "forward", three);
  } else {  // some component computes a shape from the batch size in C++ (the tracer records it as a constant)
    out.batching = "per_sample";
    add_method(out.module, "forward_one", trace_at(model, out.module, first(batch, 1)));
    out.module.define(kPerSampleForward);
  }

  // The export must reproduce the model's own prediction on samples it was not traced at.
  const sdk::Batch check = first(batch, std::min<int64_t>(batch.size(), 5));
  c10::Dict<std::string, at::Tensor> inputs;
  for (const auto& [m, t] : check.inputs) inputs.insert(m, t);
  const at::Tensor want = predict(model, check);
  at::Tensor got;
  try {
    got = out.module.forward({c10::IValue(inputs)}).toTensor();
  } catch (const std::exception& e) {
    throw InputError("the traced module fails on " + std::to_string(check.size()) + " samples: " + excerpt(e.what(), 400) + adjusting);
  }
  const double scale = std::max(want.abs().max().item<double>(), 1e-12);
  const double worst = got.sizes() == want.sizes() ? (got - want).abs().max().item<double>() / scale : 1e30;
  if (!(worst <= 1e-5))
    throw InputError("the traced module's logits differ from mmdebias's own prediction by " + std::to_string(worst) +
                     " (relative) on " + std::to_string(check.size()) +
                     " samples: some step of the prediction is not a fixed tensor function of the inputs (a branch on "
                     "values, or labels read at prediction)" + adjusting);
  return out;
}

}  // namespace mmdebias::core
