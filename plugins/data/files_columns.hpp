// Scans of the integer files of data.files. The annotation columns (label, group, environment, ood) of every split
// are scanned once when the dataset is first described (info(), so `mmdebias validate` sees what they hold): the class
// and group counts they imply, every value checked, and what the user should be warned of. A column is 8 bytes a row
// at most, read through a mapping released after the scan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "files_layout.hpp"

namespace mmdebias::data_plugin::files {

/// The most classes data.files builds a model for (2^20). A label that would make more is an id, not a class index:
/// label 2^40 would otherwise ask LibTorch for a head of some 70 TB, and fail far from the file that caused it.
constexpr int64_t kMaxClasses = int64_t{1} << 20;

/// What the columns of every split say.
struct ColumnSummary {
  int64_t num_classes = 0;            ///< The option num_classes, or 1 + the largest in-distribution label.
  int64_t num_groups = 0;             ///< The option num_groups, or 1 + the largest group id (0 without group files).
  std::vector<std::string> warnings;  ///< For DatasetInfo::warnings (most classes empty).
};

/// Reads and checks the columns of every split; classes and groups are the options (0: derive them). Throws
/// sdk::DataError naming the file, the row and the value for an in-distribution label below 0 or not below the
/// class count (kMaxClasses when derived), a group outside [-1, num_groups), an environment below -1; and when no
/// split holds an in-distribution label and classes is 0. root names the dataset in that last message.
ColumnSummary scan_columns(const std::vector<SplitFiles>& splits, int64_t classes, int64_t groups,
                           const std::string& root);

/// The largest element of an integer file (-1 when it is empty), read through a mapping released on return: the
/// vocabulary of a token modality not given in vocab_sizes.
int64_t largest_value(const npy::Array& file);

}  // namespace mmdebias::data_plugin::files
