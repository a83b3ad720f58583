// Text to token ids with a vocabulary file, as BERT's tokenizer does it (the vocab.txt format: one token per line, its
// id the line number, "##" marking a word's continuation pieces): lower-cased (optional), split at white space and
// punctuation, each word cut into the longest pieces the vocabulary has (WordPiece), an unknown word as [UNK]. A plain
// word list works the same way (whole words match). Pre-tokenised ids ("101 2023 102") are read as they are.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace mmdebias::media_plugin {

/// How text becomes a fixed-length row of ids (0 pads: line 0 of the vocabulary should be the padding token).
struct TokenSettings {
  int64_t length = 64;          ///< Ids per sample: longer text is cut, shorter padded with 0.
  bool lowercase = true;        ///< Lower-case ASCII letters first (BERT's uncased vocabularies).
  bool special_tokens = false;  ///< [CLS] first and [SEP] last (within length), as BERT's inputs.
};

/// A vocabulary file read whole.
class Vocabulary {
 public:
  /// Reads file (one token per line); throws sdk::DataError naming the file and line on an empty or repeated token.
  explicit Vocabulary(const std::filesystem::path& file);
  /// Number of ids (lines).
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  /// text's ids, length settings.length. Throws sdk::DataError when a word is unknown and the vocabulary has no [UNK],
  /// or special_tokens is set and it lacks [CLS] or [SEP].
  std::vector<int64_t> encode(const std::string& text, const TokenSettings& settings) const;

 private:
  int64_t id(const std::string& token) const;  // -1 when absent
  std::filesystem::path file_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
};

/// Space-separated ids ("101 2023 102") cut or padded with 0 to length; throws sdk::DataError on a value that is not an
/// integer in [0, vocab_size).
std::vector<int64_t> parse_ids(const std::string& text, int64_t length, int64_t vocab_size);

}  // namespace mmdebias::media_plugin
