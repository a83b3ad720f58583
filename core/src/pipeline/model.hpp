// The assembled model: every component instance in one module tree, and the forward pass of one step
// with the hooks called in their documented order (see docs/architecture.md).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "mmdebias/sdk/components.hpp"
#include "pipeline/context.hpp"
#include "pipeline/validate.hpp"
#include "plugin/guard.hpp"

namespace mmdebias::core {

/// Parameters that share a learning rate and weight decay (one per component instance that has parameters).
struct ParameterGroup {
  std::string name;                    ///< Instance path.
  std::vector<at::Tensor> parameters;  ///< Its trainable parameters.
  std::optional<double> lr;            ///< Its own learning rate, when the manifest sets one.
  std::optional<double> weight_decay;  ///< Its own weight decay, when the manifest sets one.
};

/// The loss of one step: the total to differentiate and each named part (unweighted) for logging.
struct StepLoss {
  at::Tensor total;                                  ///< task_weight * task + sum of weight * term.
  std::vector<std::pair<std::string, at::Tensor>> parts;  ///< "task" and "<instance>/<term>", unweighted.
};

/// What one training micro-batch's forward gives: the record, the estimates and the loss with its terms.
struct StepOutput {
  sdk::ForwardRecord record;  ///< Features, fused, logits (and per-modality logits where needed).
  sdk::Estimates estimates;   ///< What the bias estimators published.
  StepLoss loss;              ///< The total to differentiate and each named term.
};

/// Encoders, fusion, estimators, interventions and scorers of a validated pipeline, run with hooks.
class PipelineModel : public sdk::Model {
 public:
  /// Takes the components validation built; state is read by every component's context.
  PipelineModel(BuiltPipeline pipeline, RunState& state);

  const std::vector<std::string>& modalities() const override { return modalities_; }
  sdk::Encoder& encoder(const std::string& modality) override;
  sdk::Fusion& fusion() override { return *pipeline_.fusion.object; }
  /// Encoders, fusion and head with the given site overrides and no other hook (sdk::Model).
  sdk::ForwardRecord forward(const sdk::Batch& batch, const sdk::AttentionSites& sites) override;

  /// A training micro-batch's forward with every hook in order (1 on_batch, 3, 2, 4a, 4, 5, 6 loss); the
  /// batch is altered in place by hook 1.
  StepOutput train_forward(sdk::Batch& batch);
  /// Hook 1: interventions alter the training batch.
  void on_batch(sdk::Batch& batch);
  /// Hooks 3, 2, 4a, 4, 5: the forward of a step; estimates are filled by the estimators.
  sdk::ForwardRecord forward_step(const sdk::Batch& batch, sdk::Estimates& estimates);
  /// Hook 6: task loss plus every estimator's and intervention's weighted terms.
  StepLoss loss(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates& estimates);
  /// True when some intervention implements hook 7 before the optimizer step (after_backward).
  bool edits_gradients() const;
  /// Hook 7 before clipping and the optimizer step, with this rank's micro-batches of the step; after_each runs
  /// after each intervention's hook (the replica check), given its label.
  void after_backward(const sdk::StepRecords& step, const std::function<void(const ComponentLabel&)>& after_each = {});
  /// Hook 7 after the optimizer step.
  void on_step_end();
  /// True when some intervention adjusts predictions at evaluation (hook 8).
  bool adjusts_predictions() const;
  /// Hook 8: the logits after every intervention's prediction adjustment.
  at::Tensor predict(const sdk::ForwardRecord& record, const sdk::Batch& batch, const sdk::Estimates& estimates);

  /// The trained components as one module tree (encoders.<m>, fusion, estimators.<n>, interventions.<n>):
  /// what checkpoints hold and params_sha256 digests.
  torch::nn::Module& root() { return *root_; }
  /// The scorers as a module tree; fitted after training, kept apart so evaluation may use other scorers.
  torch::nn::Module& scorer_root() { return *scorer_root_; }
  /// Trainable parameters grouped by component instance (scorers excluded: they are fitted, not trained).
  std::vector<ParameterGroup> parameter_groups() const;
  /// The scorers, with their contexts and labels.
  struct ScorerSlot {
    const Instance<sdk::Scorer>* instance;  ///< The scorer.
    ComponentLabel label;                   ///< For errors.
    ComponentContext* context;              ///< Its context.
  };
  /// Scorers in manifest order.
  std::vector<ScorerSlot> scorers();
  /// Calls of forward() (the sdk::Model pass components make, not the step's own) in the Train phase so far;
  /// measured against the components' declared cost() by tests/cli/validate_cost.sh.
  int64_t train_forward_calls() const { return train_forward_calls_; }
  /// Calls of forward() in any other phase (evaluation, fitting) so far.
  int64_t other_forward_calls() const { return other_forward_calls_; }
  /// The pipeline as built (dataset, specs, instances).
  const BuiltPipeline& pipeline() const { return pipeline_; }

 private:
  template <class T>
  struct Slot {
    const Instance<T>* instance;
    ComponentLabel label;
    std::unique_ptr<ComponentContext> context;
  };
  template <class T>
  Slot<T> make_slot(const Instance<T>& instance);
  sdk::ForwardRecord run_forward(const sdk::Batch& batch, const sdk::AttentionSites& sites, sdk::Estimates* estimates);
  void observe(const sdk::ForwardRecord& record, sdk::Estimates& estimates, bool fused_only);

  BuiltPipeline pipeline_;
  RunState& state_;
  std::vector<std::string> modalities_;
  std::vector<Slot<sdk::Encoder>> encoders_;
  Slot<sdk::Fusion> fusion_;
  std::vector<Slot<sdk::BiasEstimator>> estimators_;
  std::vector<Slot<sdk::Intervention>> interventions_;
  std::vector<Slot<sdk::Scorer>> scorers_;
  std::shared_ptr<torch::nn::Module> root_;
  std::shared_ptr<torch::nn::Module> scorer_root_;
  int64_t train_forward_calls_ = 0;
  int64_t other_forward_calls_ = 0;
};

}  // namespace mmdebias::core
