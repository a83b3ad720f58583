#include "text_tokens.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::media_plugin {
namespace {

// BERT's BasicTokenizer, ASCII part: white space separates words; each punctuation character is a word of its own.
std::vector<std::string> words(const std::string& text, bool lowercase) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.push_back(std::move(word));
    word.clear();
  };
  for (char raw : text) {
    const auto c = static_cast<unsigned char>(raw);
    if (std::isspace(c) || std::iscntrl(c)) {
      flush();
    } else if (c < 128 && std::ispunct(c)) {
      flush();
      out.emplace_back(1, raw);
    } else {
      word += lowercase && c < 128 ? static_cast<char>(std::tolower(c)) : raw;
    }
  }
  flush();
  return out;
}

}  // namespace

Vocabulary::Vocabulary(const std::filesystem::path& file) : file_(file) {
  std::ifstream in(file);
  if (!in) throw sdk::DataError(file.string() + ": cannot open the vocabulary");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = file.string() + ":" + std::to_string(tokens_.size() + 1);
    if (line.empty()) throw sdk::DataError(where + ": an empty token (a vocabulary has one token per line)");
    if (!ids_.emplace(line, static_cast<int64_t>(tokens_.size())).second)
      throw sdk::DataError(where + ": the token '" + line + "' is already on line " + std::to_string(ids_.at(line) + 1));
    tokens_.push_back(line);
  }
  if (tokens_.size() < 2) throw sdk::DataError(file.string() + ": a vocabulary needs the padding token (line 1) and at least one more");
}

int64_t Vocabulary::id(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int64_t> Vocabulary::encode(const std::string& text, const TokenSettings& settings) const {
  auto required = [&](const char* token) {
    const int64_t v = id(token);
    if (v < 0) throw sdk::DataError(file_.string() + ": the vocabulary has no " + token + " token");
    return v;
  };
  std::vector<int64_t> out;
  if (settings.special_tokens) out.push_back(required("[CLS]"));
  for (const std::string& word : words(text, settings.lowercase)) {
    // WordPiece: the longest prefix in the vocabulary, then the longest "##" piece of the rest, ...; a word with a
    // part no piece covers is one [UNK], as BERT's.
    std::vector<int64_t> pieces;
    size_t start = 0;
    while (start < word.size()) {
      int64_t found = -1;
      size_t end = word.size();
      for (; end > start; --end) {
        found = id((start > 0 ? "##" : "") + word.substr(start, end - start));
        if (found >= 0) break;
      }
      if (found < 0) {
        pieces = {required("[UNK]")};
        break;
      }
      pieces.push_back(found);
      start = end;
    }
    out.insert(out.end(), pieces.begin(), pieces.end());
  }
  if (settings.special_tokens) {
    if (static_cast<int64_t>(out.size()) >= settings.length) out.resize(static_cast<size_t>(settings.length - 1));
    out.push_back(required("[SEP]"));
  }
  out.resize(static_cast<size_t>(settings.length), 0);
  return out;
}

std::vector<int64_t> parse_ids(const std::string& text, int64_t length, int64_t vocab_size) {
  std::istringstream in(text);
  std::vector<int64_t> out;
  std::string field;
  while (in >> field) {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(field, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != field.size() || v < 0 || v >= vocab_size)
      throw sdk::DataError("the token id '" + field + "' is not an integer in [0, " + std::to_string(vocab_size) + ")");
    if (static_cast<int64_t>(out.size()) < length) out.push_back(v);
  }
  out.resize(static_cast<size_t>(length), 0);
  return out;
}

}  // namespace mmdebias::media_plugin
