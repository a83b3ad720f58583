// The annotation columns of every split, scanned and checked (see files_columns.hpp).
#include "files_columns.hpp"

#include <algorithm>

#include "npy/npy_mapping.hpp"
#include "mmdebias/sdk/data.hpp"

namespace mmdebias::data_plugin::files {
namespace {

[[noreturn]] void fail(const std::string& what) { throw sdk::DataError("data.files: " + what); }

std::string row_text(const std::string& path, int64_t row) { return path + ": row " + std::to_string(row); }

/// A 1-D integer column's values, read through a mapping of its own (released on return).
std::vector<int64_t> read_column(const npy::Array& file) {
  npy::Array a = file;  // a copy: mapping it leaves the caller's Array as it was
  a.map_data();
  std::vector<int64_t> values(static_cast<size_t>(a.rows()));
  int64_t* out = values.data();
  auto read = [&a, out, n = a.rows()]() noexcept {
    for (int64_t i = 0; i < n; ++i) out[i] = a.integer_at(i);
  };
  if (!npy::read_guarded(read)) npy::throw_changed(a.path, a.map->change());
  return values;
}

/// The largest value seen in a column, and where.
struct Largest {
  int64_t value = -1;
  const std::string* path = nullptr;
  int64_t row = -1;
};

/// Labels of in-distribution rows: each checked, the largest kept, the classes that occur marked (when derived).
class LabelScan {
 public:
  explicit LabelScan(int64_t classes) : classes_(classes) {}

  void add(const std::string& path, const std::vector<int64_t>& labels, const std::vector<int64_t>& ood) {
    for (size_t i = 0; i < labels.size(); ++i) {
      if (!ood.empty() && ood[i] != 0) continue;
      const int64_t y = labels[i], row = static_cast<int64_t>(i);
      check(path, row, y);
      if (y > largest_.value) largest_ = {y, &path, row};
      if (classes_ > 0) continue;
      if (seen_.size() <= static_cast<size_t>(y)) seen_.resize(static_cast<size_t>(y) + 1, 0);
      seen_[static_cast<size_t>(y)] = 1;
    }
  }

  /// The class count: the option, or 1 + the largest label (0 when there is none).
  int64_t classes() const { return classes_ > 0 ? classes_ : largest_.value + 1; }

  /// A warning when the count is derived and most classes have no sample; empty otherwise.
  std::string sparse_warning() const {
    if (classes_ > 0 || largest_.value < 0) return {};
    const int64_t count = classes();
    const auto empty = static_cast<int64_t>(std::count(seen_.begin(), seen_.end(), 0));
    if (2 * empty <= count) return {};
    const std::string c = std::to_string(count), k = std::to_string(count - empty);
    return "data.files: most classes have no sample: only " + k + " of the " + c +
           " classes occur in any split (num_classes is 1 + the largest label, " + std::to_string(largest_.value) +
           " in " + row_text(*largest_.path, largest_.row) + "), so the model gets " + c +
           " outputs and macro-averaged metrics count the empty classes. If the labels are ids, remap them to 0.." +
           std::to_string(count - empty - 1) + " (y = np.unique(y, return_inverse=True)[1]); if " + c +
           " classes are meant, set num_classes: " + c + " in the data section (e.g. data.num_classes=" + c + ")";
  }

 private:
  void check(const std::string& path, int64_t row, int64_t y) const {
    const std::string at = row_text(path, row) + " holds label " + std::to_string(y);
    if (y < 0)
      fail(at + "; a label is a class index >= 0 (rows flagged in ood.npy may hold any label, e.g. -1)");
    if (classes_ > 0 && y >= classes_)
      fail(at + ", outside [0, " + std::to_string(classes_) + ") (num_classes " + std::to_string(classes_) +
           "; rows flagged in ood.npy may hold any label)");
    if (classes_ == 0 && y >= kMaxClasses)
      fail(at + ": num_classes, derived as 1 + the largest label, would be " + std::to_string(y) + " + 1, above the " +
           std::to_string(kMaxClasses) + " classes data.files builds a model for. Labels are class indices 0..C-1: "
           "remap ids with y = np.unique(y, return_inverse=True)[1]");
  }

  int64_t classes_;
  Largest largest_;
  std::vector<char> seen_;  // derived counts only: seen_[c] when class c occurs
};

/// Checks the group ids of one split (against groups when given) and keeps the largest.
void scan_groups(const std::string& path, const std::vector<int64_t>& ids, int64_t groups, Largest& largest) {
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t g = ids[i], row = static_cast<int64_t>(i);
    if (g < -1 || (groups > 0 && g >= groups))
      fail(row_text(path, row) + " holds group " + std::to_string(g) + ", outside [-1, " +
           (groups > 0 ? std::to_string(groups) + ") (num_groups " + std::to_string(groups) + ")"
                       : std::string("num_groups) (ids are >= 0, or -1 for none)")));
    if (g > largest.value) largest = {g, &path, row};
  }
}

void check_environments(const std::string& path, const std::vector<int64_t>& ids) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < -1)
      fail(row_text(path, static_cast<int64_t>(i)) + " holds environment " + std::to_string(ids[i]) +
           "; ids are >= 0, or -1 for none");
}

}  // namespace

int64_t largest_value(const npy::Array& file) {
  npy::Array a = file;
  a.map_data();
  int64_t largest = -1;
  auto read = [&a, &largest, n = a.rows() * a.row_elements()]() noexcept {
    for (int64_t i = 0; i < n; ++i) largest = std::max(largest, a.integer_at(i));
  };
  if (!npy::read_guarded(read)) npy::throw_changed(a.path, a.map->change());
  return largest;
}

ColumnSummary scan_columns(const std::vector<SplitFiles>& splits, int64_t classes, int64_t groups,
                           const std::string& root) {
  LabelScan labels(classes);
  Largest group;
  for (const auto& s : splits) {
    const std::vector<int64_t> ood = s.ood ? read_column(*s.ood) : std::vector<int64_t>{};
    labels.add(s.label.path, read_column(s.label), ood);
    if (s.group) scan_groups(s.group->path, read_column(*s.group), groups, group);
    if (s.environment) check_environments(s.environment->path, read_column(*s.environment));
  }
  ColumnSummary out;
  out.num_classes = labels.classes();
  if (out.num_classes < 1) fail("no in-distribution label in any split under " + root + "; set num_classes");
  out.num_groups = groups > 0 ? groups : group.value + 1;
  if (std::string w = labels.sparse_warning(); !w.empty()) out.warnings.push_back(std::move(w));
  return out;
}

}  // namespace mmdebias::data_plugin::files
