// A run's metric sinks, fed by rank 0 with what it appends to metrics.jsonl. A sink that throws is warned of once and
// dropped: watching a run must never stop it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "log/logger.hpp"
#include "mmdebias/sdk/sink.hpp"
#include "pipeline/pipeline.hpp"
#include "run/run_directory.hpp"
#include "run/session.hpp"

namespace mmdebias::core {

/// The record sinks receive for one metrics.jsonl line: its type and step, and every finite numeric leaf but "step" as
/// "<type>/<key>/<key>..." (array elements by index). NaN and infinities are null in metrics.jsonl, so not scalars.
sdk::SinkRecord sink_record(const nlohmann::json& line, std::string text, double wall_time);

/// The sinks of one run, opened once and closed once (at the latest by the destructor, so that a run stopped by an
/// exception closes them too).
class RunSinks {
 public:
  /// Takes the constructed sinks; logger receives the one warning of a failing sink.
  RunSinks(std::vector<Instance<sdk::MetricSink>> sinks, std::shared_ptr<Logger> logger);
  ~RunSinks();
  RunSinks(const RunSinks&) = delete;
  RunSinks& operator=(const RunSinks&) = delete;

  /// Opens every sink.
  void open(const sdk::SinkStart& start);
  /// Passes one metrics.jsonl line (text: the line as appended) to every sink still working.
  void write(const nlohmann::json& line, const std::string& text);
  /// Asks every sink to make what it has durable (at a checkpoint).
  void flush();
  /// Closes every sink still working; later calls do nothing.
  void close();
  /// Whether there is any sink (a run without sinks does no flattening).
  bool empty() const { return sinks_.empty(); }

 private:
  struct Slot {
    Instance<sdk::MetricSink> sink;
    bool working = true;
  };
  template <class Call>
  void each(const char* hook, Call&& call);

  std::vector<Slot> sinks_;
  std::shared_ptr<Logger> logger_;
  bool closed_ = false;
};

/// What sinks are opened with: the run, its resolved manifest, and the step it starts from (0, or a resume's
/// checkpoint step: what an earlier start logged after it is replayed).
sdk::SinkStart sink_start(const Session& session, const RunDirectory& run_dir);

/// Rank 0's metrics: the line appended to metrics.jsonl, then the same line to the sinks.
void append_metrics_line(RunDirectory& run_dir, RunSinks& sinks, const nlohmann::json& line);

}  // namespace mmdebias::core
