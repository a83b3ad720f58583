// What the host lends a component during a call: logging, RNG streams, metrics, device, phase, collectives.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace mmdebias::sdk {

class Model;

/// Where the engine is: training step, evaluation pass, or fitting scorer statistics on training data.
enum class Phase { Train, Eval, Fit };

/// Severity of a log line.
enum class LogLevel { Debug, Info, Warn, Error };

/// Host services available to a component inside every hook. Implemented by the host; never by plugins.
class Context {
 public:
  virtual ~Context() = default;

  /// Writes one log line, tagged by the host with the component's name and the rank.
  virtual void log(LogLevel level, const std::string& message) = 0;
  /// A named, reproducible random stream owned by this component, different on each rank; saved in checkpoints.
  virtual at::Generator& rng(const std::string& stream) = 0;
  /// Records a scalar metric for the current step (written to metrics.jsonl under the component's name).
  virtual void metric(const std::string& name, double value) = 0;
  /// Records a 0-dim or 1-element tensor metric (copied, detached) read back only when the host flushes metrics: no sync in the step (SDK 1.1).
  void metric(const std::string& name, const at::Tensor& value) { metric_tensor(name, value); }
  /// Device the model lives on.
  virtual c10::Device device() const = 0;
  /// Current phase.
  virtual Phase phase() const = 0;
  /// Optimizer steps completed so far.
  virtual int64_t step() const = 0;
  /// Current epoch, counted from 0.
  virtual int64_t epoch() const = 0;
  /// Rank of this process in data-parallel training (0 when alone).
  virtual int rank() const = 0;
  /// Number of data-parallel processes (1 when alone).
  virtual int world_size() const = 0;
  /// Sums a tensor over all ranks, in place (identity when alone); call it on every rank.
  virtual void all_reduce_sum(at::Tensor& tensor) = 0;
  /// Concatenates each rank's tensor along dim 0 in rank order (identity when alone); call it on every rank.
  virtual at::Tensor all_gather(const at::Tensor& tensor) = 0;
  /// The host's model (encoders, fusion, head), for components that re-run parts of it outside the
  /// hooks that receive it, e.g. a scorer applying the head to clipped features; null when none is lent.
  virtual Model* model() { return nullptr; }
  /// A named, reproducible random stream owned by this component and the same on every rank (seeded from the run
  /// seed and its name only; saved in checkpoints): draws agree across ranks as long as every rank makes the same
  /// draws, so 2 ranks reproduce 1. For decisions all ranks must share: noise added to averaged gradients, a mixing
  /// coefficient, a permutation of the global batch.
  virtual at::Generator& shared_rng(const std::string& stream) = 0;
  /// What metric(name, tensor) calls (SDK 1.1); the host keeps the tensor and reads every pending one in one transfer
  /// when it flushes metrics. This default reads it at once, for hand-written test doubles written against SDK 1.0.
  virtual void metric_tensor(const std::string& name, const at::Tensor& value) { metric(name, value.item<double>()); }
};

}  // namespace mmdebias::sdk
