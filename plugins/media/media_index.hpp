// The index of a media dataset: one row per sample, a column per modality (a file or folder path relative to the
// dataset's root) plus label and optional split / group / OOD columns. CSV with a header row (quoted fields as
// RFC 4180, read with Boost.Tokenizer) or JSON lines (nlohmann-json); told apart by the file's extension.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mmdebias::media_plugin {

/// One sample's row: its line in the index file and its fields by column name.
struct IndexRow {
  int64_t line = 0;                            ///< 1-based line in the file (for messages).
  std::map<std::string, std::string> fields;   ///< Column -> value, as text.
};

/// An index file read whole.
struct Index {
  std::filesystem::path file;       ///< Where it was read from.
  std::vector<std::string> columns; ///< Column names (CSV header order; JSON lines: the first row's keys).
  std::vector<IndexRow> rows;       ///< In file order.
};

/// Reads a .csv (header row) or .jsonl / .json file; throws sdk::DataError naming the file and line on a
/// malformed row (a field count other than the header's, a JSON line that is not an object of scalars).
Index read_index(const std::filesystem::path& file);

}  // namespace mmdebias::media_plugin
