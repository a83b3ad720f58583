// Small text helpers for messages: nearest-name suggestions, joining, safe excerpts.
#pragma once

#include <string>
#include <vector>

namespace mmdebias::core {

/// Levenshtein edit distance between a and b.
size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to name, or "" when none is close enough to be a plausible typo.
std::string nearest_name(const std::string& name, const std::vector<std::string>& candidates);

/// "; did you mean 'x'?" when a close candidate exists, else "".
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

/// Joins items with sep.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

/// text made safe to echo in a message: printable ASCII kept, other bytes as \xNN, cut after limit
/// characters with "... (N bytes)" (a corrupt or hostile file must not flood or garble the terminal).
std::string excerpt(const std::string& text, size_t limit = 80);

/// A word as a POSIX shell reads it back: as it is when it holds only safe characters, else in single quotes.
std::string shell_quote(const std::string& word);

}  // namespace mmdebias::core
