// The samples a run leaves out under `data.on_bad_sample: skip`: a dataset refused them as bad data (sdk::DataError:
// a corrupt or unreadable file), the loader dropped them from their batch, and this record says which, so the run's
// summary.json can list them. Kept per split by sample index, so a sample skipped every epoch counts once, and
// merging records (every rank's at a checkpoint, a checkpoint's on resume) is a union: nothing counts twice.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "dist/collective.hpp"

namespace mmdebias::core {

/// What was skipped, per split and sample index; safe to add to from the loader's threads.
class SkippedSamples {
 public:
  /// first_seen: called (from a loader thread) with a one-line message the first time a sample is skipped.
  explicit SkippedSamples(std::function<void(const std::string&)> first_seen = {}) : first_seen_(std::move(first_seen)) {}

  /// Records that sample index of split was skipped for error (the dataset's message).
  void add(const std::string& split, int64_t index, const std::string& error);
  /// Distinct samples skipped in split (0 when none).
  int64_t count(const std::string& split) const;
  /// {split: {"count": n, "samples": [{"index": i, "error": "..."}, ...]}} with at most `listed` samples per split,
  /// lowest indices first; an empty object when nothing was skipped.
  nlohmann::json to_json(size_t listed = SIZE_MAX) const;
  /// Adds what to_json() wrote (another rank's record, or a checkpoint's).
  void merge(const nlohmann::json& record);
  /// Collective: every rank's record merged into every rank's; returns the whole record as JSON text.
  std::string share(Collective& collective);

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::map<int64_t, std::string>> by_split_;
  std::function<void(const std::string&)> first_seen_;
};

}  // namespace mmdebias::core
