// The on-disk layout of data.files: which files make a split, read as headers only (see files_dataset.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "npy/npy_file.hpp"

namespace mmdebias::data_plugin::files {

/// Column files every split may hold; any other .npy is a modality.
extern const std::vector<std::string> kColumns;
/// True for label, group, environment, ood.
bool is_column(const std::string& name);

/// The files of one split: headers read, data not mapped.
struct SplitFiles {
  std::string name;
  std::vector<npy::Array> modalities;  // in the dataset's modality order
  npy::Array label;
  std::optional<npy::Array> group, environment, ood;
};

/// The .npy names (without extension) in a directory, sorted.
std::vector<std::string> npy_names(const std::filesystem::path& dir);
/// Reads the headers of ROOT/split (label.npy required), checks column dtypes and that every file has N rows.
SplitFiles open_split(const std::filesystem::path& root, const std::string& split,
                      const std::vector<std::string>& modalities);
/// True for an int64 / int32 modality (served as tokens).
bool is_tokens(const npy::Array& a);
/// Per-sample shape of a modality: its shape without N ([1] for a 1-D array).
std::vector<int64_t> sample_shape(const npy::Array& a);

}  // namespace mmdebias::data_plugin::files
