// How a manifest asks for a component's starting weights and frozen parameters (the reserved keys init,
// trainable and freeze of a trained component), as read and checked from the manifest.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mmdebias::core {

/// `init:` — a weight file to load into the component after it is built.
struct InitSpec {
  std::string path;                  ///< As written in the manifest.
  std::filesystem::path file;        ///< Resolved against the working directory.
  std::string key;                   ///< torch.save checkpoints: the entry that holds the state dict.
  std::string prefix;                ///< Stripped from the file's names; names without it are not this component's.
  std::vector<std::pair<std::string, std::string>> rename;  ///< Name prefix -> replacement, after prefix.
  std::vector<std::string> ignore;   ///< Glob patterns of (renamed) file names to leave out.
  bool strict = true;                ///< Missing or unexpected names refuse the run (wrong shapes always do).
  std::string sha256;                ///< Of the file, recorded in resolved.yaml so that a resume sees a change.
};

/// The weight keys of one component.
struct WeightSettings {
  std::optional<InitSpec> init;      ///< Starting weights, when set.
  bool trainable = true;             ///< false: every parameter frozen.
  std::vector<std::string> freeze;   ///< Glob patterns of parameter names to freeze.
};

}  // namespace mmdebias::core
