#include "common/text.hpp"

#include <algorithm>
#include <cctype>

namespace mmdebias::core {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute = diagonal + (std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string nearest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = edit_distance(name, c);
    // A prefix relation ("mlp" vs "std.mlp") counts as close too.
    bool affix = c.size() > name.size() && (c.compare(c.size() - name.size(), name.size(), name) == 0);
    if (affix) d = std::min(d, size_t{1});
    if (d < best_distance) best_distance = d, best = c;
  }
  // Allow about one typo per three characters, at least one.
  size_t budget = std::max<size_t>(1, (name.size() + 2) / 3);
  return best_distance <= budget ? best : "";
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  std::string n = nearest_name(name, candidates);
  return n.empty() ? "" : "; did you mean '" + n + "'?";
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string excerpt(const std::string& text, size_t limit) {
  std::string out;
  size_t shown = 0;
  for (unsigned char c : text) {
    if (shown >= limit) return out + "... (" + std::to_string(text.size()) + " bytes)";
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
    }
    ++shown;
  }
  return out;
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/=,:+-") == std::string::npos) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace mmdebias::core
