// The host side of sdk::Context: run state shared by all components, and named RNG streams.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "dist/collective.hpp"
#include "log/logger.hpp"
#include "mmdebias/sdk/context.hpp"
#include "pipeline/precision.hpp"

namespace mmdebias::core {

/// Named, reproducible random streams; each is seeded from the run seed and its name alone.
class RngStreams {
 public:
  /// Streams derive from seed.
  explicit RngStreams(uint64_t seed) : seed_(seed) {}
  /// The stream called name, created on first use.
  at::Generator& get(const std::string& name);
  /// The state of every stream created so far (name -> state tensor), for checkpoints.
  std::map<std::string, at::Tensor> states() const;
  /// Restores states saved by states(), creating streams as needed.
  void restore(const std::map<std::string, at::Tensor>& states);

 private:
  uint64_t seed_;
  std::map<std::string, at::Generator> streams_;
};

/// A stable 64-bit hash (FNV-1a) for deriving seeds from names; std::hash is not stable across builds.
uint64_t stable_hash(const std::string& text, uint64_t seed = 0);

/// The instance name of an instance path: "interventions.reweight" -> "reweight" (unique within its section).
std::string instance_name(const std::string& path);

/// Metrics components recorded since the last flush: doubles as given, tensors kept on their device unread until
/// take(), which reads every pending tensor back in one transfer per device (in practice one: the model's). A name
/// holds its last value whichever form recorded it.
class MetricStore {
 public:
  /// Records a value read on the host already.
  void record(const std::string& name, double value);
  /// Records a 0-dim or 1-element tensor: a detached float64 copy is kept (a kernel launch, no sync), so later in-place
  /// changes to value do not change what is logged. Throws std::invalid_argument for another size or a complex dtype.
  void record(const std::string& name, const at::Tensor& value);
  /// Every metric as a double (tensors read now, in one at::stack(...).cpu() per device), then empty.
  std::map<std::string, double> take();
  /// Drops every metric without reading any tensor.
  void clear();
  /// Nothing recorded since the last take() or clear().
  bool empty() const { return values_.empty() && tensors_.empty(); }
  /// Tensors recorded and not yet read back.
  size_t pending() const { return tensors_.size(); }
  /// Device-to-host transfers made by take() so far (one per device per flush that had tensors off the CPU).
  int64_t transfers() const { return transfers_; }

 private:
  std::map<std::string, double> values_;
  std::map<std::string, at::Tensor> tensors_;
  int64_t transfers_ = 0;
};

class SkippedSamples;  // train/skipped_samples.hpp

/// Everything about the run that contexts read; owned by the engine and updated as it goes.
struct RunState {
  sdk::Phase phase = sdk::Phase::Train;  ///< Current phase.
  int64_t step = 0;                      ///< Optimizer steps completed.
  int64_t epoch = 0;                     ///< Current epoch.
  c10::Device device{c10::kCPU};         ///< The model's device.
  Precision precision = Precision::fp32; ///< run.precision: what the forward and the loss hooks compute in.
  uint64_t seed = 0;                     ///< Run seed.
  std::shared_ptr<Collective> collective = std::make_shared<Collective>();  ///< Reductions.
  std::shared_ptr<Logger> logger;          ///< The run's logger.
  MetricStore metrics;                     ///< Metrics recorded by components since the last flush.
  RngStreams rngs{0};                      ///< Every component's streams ("<component>/<stream>"), per rank.
  RngStreams shared_rngs{0};               ///< Every component's rank-shared streams, seeded alike on every rank.
  std::shared_ptr<SkippedSamples> skipped; ///< data.on_bad_sample: skip: what the loaders left out (null: stop).
};

/// The context one component instance receives: its name tags logs, metrics and RNG streams.
class ComponentContext : public sdk::Context {
 public:
  /// name is the instance path ("interventions.reweight"); model is what model() lends (may be null).
  ComponentContext(RunState& state, std::string name, sdk::Model* model = nullptr);
  void log(sdk::LogLevel level, const std::string& message) override;
  at::Generator& rng(const std::string& stream) override { return state_.rngs.get(name_ + "/" + stream); }
  at::Generator& shared_rng(const std::string& stream) override { return state_.shared_rngs.get(name_ + "/" + stream); }
  /// Logged as "<instance path>/<name>": an instance name is unique within its section only (an estimator and an
  /// intervention may share one), so the path is what tells two components' metrics apart.
  void metric(const std::string& name, double value) override { state_.metrics.record(name_ + "/" + name, value); }
  using sdk::Context::metric;
  /// Kept on its device, unread, until the trainer or the evaluator flushes the run's metrics.
  void metric_tensor(const std::string& name, const at::Tensor& value) override { state_.metrics.record(name_ + "/" + name, value); }
  c10::Device device() const override { return state_.device; }
  sdk::Phase phase() const override { return state_.phase; }
  int64_t step() const override { return state_.step; }
  int64_t epoch() const override { return state_.epoch; }
  int rank() const override { return state_.collective->rank(); }
  int world_size() const override { return state_.collective->world_size(); }
  void all_reduce_sum(at::Tensor& tensor) override { state_.collective->all_reduce_sum(tensor); }
  at::Tensor all_gather(const at::Tensor& tensor) override { return state_.collective->all_gather(tensor); }
  sdk::Model* model() override { return model_; }

 private:
  RunState& state_;
  std::string name_;  // the instance path: logs, metric keys and stream names
  sdk::Model* model_;
};

}  // namespace mmdebias::core
