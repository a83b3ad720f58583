#include "mmdebias/core/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <csignal>

#include <ATen/ATen.h>
#include <torch/nn/utils/clip_grad.h>

#include "mmdebias/core/data_loader.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/stop_request.hpp"

namespace mmdebias::core {
namespace {

using Clock = std::chrono::steady_clock;

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

sdk::Batch to_device(sdk::Batch batch, c10::Device device) {
  if (device.is_cpu()) return batch;
  for (auto& kv : batch.inputs) kv.second = kv.second.to(device);
  for (at::Tensor* t : {&batch.label, &batch.group, &batch.environment, &batch.ood, &batch.index}) *t = t->to(device);
  return batch;
}

LoaderOptions loader_options(const RunState& state, const sdk::Options& train, int threads, int prefetch) {
  LoaderOptions lo;
  lo.batch_size = train.integer("batch_size");
  lo.shuffle = train.boolean("shuffle");
  lo.drop_last = train.boolean("drop_last");
  lo.seed = state.seed;
  lo.rank = state.collective->rank();
  lo.world_size = state.collective->world_size();
  lo.prefetch = prefetch;
  lo.threads = std::max(1, threads);
  return lo;
}

// Appends this process's stop request as two slots (SIGTERM, SIGINT) of the step's collective.
void append_stop_slots(std::vector<double>& values) {
  const int signal = stop_signal_received();
  values.push_back(signal == SIGTERM ? 1.0 : 0.0);
  values.push_back(signal == SIGINT ? 1.0 : 0.0);
}

// The signal any rank asked to stop for, from the reduced slots that append_stop_slots added.
int agreed_stop(const std::vector<double>& global) {
  const size_t n = global.size();
  return global[n - 2] > 0 ? SIGTERM : global[n - 1] > 0 ? SIGINT : 0;
}

// Throws when the total [0] or a term [1 + i] of values is not finite, naming the first such term.
void throw_if_not_finite(const std::vector<double>& values, const std::vector<std::string>& part_names, int64_t step) {
  const double total = values[0];
  if (std::isfinite(total)) return;
  std::string offender = "total";
  for (size_t i = 0; i < part_names.size() && i + 1 < values.size(); ++i)
    if (!std::isfinite(values[i + 1])) {
      offender = part_names[i];
      break;
    }
  throw RunError("step " + std::to_string(step) + ": the loss is not finite (term '" + offender + "' = " + std::to_string(total) +
                 "); the last good checkpoint is kept — lower train.lr or set train.grad_clip");
}

}  // namespace

Trainer::Trainer(PipelineModel& model, RunState& state, const sdk::Options& train, std::shared_ptr<sdk::Dataset> data,
                 int loader_threads, int prefetch, size_t bucket_bytes, TrainerCallbacks callbacks)
    : model_(model), state_(state), train_(train), data_(std::move(data)), loader_threads_(loader_threads),
      prefetch_(prefetch), bucket_bytes_(bucket_bytes), callbacks_(std::move(callbacks)) {
  optimizer_ = make_optimizer(model_.parameter_groups(), train_, base_lrs_);
  LoaderOptions lo = loader_options(state_, train_, loader_threads_, prefetch_);
  batches_per_epoch_ = batches_per_epoch(data_->size(), lo);
  if (batches_per_epoch_ == 0)
    throw InputError("train.batch_size " + std::to_string(lo.batch_size * lo.world_size) + " is larger than the training split (" +
                     std::to_string(data_->size()) + " samples) with drop_last; lower it or set train.drop_last=false");
  int64_t accumulate = train_.integer("accumulate");
  int64_t steps_per_epoch = (batches_per_epoch_ + accumulate - 1) / accumulate;
  total_steps_ = train_.integer("steps") > 0 ? train_.integer("steps") : train_.integer("epochs") * steps_per_epoch;
  schedule_ = std::make_unique<LrSchedule>(train_, total_steps_);
}

Trainer::~Trainer() = default;

TrainResult Trainer::run() {
  TrainResult result;
  const int64_t accumulate = train_.integer("accumulate"), log_every = std::max<int64_t>(1, train_.integer("log_every"));
  const int64_t checkpoint_every = train_.integer("checkpoint_every"), eval_every = train_.integer("eval_every");
  const double clip = train_.number("grad_clip");
  DataLoader loader(data_, loader_options(state_, train_, loader_threads_, prefetch_));
  auto start = Clock::now();
  int64_t samples_at_start = position_.samples_seen, samples_since_log = 0;
  auto log_time = start;
  double last_loss = 0;
  int stopping = 0;  // the signal all ranks agreed to stop for; acted on at the next step boundary
  std::vector<std::string> part_names;  // the loss terms' names, from the first micro-batch
  std::vector<double> parts_mean;       // each term's mean over the last step's micro-batches and ranks

  while (position_.step < total_steps_ && result.stop_signal == 0) {
    state_.epoch = position_.epoch;
    loader.start_epoch(position_.epoch, position_.next_batch);
    int64_t micro = 0;
    std::vector<double> step_sums;  // [total, parts...] summed over this step's micro-batches, this rank
    while (position_.step < total_steps_) {
      std::optional<sdk::Batch> next = loader.next();
      if (!next) {  // only when the epoch ended without a step boundary; move on rather than loop
        position_.epoch += 1;
        position_.next_batch = 0;
        break;
      }
      model_.root().train();
      state_.phase = sdk::Phase::Train;
      sdk::Batch batch = to_device(std::move(*next), state_.device);
      model_.on_batch(batch);
      sdk::Estimates estimates;
      sdk::ForwardRecord record = model_.forward_step(batch, estimates);
      StepLoss loss = model_.loss(record, batch, estimates);
      // This micro-batch's loss terms, summed over the step's micro-batches and averaged over ranks at the step
      // boundary in the gradients' own collective (one round trip per step, bench/run section 6).
      std::vector<double> local{loss.total.item<double>()};
      for (const auto& part : loss.parts) local.push_back(part.second.item<double>());
      if (part_names.empty()) for (const auto& p : loss.parts) part_names.push_back(p.first);
      if (step_sums.empty()) step_sums.assign(local.size(), 0.0);
      for (size_t i = 0; i < local.size() && i < step_sums.size(); ++i) step_sums[i] += local[i];
      const int world = state_.collective->world_size();
      // One process stops at a non-finite loss before its backward; several stop at the step boundary, where
      // every rank learns it at once (a rank stopping alone would leave its peers waiting in the collective).
      if (world == 1) throw_if_not_finite(local, part_names, position_.step + 1);
      // No division when nothing accumulates: x / 1 is x, and the op and its backward cost ~1% of a small step.
      (accumulate == 1 ? loss.total : loss.total / static_cast<double>(accumulate)).backward();
      ++micro;
      position_.next_batch = loader.next_batch();
      position_.samples_seen += batch.size() * world;
      samples_since_log += batch.size() * world;
      if (micro % accumulate != 0 && position_.next_batch < batches_per_epoch_) continue;

      std::vector<at::Tensor> params;
      for (const auto& g : optimizer_->param_groups()) params.insert(params.end(), g.params().begin(), g.params().end());
      // The stop request rides along (two slots: SIGTERM, SIGINT), so every rank learns of any rank's request
      // at the same step and all stop there, with no collective of their own.
      std::vector<double> global = std::move(step_sums);
      step_sums.clear();
      const size_t terms = global.size();
      append_stop_slots(global);
      if (world > 1) {
        at::Tensor reduced = at::tensor(global, at::kDouble);
        state_.collective->average_gradients(params, bucket_bytes_, reduced);
        std::copy_n(reduced.data_ptr<double>(), global.size(), global.begin());
      }
      // Means over the step's micro-batches and the ranks.
      for (size_t i = 0; i < terms; ++i) global[i] /= static_cast<double>(micro * world);
      // Before clipping, hooks and the optimizer: a non-finite loss never reaches the weights or a checkpoint.
      throw_if_not_finite(global, part_names, position_.step + 1);
      if (stopping == 0) stopping = agreed_stop(global);
      last_loss = global[0];
      parts_mean.assign(global.begin() + 1, global.begin() + static_cast<std::ptrdiff_t>(terms));
      if (clip > 0) torch::nn::utils::clip_grad_norm_(params, clip);
      model_.after_backward();
      set_learning_rates(*optimizer_, base_lrs_, schedule_->factor(position_.step));
      optimizer_->step();
      optimizer_->zero_grad();
      ++position_.step;
      state_.step = position_.step;
      model_.on_step_end();
      micro = 0;

      double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      double rate = elapsed > 0 ? static_cast<double>(position_.samples_seen - samples_at_start) / elapsed : 0;
      if (callbacks_.progress) callbacks_.progress(position_.step, total_steps_, last_loss, rate);
      if (position_.step % log_every == 0 && callbacks_.log) {
        double since = std::chrono::duration<double>(Clock::now() - log_time).count();
        nlohmann::json line = {{"type", "train"}, {"step", position_.step}, {"epoch", position_.epoch},
                               {"lr", optimizer_->param_groups()[0].options().get_lr()}, {"loss", last_loss},
                               {"samples_per_s", since > 0 ? samples_since_log / since : 0.0},
                               // Cumulative, so a steady-state rate between two lines excludes start-up (bench/run).
                               {"seconds", std::chrono::duration<double>(Clock::now() - start).count()},
                               {"cpu_seconds", process_cpu_seconds()},  // all threads: robust to other processes' load
                               {"samples", position_.samples_seen}};
        nlohmann::json parts = nlohmann::json::object();
        for (size_t i = 0; i < part_names.size() && i < parts_mean.size(); ++i) parts[part_names[i]] = parts_mean[i];
        line["terms"] = parts;
        line["model_forward_calls"] = model_.train_forward_calls();  // components' extra passes so far
        for (const auto& kv : state_.metrics) line["metrics"][kv.first] = kv.second;
        result.last = parts;
        callbacks_.log(line);
        log_time = Clock::now();
        samples_since_log = 0;
      }
      state_.metrics.clear();
      bool epoch_done = position_.next_batch >= batches_per_epoch_;
      if (epoch_done) {
        position_.epoch += 1;
        position_.next_batch = 0;
      }
      bool last = position_.step >= total_steps_;
      // Evaluation before the checkpoint: a run killed between the two resumes from the earlier checkpoint
      // and evaluates again, so metrics.jsonl never misses an evaluation (nor repeats one).
      if (callbacks_.evaluate && !last && ((eval_every > 0 && position_.step % eval_every == 0) || (eval_every == 0 && epoch_done)))
        callbacks_.evaluate(position_.step);
      if (callbacks_.checkpoint && ((checkpoint_every > 0 && position_.step % checkpoint_every == 0) ||
                                    (checkpoint_every == 0 && epoch_done) || last || stopping != 0))
        callbacks_.checkpoint(position_);
      if (stopping != 0) {  // every rank saved this step above
        result.stop_signal = stopping;
        break;
      }
      if (epoch_done) break;
    }
  }
  result.steps = position_.step;
  result.epochs = position_.epoch;
  result.samples = position_.samples_seen;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.samples_per_second = result.seconds > 0 ? static_cast<double>(position_.samples_seen - samples_at_start) / result.seconds : 0;
  result.data_wait_fraction = result.seconds > 0 ? loader.wait_seconds() / result.seconds : 0;
  return result;
}

}  // namespace mmdebias::core
