// Metric sinks (SDK 1.2): components that receive the records a run writes to metrics.jsonl and put them somewhere
// else (TensorBoard event files, an experiment tracker). Only plain types cross: no JSON library, no tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mmdebias::sdk {

/// What a sink learns when the run opens it: once, on rank 0, before any record.
struct SinkStart {
  std::string run_dir;      ///< The run directory, absolute; a sink writes its files under it (e.g. run_dir/tensorboard).
  std::string run_name;     ///< run.name of the manifest.
  int64_t start_step = 0;   ///< 0 for a new run; for a resumed one, the checkpoint's step: records of later steps that an
                            ///< earlier start wrote are superseded by the records that follow.
  std::string manifest;     ///< The resolved manifest as YAML text (resolved.yaml: config and provenance).
};

/// One number of a record, under a TensorBoard-style tag ("train/loss", "eval/classification/accuracy").
struct SinkScalar {
  std::string tag;    ///< The record's type, then the JSON keys (array indices as numbers) down to the leaf, '/'-joined.
  double value = 0;   ///< The leaf's value (booleans, strings and nulls are not scalars).
};

/// One line of metrics.jsonl as a sink receives it.
struct SinkRecord {
  std::string type;                 ///< The line's "type": "train" (a logged step) or "eval" (an evaluation).
  int64_t step = 0;                 ///< The optimizer step the line belongs to.
  double wall_time = 0;             ///< Seconds since the Unix epoch when the host passed the record on.
  std::vector<SinkScalar> scalars;  ///< Every numeric leaf of the line but "step", in the line's key order.
  std::string json;                 ///< The line itself, exactly as appended to metrics.jsonl (for sinks that want structure).
};

/// Receives a run's records on rank 0. Construction must be cheap and write nothing (`mmdebias validate` constructs
/// sinks too, and so does every rank); open() does the I/O. An exception from any call is caught by the host, which
/// warns once and calls that sink no more: a sink never stops a run.
class MetricSink {
 public:
  virtual ~MetricSink() = default;
  /// Called once, before any other call.
  virtual void open(const SinkStart& start) = 0;
  /// One record: each line the run appends to metrics.jsonl, in the same order, after it was appended.
  virtual void write(const SinkRecord& record) = 0;
  /// At each checkpoint: make everything written so far durable (a resume starts from here).
  virtual void flush() {}
  /// At the end of the run, also when a signal stopped it or training failed; no call follows.
  virtual void close() {}
};

}  // namespace mmdebias::sdk
