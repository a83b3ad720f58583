#include "manifest/diagnostics.hpp"

#include <algorithm>
#include <set>

#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {

void Diagnostics::error(const std::string& key_path, const YAML::Node& node, const std::string& what) {
  Location where = manifest_->locate(key_path, node);
  std::string text = where.text + ": " + (key_path.empty() ? "" : key_path + ": ") + what;
  entries_.push_back({where, entries_.size(), std::move(text)});
}

std::vector<std::string> Diagnostics::messages() const {
  std::vector<Entry> sorted = entries_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
    if (a.where.line != b.where.line) return a.where.line < b.where.line;
    if (a.where.column != b.where.column) return a.where.column < b.where.column;
    return a.seq < b.seq;
  });
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& e : sorted)
    if (seen.insert(e.text).second) out.push_back(e.text);
  return out;
}

void Diagnostics::throw_if_any() const {
  if (!entries_.empty()) throw InputErrors(messages());
}

}  // namespace mmdebias::core
