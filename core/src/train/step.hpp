// One optimizer step as data: its micro-batches (forward with every hook, loss, backward), then the step boundary
// where ranks agree (gradients, loss terms and stop request in one collective) and the optimizer steps.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/optim/optimizer.h>

#include "pipeline/context.hpp"
#include "mmdebias/sdk/step.hpp"
#include "pipeline/model.hpp"
#include "train/gradient_reducer.hpp"
#include "train/loss_scaler.hpp"
#include "train/replica_check.hpp"
#include "train/step_terms.hpp"

namespace mmdebias::core {

/// The `train` and `run` settings a step reads.
struct StepSettings {
  int64_t accumulate = 1;   ///< Micro-batches per optimizer step (the loss is divided by it).
  double grad_clip = 0;     ///< Max global gradient norm; 0 = no clipping.
  size_t bucket_bytes = 0;  ///< Size of the gradient buckets reduced over ranks.
  bool overlap_reduce = true;  ///< run.overlap_reduce: buckets start reducing during the step's last backward.
  bool check_replicas = false;  ///< run.check_replicas: compare gradients across ranks after each hook 7.
  bool loss_scale = false;      ///< run.loss_scale resolved: a dynamic loss scale (fp16).
};

/// The training step of a PipelineModel: call micro_batch() for each micro-batch, then finish() once.
class TrainStep {
 public:
  /// Steps model with optimizer; state gives the device, the collective and the phase. scaler: the run's loss scale
  /// (null without one); the step scales each backward by it and skips steps whose gradients overflow.
  TrainStep(PipelineModel& model, RunState& state, torch::optim::Optimizer& optimizer, StepSettings settings,
            LossScaler* scaler = nullptr);

  /// Moves batch to the device, runs the forward and hooks 1-6, and backpropagates loss / accumulate; returns
  /// the batch's size after hook 1 (which may add samples). last: this is the step's last micro-batch, whose
  /// backward starts reducing gradients across ranks as they become ready. Nothing is read back to the host here.
  int64_t micro_batch(sdk::Batch batch, int64_t step, bool last);

  /// The step boundary: ranks agree (gradients averaged, terms and stop request summed; the step's one read back
  /// of values to the host); a non-finite loss throws before anything touches the weights (InputError naming the
  /// input and sample when the batch as read held a NaN or infinity, else RunError naming step and term); with a
  /// loss scale, gradients are unscaled, and a step whose gradients overflowed skips the hooks and the optimizer
  /// (the scaler counts it); then the after_backward hooks (each followed by the replica check when it is on), clipping,
  /// the learning rates (base_lrs x lr_factor), the optimizer step, state.step = step, on_step_end.
  StepTotals finish(int64_t step, const std::vector<double>& base_lrs, double lr_factor);

 private:
  std::vector<at::Tensor> parameters() const;
  void edit_gradients(int64_t step);
  bool unscale_overflowed(int64_t step, const std::vector<at::Tensor>& params);

  PipelineModel& model_;
  RunState& state_;
  torch::optim::Optimizer& optimizer_;
  StepSettings settings_;
  LossScaler* scaler_;
  StepTerms terms_;
  // One micro-batch's loss values, still on the device until finish() reads the step's at once.
  struct PendingLoss {
    std::vector<std::string> names;         // the terms' names, in the order of values after the total
    at::Tensor values;                      // [total, terms...], double
    std::map<std::string, at::Tensor> read; // the inputs as read (hook 1 may replace them), to tell a bad input
    at::Tensor index;
  };
  void add_pending_terms();

  sdk::StepRecords records_;  // this step's micro-batches, kept only when some intervention edits gradients
  std::vector<NamedParameter> checked_parameters_;  // what run.check_replicas compares; empty when it is off
  std::unique_ptr<GradientReducer> reducer_;        // with more than one rank
  std::vector<PendingLoss> pending_;
  std::string bad_input_;  // this step's first non-finite input, looked for only once a micro-batch's loss is not finite
};

}  // namespace mmdebias::core
