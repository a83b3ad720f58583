// The options of data.files and what they resolve to on disk: the root, the splits found under it, the served
// split's modalities, the vocabularies given (see files_dataset.cpp, docs/files-format.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/components.hpp"

namespace mmdebias::data_plugin::files {

/// The options of data.files, then what read_config resolves from them.
struct Config {
  std::string root_option;               ///< The option root.
  std::vector<std::string> modalities;   ///< As given; every modality file of the split when empty, once resolved.
  int64_t num_classes = 0;               ///< The option; 0 = derived from the labels.
  int64_t num_groups = 0;                ///< The option; 0 = derived from the group ids.
  std::vector<std::string> vocab_sizes;  ///< "name=V".
  // Resolved by read_config.
  std::filesystem::path root;            ///< root_option as a path.
  std::string split;                     ///< The split served.
  std::vector<std::string> splits;       ///< Every split under root, sorted.
  std::map<std::string, int64_t> vocab;  ///< From vocab_sizes.

  /// Declares the options (sdk::OptionBinder).
  static void declare(sdk::OptionBinder<Config>& b);
};

/// Binds the options and resolves them against the directory; throws sdk::DataError naming what is missing.
Config read_config(const sdk::BuildArgs& args);

}  // namespace mmdebias::data_plugin::files
