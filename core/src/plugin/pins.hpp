// What may be opened, decided from a plugin file's name and bytes before it is opened: dlopen runs a library's
// constructors, so a check made after it (against the name the library reports, say) comes too late to refuse.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mmdebias::core {

/// True for a file named mmdebias-<name>.so: the only files the loader opens.
bool is_plugin_file_name(const std::filesystem::path& file);

/// The plugins.sha256 key that pins file: "std" for .../mmdebias-std.so (the plugin's name, for every plugin
/// built with mmdebias_add_plugin).
std::string pin_key(const std::filesystem::path& file);

/// True when key can name a file mmdebias-<key>.so (letters, digits, '_' and '-', as plugin names).
bool is_pin_key(const std::string& key);

/// text as 64 lowercase hex digits, or nullopt when it is not a SHA-256 digest (either case is accepted).
std::optional<std::string> normalized_pin(const std::string& text);

/// A candidate file after the checks that need no opening: its digest, or why it is skipped.
struct CheckedFile {
  std::filesystem::path path;  ///< The file, as found on the search path.
  std::string sha256;          ///< SHA-256 of its bytes (empty when it could not be read).
  std::string refusal;         ///< Why it is not opened, when it could not be read; empty otherwise.
};

/// Hashes every file and checks it against pins (key -> digest, see pin_key) before any file is opened.
/// Throws InputErrors, naming each file and what was expected, when a file is not named mmdebias-<name>.so, a
/// pin is not a digest, or a pinned file's bytes differ from its pin: then nothing has been opened.
std::vector<CheckedFile> check_before_opening(const std::vector<std::filesystem::path>& files,
                                             const std::map<std::string, std::string>& pins);

}  // namespace mmdebias::core
