#include "train/step.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include <ATen/ATen.h>
#include <torch/nn/utils/clip_grad.h>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/stop_request.hpp"
#include "mmdebias/sdk/detach.hpp"
#include "train/batch.hpp"
#include "train/device_copy.hpp"
#include "train/optimization.hpp"

namespace mmdebias::core {
namespace {

// Throws when the total or a term (name, value pairs) is not finite, naming the first such term ("total" when only
// the sum is).
template <class Terms>
void throw_if_not_finite(double total, const Terms& terms, int64_t step, Precision precision) {
  if (std::isfinite(total)) return;
  std::string offender = "total";
  for (const auto& [name, value] : terms)
    if (!std::isfinite(value)) {
      offender = name;
      break;
    }
  throw RunError("step " + std::to_string(step) + ": the loss is not finite (term '" + offender + "' = " + std::to_string(total) +
                 "); the last good checkpoint is kept — lower train.lr or set train.grad_clip" +
                 (precision == Precision::fp16 ? ", or use run.precision=bf16 (an fp16 activation overflows past 65504)" : ""));
}

// Throws, when the loss is not finite and the batch's inputs were not either (bad_input: first_non_finite_input's
// text), an InputError naming the data instead of the learning rate: no setting fixes a NaN in the data.
void throw_if_bad_input(double total, const std::string& bad_input, int64_t step, const std::string& dataset) {
  if (std::isfinite(total) || bad_input.empty()) return;
  throw InputError("step " + std::to_string(step) + ": the loss is not finite because the training data is not: " +
                   bad_input + " (dataset " + dataset + ", split 'train'). Fix the data (every value must be finite, "
                   "e.g. np.isfinite(x).all() in NumPy); train.lr and train.grad_clip cannot help");
}

// Test-only fault hook (tests/cli/precision.sh): MMDEBIAS_TEST_INF_GRADIENT_AT_STEP=N writes an infinity into the
// first gradient at step N, before the loss scale looks at it, as an fp16 overflow would. Never set in real runs.
void inject_gradient_fault_for_test(int64_t step, const std::vector<at::Tensor>& params) {
  static const long at_step = [] {
    const char* value = std::getenv("MMDEBIAS_TEST_INF_GRADIENT_AT_STEP");
    return value ? std::atol(value) : 0L;
  }();
  if (at_step <= 0 || step != at_step) return;
  for (const auto& p : params)
    if (p.grad().defined()) {
      p.grad().view({-1})[0].fill_(std::numeric_limits<double>::infinity());
      return;
    }
}

std::string format_scale(double scale) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", scale);
  return text;
}

// A micro-batch as hook 7 receives it: the graph is gone after backward, so nothing needs to keep it.
sdk::MicroBatch detached(const sdk::Batch& batch, const StepOutput& out) {
  sdk::MicroBatch m{batch, sdk::detached(out.record), {}};
  for (const auto& [name, e] : out.estimates.all()) m.estimates.set(name, e.detach());
  return m;
}

}  // namespace

TrainStep::TrainStep(PipelineModel& model, RunState& state, torch::optim::Optimizer& optimizer, StepSettings settings,
                     LossScaler* scaler)
    : model_(model), state_(state), optimizer_(optimizer), settings_(settings), scaler_(scaler) {
  // The parameters run.check_replicas compares, named once for the run rather than at every step.
  if (settings_.check_replicas && state_.collective->world_size() > 1 && model_.edits_gradients())
    for (const auto& p : model_.root().named_parameters())
      if (p.value().requires_grad()) checked_parameters_.emplace_back(p.key(), p.value());
  if (state_.collective->world_size() > 1)
    reducer_ = std::make_unique<GradientReducer>(parameters(), settings_.bucket_bytes, *state_.collective);
}

int64_t TrainStep::micro_batch(sdk::Batch batch, int64_t step, bool last) {
  model_.root().train();
  state_.phase = sdk::Phase::Train;
  batch = to_device(std::move(batch), state_.device);
  PendingLoss pending{{}, {}, batch.inputs, batch.index};  // the inputs as read: a few pointers
  StepOutput out = model_.train_forward(batch);
  if (model_.edits_gradients()) records_.micro_batches.push_back(detached(batch, out));
  // The values stay where they are computed: reading them back here would make the host wait for the device before
  // every backward. finish() reads the whole step's at once.
  std::vector<at::Tensor> values{out.loss.total.detach().to(at::kDouble).reshape({})};
  for (const auto& [name, value] : out.loss.parts) {
    pending.names.push_back(name);
    values.push_back(value.detach().to(at::kDouble).reshape({}));
  }
  pending.values = at::stack(values);
  pending_.push_back(std::move(pending));
  if (last && reducer_ && settings_.overlap_reduce) reducer_->arm();
  // No division when nothing accumulates: x / 1 is x, and the op and its backward cost ~1% of a small step.
  at::Tensor objective = settings_.accumulate == 1 ? out.loss.total : out.loss.total / static_cast<double>(settings_.accumulate);
  (scaler_ ? scaler_->scale(objective) : objective).backward();
  return batch.size();
}

