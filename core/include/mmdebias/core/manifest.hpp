// Loading a pipeline manifest: YAML with source positions, command-line overrides applied to the tree,
// and the reads of the plugins section that happen before any plugin is loaded (manifest/plugin_settings.cpp).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace mmdebias::core {

/// One `key.path=value` override from the command line.
struct Override {
  std::string path;   ///< Dotted key path; list elements by index ("interventions.0.gamma").
  std::string value;  ///< The value text, parsed as a YAML scalar or flow node when applied.
  std::string text;   ///< The argument as given ("interventions.0.gamma=5"), for messages.
};

/// Parses `key.path=value` arguments; throws InputError naming the argument when one is malformed
/// (no '=', an empty key or an empty path segment).
std::vector<Override> parse_overrides(const std::vector<std::string>& args);

/// Where a manifest error is reported: "file:line:col" or "<override 'k=v'>", with a sort key.
struct Location {
  std::string text;    ///< The prefix written before the key path.
  int line = 0;        ///< 1-based line; -1 for a value that came from an override.
  int column = 0;      ///< 1-based column; the override's index for override locations.
};

/// A loaded manifest: the YAML tree (with source marks) after overrides, and where it came from.
class Manifest {
 public:
  /// Wraps a tree already loaded from display_name (path may be empty for embedded manifests).
  Manifest(std::string display_name, std::filesystem::path path, YAML::Node root, std::vector<Override> overrides);

  /// The name used in error locations (the path as given, or e.g. "<demo>").
  const std::string& display_name() const { return display_name_; }
  /// The file, or empty for a manifest loaded from text.
  const std::filesystem::path& path() const { return path_; }
  /// Directory that relative paths in the manifest are resolved against (the file's, else the current one).
  std::filesystem::path base_directory() const;
  /// The root node (a map for a well-formed manifest; Null for an empty one).
  const YAML::Node& root() const { return root_; }
  /// The overrides applied, in order.
  const std::vector<Override>& overrides() const { return overrides_; }

  /// The override that set key_path or one of its ancestors, or that created key_path; nullptr when none.
  const Override* override_for(const std::string& key_path, const YAML::Node& node) const;
  /// Where to report a problem with node at key_path.
  Location locate(const std::string& key_path, const YAML::Node& node) const;

 private:
  std::string display_name_;
  std::filesystem::path path_;
  YAML::Node root_;
  std::vector<Override> overrides_;
};

/// Reads and parses a manifest file and applies overrides. Throws InputError on an unreadable file,
/// "file:line:col: YAML syntax error: ..." on bad YAML, and "<override 'k=v'>: path: ..." on a bad override.
Manifest load_manifest(const std::filesystem::path& file, const std::vector<Override>& overrides = {});

/// As load_manifest, from text (embedded manifests, tests); display_name is used in error locations.
Manifest load_manifest_text(const std::string& text, const std::string& display_name,
                            const std::vector<Override>& overrides = {});

/// The plugins.paths entries, relative ones resolved against the manifest's directory. Lenient: anything
/// malformed is skipped here and reported by validation (this runs before plugins are loaded).
std::vector<std::filesystem::path> manifest_plugin_paths(const Manifest& manifest);

/// The plugins.sha256 pins: key K pins the file mmdebias-K.so; digests lowercased (either case may be written).
/// Strict, unlike manifest_plugin_paths (a skipped pin would let its file load unchecked): throws InputErrors,
/// located, when the map or a key or digest is malformed.
std::map<std::string, std::string> manifest_sha256_pins(const Manifest& manifest);

/// The value of key in map, or nullopt when map is not a map or lacks the key (never creates a key).
std::optional<YAML::Node> yaml_child(const YAML::Node& map, const std::string& key);

/// The key node of key in map (for its source mark), or nullopt.
std::optional<YAML::Node> yaml_key_node(const YAML::Node& map, const std::string& key);

}  // namespace mmdebias::core
