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

/// Everything about the run that contexts read; owned by the engine and updated as it goes.
struct RunState {
  sdk::Phase phase = sdk::Phase::Train;  ///< Current phase.
  int64_t step = 0;                      ///< Optimizer steps completed.
  int64_t epoch = 0;                     ///< Current epoch.
  c10::Device device{c10::kCPU};         ///< The model's device.
  uint64_t seed = 0;                     ///< Run seed.
  std::shared_ptr<Collective> collective = std::make_shared<Collective>();  ///< Reductions.
  std::shared_ptr<Logger> logger;          ///< The run's logger.
  std::map<std::string, double> metrics;   ///< Metrics recorded by components since the last flush.
  RngStreams rngs{0};                      ///< Every component's streams ("<component>/<stream>"), per rank.
  RngStreams shared_rngs{0};               ///< Every component's rank-shared streams, seeded alike on every rank.
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
  void metric(const std::string& name, double value) override { state_.metrics[name_ + "/" + name] = value; }
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
