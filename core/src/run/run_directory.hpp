// A run directory: resolved manifest, log, metrics.jsonl, checkpoints and summary.json, written by rank 0.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace mmdebias::core {

/// The files of one run, under one directory.
class RunDirectory {
 public:
  /// Uses dir (created when missing); throws InputError (exit 2) when it cannot be created or a file in it
  /// cannot be created, written, flushed and removed.
  explicit RunDirectory(std::filesystem::path dir);

  /// The directory.
  const std::filesystem::path& dir() const { return dir_; }
  /// The resolved config alone, a manifest that runs as it is (used by resume and eval).
  std::filesystem::path manifest() const { return dir_ / "manifest.yaml"; }
  /// The resolved manifest with provenance (plugins, hashes, hook order, data fingerprints).
  std::filesystem::path resolved() const { return dir_ / "resolved.yaml"; }
  /// The run's log.
  std::filesystem::path log() const { return dir_ / "log.txt"; }
  /// One JSON object per logged step and per evaluation.
  std::filesystem::path metrics() const { return dir_ / "metrics.jsonl"; }
  /// Checkpoints and the `latest` pointer.
  std::filesystem::path checkpoints() const { return dir_ / "checkpoints"; }
  /// Fitted scorer statistics, one file per scorer, reused by `mmdebias eval`.
  std::filesystem::path scorers() const { return dir_ / "scorers"; }
  /// Final metrics and params_sha256.
  std::filesystem::path summary() const { return dir_ / "summary.json"; }

  /// Appends one JSON line to metrics.jsonl and flushes it.
  void append_metrics(const nlohmann::json& line);
  /// Drops metrics lines logged after step (a resumed run replays them), and the evaluation at step too
  /// when drop_eval_at_step (the final evaluation, which a resume of the last step runs again).
  void truncate_metrics_after(int64_t step, bool drop_eval_at_step = false);
  /// Writes summary.json atomically.
  void write_summary(const nlohmann::json& summary);

  /// A fresh directory name under parent: <name>-<YYYYmmdd-HHMMSS>[-N].
  static std::filesystem::path fresh(const std::filesystem::path& parent, const std::string& name);

 private:
  std::filesystem::path dir_;
  std::ofstream metrics_;
};

}  // namespace mmdebias::core
