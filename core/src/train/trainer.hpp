// The training loop: epochs of batches through the step (train/step.hpp), the schedule, and what is logged,
// evaluated and checkpointed between steps.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>

#include "pipeline/context.hpp"
#include "pipeline/model.hpp"
#include "train/step.hpp"
#include "train/optimization.hpp"
#include "train/position.hpp"

namespace mmdebias::core {

/// What the loop reports to its owner (the engine writes files; the trainer only computes).
struct TrainerCallbacks {
  std::function<void(const nlohmann::json&)> log;             ///< A train metrics line (every log_every steps).
  /// Save now, with the optimizer and the loss scale where the run has one (at step boundaries).
  std::function<void(const RunPosition&, torch::optim::Optimizer&, const std::optional<LossScaleState>&)> checkpoint;
  std::function<void(int64_t step)> evaluate;                 ///< Evaluate now.
  std::function<void(int64_t step, int64_t total, double loss, double samples_per_s)> progress;  ///< After each step.
};

/// Summary of a finished (or resumed-and-finished) training loop.
struct TrainResult {
  int64_t steps = 0;                ///< Optimizer steps completed in total.
  int64_t epochs = 0;               ///< Epochs completed.
  int64_t samples = 0;              ///< Training samples consumed in total.
  double seconds = 0;               ///< Wall time of this process's loop.
  double samples_per_second = 0;    ///< Over this process's loop.
  double data_wait_fraction = 0;    ///< Share of the loop spent waiting for the data loader.
  std::optional<LossScaleState> loss_scale;  ///< The loss scale at the end, where the run has one.
  nlohmann::json last = nlohmann::json::object();  ///< The last logged loss parts.
  int stop_signal = 0;              ///< SIGTERM/SIGINT when a stop request ended the loop early (step `steps` was checkpointed).
};

struct StepTotals;

/// Trains a PipelineModel on a prepared dataset following the `train` section.
class Trainer {
 public:
  /// threads: data loader threads. The optimizer is created here (one group per component).
  /// ranks: the run section's step settings (bucket_bytes, check_replicas); accumulate and grad_clip come from train.
  Trainer(PipelineModel& model, RunState& state, const sdk::Options& train, std::shared_ptr<sdk::Dataset> data,
          int loader_threads, int prefetch, StepSettings ranks, TrainerCallbacks callbacks);
  ~Trainer();

  /// The optimizer (checkpoints save and load it).
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  /// Continues from a checkpoint's position and loss scale (a checkpoint without one starts the scale afresh).
  void resume_from(const RunPosition& position, const std::optional<LossScaleState>& loss_scale);
  /// The loss scale's state, where the run has one.
  std::optional<LossScaleState> loss_scale() const;
  /// Where the loop stands.
  const RunPosition& position() const { return position_; }
  /// Optimizer steps the whole run takes (train.steps, or epochs x steps per epoch).
  int64_t total_steps() const { return total_steps_; }
  /// Runs until total_steps(), or until a stop request (stop_request.hpp) on any rank: then every rank
  /// checkpoints the step it reached and returns with stop_signal set. Throws RunError naming the step
  /// and term on a non-finite loss.
  TrainResult run();

 private:
  using Clock = std::chrono::steady_clock;
  /// Where the loop's rates are measured from.
  struct Meter {
    Clock::time_point start;
    int64_t samples_at_start = 0;
    Clock::time_point last_log = start;
    int64_t samples_since_log = 0;
  };
  /// Progress and the metrics line of the step just taken.
  void report_step(const StepTotals& totals, Meter& meter, TrainResult& result);
  /// Epoch bookkeeping, evaluation and checkpoint as scheduled; true when the epoch's loop should end.
  bool after_step(int stop_signal, TrainResult& result);

  PipelineModel& model_;
  RunState& state_;
  const sdk::Options& train_;
  std::shared_ptr<sdk::Dataset> data_;
  int loader_threads_, prefetch_;
  StepSettings step_settings_;
  TrainerCallbacks callbacks_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::optional<LossScaler> scaler_;  // run.loss_scale
  std::vector<double> base_lrs_;
  std::unique_ptr<LrSchedule> schedule_;
  int64_t batches_per_epoch_ = 0, total_steps_ = 0;
  int64_t accumulate_ = 1, log_every_ = 1, eval_every_ = 0, checkpoint_every_ = 0;  // train.*, read once
  RunPosition position_;
};

}  // namespace mmdebias::core
