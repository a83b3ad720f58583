// Small text helpers for messages: nearest-name suggestions and joining.
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

}  // namespace mmdebias::core
