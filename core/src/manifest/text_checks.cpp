#include "manifest/text_checks.hpp"

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

// True when the quoted scalar opening at text[open] closes before the end of text.
bool quote_closes(const std::string& text, size_t open) {
  const char quote = text[open];
  for (size_t i = open + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') { ++i; continue; }  // an escape: \" does not close
    if (text[i] != quote) continue;
    if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') { ++i; continue; }  // '' is a quote inside
    return true;
  }
  return false;
}

void check_node(const std::string& text, const YAML::Node& node, const std::string& display_name) {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      check_node(text, it->first, display_name);
      check_node(text, it->second, display_name);
    }
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) check_node(text, item, display_name);
  } else if (node.IsScalar() && node.Tag() == "!" && !node.Mark().is_null()) {  // "!": quoted or block scalar
    const YAML::Mark mark = node.Mark();
    const size_t open = static_cast<size_t>(mark.pos);
    if (open < text.size() && (text[open] == '"' || text[open] == '\'') && !quote_closes(text, open))
      throw InputError(display_name + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) +
                       ": the quoted value that starts here has no closing " + text[open] +
                       ": it runs to the end of the file, swallowing every key after it");
  }
}

}  // namespace

void check_manifest_size(size_t bytes, const std::string& what) {
  if (bytes > kMaxManifestBytes)
    throw InputError(what + ": " + std::to_string(bytes) + " bytes, more than a manifest may hold (" +
                     std::to_string(kMaxManifestBytes / 1024) + " KiB); a manifest holds settings: keep data in files " +
                     "(e.g. data.files) and name them");
}

void check_quotes_closed(const std::string& text, const YAML::Node& root, const std::string& display_name) {
  check_node(text, root, display_name);
}

}  // namespace mmdebias::core
