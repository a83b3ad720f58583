// Collecting located manifest errors ("file:line:col: key.path: what") so validation reports them all at once.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "mmdebias/core/manifest.hpp"

namespace mmdebias::core {

/// The errors found in one manifest, each with its location; sorted by position when reported.
class Diagnostics {
 public:
  /// Errors are located in manifest (which must outlive this object).
  explicit Diagnostics(const Manifest& manifest) : manifest_(&manifest) {}

  /// Records "location: key_path: what", located at node (or the override that set key_path).
  void error(const std::string& key_path, const YAML::Node& node, const std::string& what);
  /// Number of errors so far.
  size_t count() const { return entries_.size(); }
  /// The messages, overrides first (in argument order), then by line and column; duplicates removed.
  std::vector<std::string> messages() const;
  /// Throws InputErrors with messages() when there is any error.
  void throw_if_any() const;

 private:
  struct Entry {
    Location where;
    size_t seq;
    std::string text;
  };
  const Manifest* manifest_;
  std::vector<Entry> entries_;
};

}  // namespace mmdebias::core
