#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "mmdebias/core/errors.hpp"
#include "train/data_loader.hpp"
#include "train/step.hpp"

namespace mmdebias::core {
namespace {

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

LoaderOptions loader_options(const RunState& state, const sdk::Options& train, int threads, int prefetch) {
  LoaderOptions lo = LoaderOptions::for_rank(train.integer("batch_size"), state.seed, state.collective->rank(),
                                             state.collective->world_size(), threads);
  lo.shuffle = train.boolean("shuffle");
  lo.drop_last = train.boolean("drop_last");
  lo.prefetch = prefetch;
  lo.device = state.device;
  lo.tell_epoch = true;  // augmentation drawn per epoch (sdk::EpochAware)
  lo.skipped = state.skipped.get();
  lo.split = "train";
  return lo;
}

}  // namespace

Trainer::Trainer(PipelineModel& model, RunState& state, const sdk::Options& train, std::shared_ptr<sdk::Dataset> data,
                 int loader_threads, int prefetch, StepSettings ranks, TrainerCallbacks callbacks)
    : model_(model), state_(state), train_(train), data_(std::move(data)), loader_threads_(loader_threads),
      prefetch_(prefetch), step_settings_(ranks), callbacks_(std::move(callbacks)) {
  optimizer_ = make_optimizer(model_.parameter_groups(), train_, base_lrs_);
  LoaderOptions lo = loader_options(state_, train_, loader_threads_, prefetch_);
  if (data_->size() == 0)  // not a batch size problem, whatever drop_last says
    throw InputError("the training split ('train') is empty: the dataset serves 0 samples for it; give it samples "
                     "(nothing can be trained on an empty split)");
  batches_per_epoch_ = batches_per_epoch(data_->size(), lo);
  if (batches_per_epoch_ == 0)
    throw InputError("train.batch_size " + std::to_string(lo.batch_size * lo.world_size) + " is larger than the training split (" +
                     std::to_string(data_->size()) + " samples) with drop_last; lower it or set train.drop_last=false");
  accumulate_ = train_.integer("accumulate");
  step_settings_.accumulate = accumulate_;
  step_settings_.grad_clip = train_.number("grad_clip");
  log_every_ = std::max<int64_t>(1, train_.integer("log_every"));
  eval_every_ = train_.integer("eval_every");
  checkpoint_every_ = train_.integer("checkpoint_every");
  int64_t steps_per_epoch = (batches_per_epoch_ + accumulate_ - 1) / accumulate_;
  total_steps_ = train_.integer("steps") > 0 ? train_.integer("steps") : train_.integer("epochs") * steps_per_epoch;
  schedule_ = std::make_unique<LrSchedule>(train_, total_steps_);
  if (step_settings_.loss_scale) scaler_.emplace();
}

void Trainer::resume_from(const RunPosition& position, const std::optional<LossScaleState>& loss_scale) {
  position_ = position;
  if (scaler_ && loss_scale) scaler_.emplace(*loss_scale);
}

std::optional<LossScaleState> Trainer::loss_scale() const {
  if (!scaler_) return std::nullopt;
  return scaler_->state();
}

Trainer::~Trainer() = default;

TrainResult Trainer::run() {
  TrainResult result;
  TrainStep step(model_, state_, *optimizer_, step_settings_, scaler_ ? &*scaler_ : nullptr);
  DataLoader loader(data_, loader_options(state_, train_, loader_threads_, prefetch_));
  Meter meter{Clock::now(), position_.samples_seen};
  while (position_.step < total_steps_ && result.stop_signal == 0) {
    state_.epoch = position_.epoch;
    loader.start_epoch(position_.epoch, position_.next_batch);
    int64_t micro = 0;
    while (position_.step < total_steps_) {
      std::optional<sdk::Batch> next = loader.next();
      if (!next) {  // only when the epoch ended without a step boundary; move on rather than loop
        position_.epoch += 1;
        position_.next_batch = 0;
        break;
      }
      position_.next_batch = loader.next_batch();
      const bool last = ++micro % accumulate_ == 0 || position_.next_batch >= batches_per_epoch_;  // of the step
      const int64_t samples = step.micro_batch(std::move(*next), position_.step + 1, last) * state_.collective->world_size();
      position_.samples_seen += samples;
      meter.samples_since_log += samples;
      if (!last) continue;
      micro = 0;
      StepTotals totals = step.finish(position_.step + 1, base_lrs_, schedule_->factor(position_.step));
      ++position_.step;
      report_step(totals, meter, result);
      if (after_step(totals.stop.signal(), result)) break;
    }
  }
  result.steps = position_.step;
  result.epochs = position_.epoch;
  result.samples = position_.samples_seen;
  result.seconds = std::chrono::duration<double>(Clock::now() - meter.start).count();
  result.samples_per_second = result.seconds > 0 ? static_cast<double>(position_.samples_seen - meter.samples_at_start) / result.seconds : 0;
  result.data_wait_fraction = result.seconds > 0 ? loader.wait_seconds() / result.seconds : 0;
  result.loss_scale = loss_scale();
  return result;
}

void Trainer::report_step(const StepTotals& totals, Meter& meter, TrainResult& result) {
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - meter.start).count();
  const double rate = elapsed > 0 ? static_cast<double>(position_.samples_seen - meter.samples_at_start) / elapsed : 0;
  if (callbacks_.progress) callbacks_.progress(position_.step, total_steps_, totals.loss, rate);
  if (position_.step % log_every_ == 0 && callbacks_.log) {
    const double since = std::chrono::duration<double>(now - meter.last_log).count();
    nlohmann::json line = {{"type", "train"}, {"step", position_.step}, {"epoch", position_.epoch},
                           {"lr", optimizer_->param_groups()[0].options().get_lr()}, {"loss", totals.loss},
                           {"samples_per_s", since > 0 ? meter.samples_since_log / since : 0.0},
                           // Cumulative, so a steady-state rate between two lines excludes start-up (bench/run).
                           {"seconds", std::chrono::duration<double>(Clock::now() - meter.start).count()},
                           {"cpu_seconds", process_cpu_seconds()},  // all threads: robust to other processes' load
                           {"samples", position_.samples_seen}};
    line["terms"] = totals.terms;
    if (scaler_) {
      line["loss_scale"] = scaler_->state().scale;
      line["skipped_steps"] = scaler_->state().skipped;
    }
    line["model_forward_calls"] = model_.train_forward_calls();  // components' extra passes so far
    // The one read of the step's tensor metrics (a single transfer); steps that log nothing never read theirs.
    for (const auto& kv : state_.metrics.take()) line["metrics"][kv.first] = kv.second;
    result.last = line["terms"];
    callbacks_.log(line);
    meter.last_log = Clock::now();
    meter.samples_since_log = 0;
  }
  state_.metrics.clear();
}

bool Trainer::after_step(int stop_signal, TrainResult& result) {
  const bool epoch_done = position_.next_batch >= batches_per_epoch_;
  if (epoch_done) {
    position_.epoch += 1;
    position_.next_batch = 0;
  }
  const bool last = position_.step >= total_steps_;
  // Evaluation before the checkpoint: a run killed between the two resumes from the earlier checkpoint
  // and evaluates again, so metrics.jsonl never misses an evaluation (nor repeats one).
  if (callbacks_.evaluate && !last && ((eval_every_ > 0 && position_.step % eval_every_ == 0) || (eval_every_ == 0 && epoch_done)))
    callbacks_.evaluate(position_.step);
  if (callbacks_.checkpoint && ((checkpoint_every_ > 0 && position_.step % checkpoint_every_ == 0) ||
                                (checkpoint_every_ == 0 && epoch_done) || last || stop_signal != 0))
    callbacks_.checkpoint(position_, *optimizer_, loss_scale());
  result.stop_signal = stop_signal;  // every rank saved this step above
  return stop_signal != 0 || epoch_done;
}

}  // namespace mmdebias::core
