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
  /// Names the files of the run in dir; touches nothing (only rank 0 writes, after make_writable).
  explicit RunDirectory(std::filesystem::path dir) : dir_(std::move(dir)) {}

  /// Creates the directory when missing; throws InputError (exit 2) when it cannot be created or a file in it
  /// cannot be created, written, flushed and removed.
  void make_writable() const;
  /// Throws InputError (exit 2) when checkpoints/, checkpoints/discarded/ or scorers/ is a symbolic link: runs
  /// delete and replace files in them, which must never happen in whatever a link points at.
  void require_real_subdirectories() const;
  /// Removes what a killed process left half-written in the directory (resolved.yaml.tmp-<pid>, ...): only
  /// regular files whose names runs write, so a user's own files beside a --force run are never touched.
  void remove_unfinished_writes() const;

  /// The directory.
  const std::filesystem::path& dir() const { return dir_; }
  /// The marker a run writes first: it tells a run directory of ours from any other directory (a hand-written
  /// manifest.yaml looks like ours, and a run's manifest.yaml copied elsewhere is no run).
  std::filesystem::path marker() const { return dir_ / ".mmdebias-run"; }
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

  /// Writes the marker (atomically): the first file of a new run, and added to a run an older mmdebias made
  /// when it is resumed.
  void write_marker() const;

  /// Appends one JSON line to metrics.jsonl and flushes it; returns the line as written (without its newline).
  std::string append_metrics(const nlohmann::json& line);
  /// Drops metrics lines logged after step (a resumed run replays them), and the evaluation at step too
  /// when drop_eval_at_step (the final evaluation, which a resume of the last step runs again).
  void truncate_metrics_after(int64_t step, bool drop_eval_at_step = false);
  /// Writes summary.json atomically.
  void write_summary(const nlohmann::json& summary);

  /// Whether a directory entry's name is one that runs, `eval` or `report` write into a run directory (the
  /// marker, manifest.yaml, checkpoints, eval-<split>.json, report.html, ...): what --force moves aside.
  static bool written_by_runs(const std::string& name);

  /// Creates and returns a new directory <parent>/<name>-<YYYYmmdd-HHMMSS>[-N] (created, so that two runs
  /// started in the same second get two). Throws InputError naming run.name when name is not a plain,
  /// reasonably short file name (run.name: '../../x' would leave run.out).
  static std::filesystem::path fresh(const std::filesystem::path& parent, const std::string& name);

 private:
  std::filesystem::path dir_;
  std::ofstream metrics_;
};

/// Creates and returns a new directory <parent>/<prefix>-<YYYYmmdd-HHMMSS>[-N] (parent too, when missing).
std::filesystem::path create_stamped_directory(const std::filesystem::path& parent, const std::string& prefix);

}  // namespace mmdebias::core
