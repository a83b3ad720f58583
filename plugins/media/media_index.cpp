#include "media_index.hpp"

#include <fstream>

#include <boost/tokenizer.hpp>
#include <nlohmann/json.hpp>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::media_plugin {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, int64_t line, const std::string& what) {
  throw sdk::DataError(file.string() + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what);
}

std::vector<std::string> csv_fields(const std::string& text, const std::filesystem::path& file, int64_t line) {
  using Tokens = boost::tokenizer<boost::escaped_list_separator<char>>;
  std::vector<std::string> out;
  try {
    // Quotes as RFC 4180; a backslash is an ordinary character in paths, not an escape.
    Tokens tokens(text, boost::escaped_list_separator<char>("", ",", "\""));
    for (const auto& t : tokens) out.push_back(t);
  } catch (const boost::escaped_list_error& e) {
    fail(file, line, std::string("not a CSV row: ") + e.what());
  }
  return out;
}

std::string strip_cr(std::string s) {
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

}  // namespace

Index read_index(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) fail(file, 0, "cannot open the index");
  Index index;
  index.file = file;
  const std::string ext = file.extension().string();
  std::string text;
  int64_t line = 0;
  if (ext == ".jsonl" || ext == ".json") {
    while (std::getline(in, text)) {
      ++line;
      if (strip_cr(text).find_first_not_of(" \t") == std::string::npos) continue;
      nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) fail(file, line, "not a JSON object");
      IndexRow row{line, {}};
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.value().is_string()) row.fields[it.key()] = it.value().get<std::string>();
        else if (it.value().is_number_integer() || it.value().is_boolean()) row.fields[it.key()] = it.value().dump();
        else if (!it.value().is_null()) fail(file, line, "the value of '" + it.key() + "' is not a string, integer or boolean");
        if (index.rows.empty()) index.columns.push_back(it.key());
      }
      index.rows.push_back(std::move(row));
    }
    return index;
  }
  if (ext != ".csv") fail(file, 0, "an index is .csv (with a header row) or .jsonl (one JSON object per line)");
  while (std::getline(in, text)) {
    ++line;
    text = strip_cr(text);
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<std::string> fields = csv_fields(text, file, line);
    if (index.columns.empty()) {
      index.columns = fields;
      continue;
    }
    if (fields.size() != index.columns.size())
      fail(file, line, std::to_string(fields.size()) + " fields, the header has " + std::to_string(index.columns.size()));
    IndexRow row{line, {}};
    for (size_t i = 0; i < fields.size(); ++i) row.fields[index.columns[i]] = fields[i];
    index.rows.push_back(std::move(row));
  }
  if (index.columns.empty()) fail(file, 0, "the index is empty (a CSV index starts with a header row)");
  return index;
}

}  // namespace mmdebias::media_plugin