void TrainStep::add_pending_terms() {
  if (pending_.empty()) return;
  std::vector<at::Tensor> all;
  for (const auto& p : pending_) all.push_back(p.values);
  const at::Tensor host = at::cat(all).cpu();  // the step's one wait for the device
  const double* v = host.data_ptr<double>();
  for (const auto& p : pending_) {
    const double total = *v++;
    std::vector<std::pair<std::string, double>> terms;
    for (const auto& name : p.names) terms.emplace_back(name, *v++);
    terms_.add(total, terms);
    if (!std::isfinite(total) && bad_input_.empty()) bad_input_ = first_non_finite_input(p.read, p.index);
  }
  pending_.clear();
}

bool TrainStep::unscale_overflowed(int64_t step, const std::vector<at::Tensor>& params) {
  if (!scaler_) return false;
  inject_gradient_fault_for_test(step, params);
  const bool overflowed = scaler_->unscale(params);
  const double before = scaler_->state().scale;
  scaler_->update(overflowed);
  if (overflowed && state_.collective->rank() == 0)  // gradients are reduced: every rank found the same
    state_.logger->warn("step " + std::to_string(step) + ": gradients overflowed under the loss scale (inf or NaN); the "
                        "step is skipped and the scale lowered from " + format_scale(before) + " to " +
                        format_scale(scaler_->state().scale));
  return overflowed;
}

void TrainStep::edit_gradients(int64_t step) {
  if (!model_.edits_gradients()) return;
  std::function<void(const ComponentLabel&)> check;
  if (!checked_parameters_.empty()) {
    check = [this, step](const ComponentLabel& label) {
      const std::string mismatch = replica_mismatch(checked_parameters_, *state_.collective);
      if (mismatch.empty()) return;
      throw ComponentError(label.plugin, label.component, "after_backward",
                           "run.check_replicas: at step " + std::to_string(step) + ", after this hook " + mismatch +
                           ". The replicas have diverged: a gradient edit must be the same on every rank (draw noise "
                           "from ctx.shared_rng, not ctx.rng; reduce per-rank statistics with ctx.all_reduce_sum)");
    };
  }
  model_.after_backward(records_, check);
  records_.micro_batches.clear();
}

std::vector<at::Tensor> TrainStep::parameters() const {
  std::vector<at::Tensor> params;
  for (const auto& g : optimizer_.param_groups()) params.insert(params.end(), g.params().begin(), g.params().end());
  return params;
}

StepTotals TrainStep::finish(int64_t step, const std::vector<double>& base_lrs, double lr_factor) {
  const std::vector<at::Tensor> params = parameters();
  add_pending_terms();
  StepTotals totals = terms_.reduce(stop_signal_received(), *state_.collective, [&](std::vector<double>& values) {
    if (!reducer_) return;
    at::Tensor reduced = at::tensor(values, at::kDouble);
    reducer_->finish(reduced);
    std::copy_n(reduced.data_ptr<double>(), values.size(), values.begin());
  });
  // Before clipping, hooks and the optimizer: a non-finite loss never reaches the weights or a checkpoint.
  throw_if_bad_input(totals.loss, bad_input_, step, model_.pipeline().dataset.type);
  throw_if_not_finite(totals.loss, totals.terms, step, state_.precision);
  bad_input_.clear();  // the next step looks afresh
  if (unscale_overflowed(step, params)) {
    records_.micro_batches.clear();  // hooks never see gradients that overflowed
  } else {
    edit_gradients(step);
    // After the hooks: a clip norm bounds the gradient the optimizer applies, whatever a hook added.
    if (settings_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, settings_.grad_clip);
    set_learning_rates(optimizer_, base_lrs, lr_factor);
    optimizer_.step();
  }
  optimizer_.zero_grad();
  state_.step = step;
  model_.on_step_end();
  return totals;
}

}  // namespace mmdebias::core
