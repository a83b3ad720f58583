// data.files: the user's own arrays, one .npy per modality and per column, one directory per split.
//
//   ROOT/<split>/<modality>.npy   [N, ...]  <f4 <f8 <f2 |u1 |b1 -> Dense (float32); <i8 <i4 -> Tokens (int64)
//   ROOT/<split>/label.npy        [N]       integer class index (required)
//   ROOT/<split>/group.npy        [N]       integer group id, -1 = none (optional)
//   ROOT/<split>/environment.npy  [N]       integer environment id, -1 = none (optional)
//   ROOT/<split>/ood.npy          [N]       bool / integer, nonzero = out-of-distribution (optional)
//
// Splits: the subdirectories of ROOT that hold at least one .npy file. Modalities: option `modalities`, or
// every .npy of the served split that is not a column, sorted by name. See docs/files-format.md.
//
// Lifecycle: construction reads directory listings and .npy HEADERS only (a truncated file is refused from its
// size). info() scans, once, the label / group / environment / ood columns of every split (files_columns.hpp): that
// checks every value, derives the counts not given as options and finds what to warn of; a token modality's
// vocabulary not given is derived once from its files. prepare() maps the served split's files read-only and computes
// the fingerprint. get(i) copies one row of each file out of the mapping, get_batch(indices) those rows into one tensor
// per column: no data is held in memory beyond the mapping, and both are safe from several threads. Every read out of
// a mapping survives the file being cut short under it, and a batch is served only if no file changed in place before
// its rows were copied (plugins/common/npy/npy_mapping.hpp): anything else is an sdk::DataError naming the file.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "files_columns.hpp"
#include "files_config.hpp"
#include "files_digest.hpp"
#include "files_layout.hpp"
#include "npy/npy_mapping.hpp"
#include "register.hpp"
#include "mmdebias/sdk/bind.hpp"

namespace mmdebias::data_plugin {
namespace {

using files::ColumnSummary;
using files::Config;
using files::SplitFiles;
using files::is_tokens;
using files::sample_shape;

const char* kName = "data.files";

[[noreturn]] void fail(const std::string& what) { throw sdk::DataError(std::string(kName) + ": " + what); }

/// Rows of every file of a split, copied out of the mappings: each modality in its file's dtype, the columns as int64
/// (-1 for a missing group or environment file) and bool.
struct Rows {
  std::vector<at::Tensor> inputs;  // per modality: lead + the sample shape
  at::Tensor label, group, environment, ood;  // [n]
};

class FilesDataset : public sdk::Dataset {
 public:
  explicit FilesDataset(Config c) : c_(std::move(c)), files_(files::open_split(c_.root, c_.split, c_.modalities)) {
    for (const auto& [name, v] : c_.vocab) {
      (void)v;
      if (std::find(c_.modalities.begin(), c_.modalities.end(), name) == c_.modalities.end())
        fail("vocab_sizes names '" + name + "', which is not a modality of split '" + c_.split + "'");
    }
  }

  sdk::DatasetInfo info() const override {
    sdk::DatasetInfo info;
    for (size_t m = 0; m < c_.modalities.size(); ++m) {
      const auto& a = files_.modalities[m];
      sdk::ModalitySpec spec;
      spec.name = c_.modalities[m];
      spec.kind = is_tokens(a) ? sdk::InputKind::Tokens : sdk::InputKind::Dense;
      spec.shape = sample_shape(a);
      if (is_tokens(a)) spec.vocab_size = vocab_of(spec.name);
      info.modalities.push_back(std::move(spec));
    }
    const ColumnSummary& columns = this->columns();
    info.num_classes = columns.num_classes;
    info.num_groups = columns.num_groups;
    info.splits = c_.splits;
    info.warnings = columns.warnings;
    return info;
  }

  void prepare() override {
    std::lock_guard<std::mutex> lock(prepare_mu_);
    if (prepared_) return;
    const ColumnSummary& columns = this->columns();  // checks every label, group and environment
    for (auto& a : files_.modalities) a.map_data();
    files_.label.map_data();
    for (auto* col : {&files_.group, &files_.environment, &files_.ood})
      if (*col) (*col)->map_data();
    vocab_.clear();
    for (size_t m = 0; m < c_.modalities.size(); ++m)
      vocab_.push_back(is_tokens(files_.modalities[m]) ? vocab_of(c_.modalities[m]) : 0);
    fingerprint_ = files::split_digest(c_, files_, columns.num_classes, columns.num_groups, vocab_);
    prepared_ = true;
  }

  int64_t size() const override { return files_.label.rows(); }

  sdk::Sample get(int64_t index) const override {
    require_readable("get()", {index});
    Rows rows = copy_rows(&index, 1, {});
    sdk::Sample s;
    for (size_t m = 0; m < c_.modalities.size(); ++m)
      s.inputs[c_.modalities[m]] = served(m, std::move(rows.inputs[m]), &index);
    s.label = rows.label.item<int64_t>();
    s.group = rows.group.item<int64_t>();
    s.environment = rows.environment.item<int64_t>();
    s.ood = rows.ood.item<bool>();
    return s;
  }

  // The same copies and conversions as get(), one tensor per column.
  bool get_batch(const std::vector<int64_t>& indices, sdk::Batch& batch) const override {
    require_readable("get_batch()", indices);
    const auto n = static_cast<int64_t>(indices.size());
    Rows rows = copy_rows(indices.data(), n, {n});
    for (size_t m = 0; m < c_.modalities.size(); ++m)
      batch.inputs[c_.modalities[m]] = served(m, std::move(rows.inputs[m]), indices.data());
    batch.label = std::move(rows.label);
    batch.group = std::move(rows.group);
    batch.environment = std::move(rows.environment);
    batch.ood = std::move(rows.ood);
    return true;
  }

  std::string fingerprint() const override {
    if (!prepared_)
      throw std::logic_error(std::string(kName) + ": fingerprint() called before prepare() (it hashes the files)");
    return fingerprint_;
  }

 private:
  /// Every split's files (headers only); the served split's are files_.
  const std::vector<SplitFiles>& all_splits() const {
    std::call_once(all_once_, [&] {
      for (const auto& s : c_.splits)
        all_.push_back(s == c_.split ? files_ : files::open_split(c_.root, s, c_.modalities));
    });
    return all_;
  }

  /// The columns of every split, scanned and checked once.
  const ColumnSummary& columns() const {
    std::call_once(columns_once_, [&] {
      columns_ = files::scan_columns(all_splits(), c_.num_classes, c_.num_groups, c_.root.string());
    });
    return columns_;
  }

  /// Throws unless prepare() has run and every index is inside the split; what names the caller.
  void require_readable(const char* what, const std::vector<int64_t>& indices) const {
    if (!prepared_)
      throw std::logic_error(std::string(kName) + ": " + what + " called before prepare() (prepare() maps the files)");
    for (int64_t index : indices)
      if (index < 0 || index >= size())
        throw std::out_of_range(std::string(kName) + ": index " + std::to_string(index) + " is outside split '" +
                                c_.split + "' of size " + std::to_string(size()));
  }

  /// Rows idx[0..n) of every file, copied out of the mappings in one guarded read (lead: the inputs' leading shape),
  /// then the files checked: none may have changed on disk before the copy ended.
  Rows copy_rows(const int64_t* idx, int64_t n, const std::vector<int64_t>& lead) const {
    Rows rows;
    std::vector<unsigned char*> dst;
    for (const auto& a : files_.modalities) {
      std::vector<int64_t> shape = lead;
      const auto sample = sample_shape(a);
      shape.insert(shape.end(), sample.begin(), sample.end());
      rows.inputs.push_back(at::empty(shape, at::TensorOptions().dtype(npy::scalar_type(a.dtype))));
      dst.push_back(static_cast<unsigned char*>(rows.inputs.back().data_ptr()));
    }
    rows.label = at::empty({n}, at::kLong);
    rows.group = at::empty({n}, at::kLong);
    rows.environment = at::empty({n}, at::kLong);
    rows.ood = at::empty({n}, at::kBool);
    int64_t* label = rows.label.data_ptr<int64_t>();
    int64_t* group = rows.group.data_ptr<int64_t>();
    int64_t* env = rows.environment.data_ptr<int64_t>();
    bool* ood = rows.ood.data_ptr<bool>();
    const SplitFiles& f = files_;
    auto copy = [&]() noexcept {
      for (size_t m = 0; m < f.modalities.size(); ++m) {
        const size_t bytes = f.modalities[m].row_bytes();
        for (int64_t k = 0; k < n; ++k) std::memcpy(dst[m] + static_cast<size_t>(k) * bytes, f.modalities[m].row(idx[k]), bytes);
      }
      for (int64_t k = 0; k < n; ++k) {
        label[k] = f.label.integer_at(idx[k]);
        group[k] = f.group ? f.group->integer_at(idx[k]) : -1;
        env[k] = f.environment ? f.environment->integer_at(idx[k]) : -1;
        ood[k] = f.ood && f.ood->integer_at(idx[k]) != 0;
      }
    };
    const bool whole = npy::read_guarded(copy);
    throw_if_changed(whole);
    return rows;
  }

  /// Throws naming the first file of the split that changed on disk since it was mapped; when a read faulted (read is
  /// false), throws even if every file looks as it was again (cut short, then rewritten to the same size). The mapped
  /// files are looked at every time (an fstat each: a change in place is what alters the rows served); whether a path
  /// names another file, at most once a second (a stat each), since the mapping keeps serving the file it mapped.
  void throw_if_changed(bool read) const {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto due = next_path_check_.load(std::memory_order_relaxed);
    const bool paths = now >= due && next_path_check_.compare_exchange_strong(
                                         due, now + std::chrono::steady_clock::duration(std::chrono::seconds(1)).count());
    auto check = [paths](const npy::Array& a) {
      if (std::string what = a.map->change(paths); !what.empty()) npy::throw_changed(a.path, what);
    };
    for (const auto& a : files_.modalities) check(a);
    check(files_.label);
    for (const auto* col : {&files_.group, &files_.environment, &files_.ood})
      if (*col) check(**col);
    if (!read) npy::throw_changed((c_.root / c_.split).string() + "/*.npy", "");
  }

  /// Modality m's copied rows as served: float32 (Dense), or int64 with every id checked against the vocabulary
  /// (Tokens). idx names the rows in a message.
  at::Tensor served(size_t m, at::Tensor rows, const int64_t* idx) const {
    const auto& a = files_.modalities[m];
    if (!is_tokens(a)) return rows.to(at::kFloat);
    rows = rows.to(at::kLong);
    const auto* ids = rows.data_ptr<int64_t>();
    const int64_t per_row = a.row_elements();
    for (int64_t t = 0; t < rows.numel(); ++t)
      if (ids[t] < 0 || ids[t] >= vocab_[m])
        fail(a.path + ": row " + std::to_string(idx[t / per_row]) + " holds token id " + std::to_string(ids[t]) +
             ", outside [0, " + std::to_string(vocab_[m]) + ") (vocabulary of '" + c_.modalities[m] + "')");
    return rows;
  }

  int64_t vocab_of(const std::string& modality) const {
    auto it = c_.vocab.find(modality);
    if (it != c_.vocab.end()) return it->second;
    std::lock_guard<std::mutex> lock(vocab_mu_);
    auto d = derived_vocab_.find(modality);
    if (d != derived_vocab_.end()) return d->second;
    const auto m = static_cast<size_t>(std::find(c_.modalities.begin(), c_.modalities.end(), modality) - c_.modalities.begin());
    int64_t largest = -1;
    for (const auto& s : all_splits()) largest = std::max(largest, files::largest_value(s.modalities[m]));
    const int64_t v = std::max<int64_t>(largest + 1, 1);
    derived_vocab_[modality] = v;
    return v;
  }

  Config c_;
  SplitFiles files_;
  std::mutex prepare_mu_;
  bool prepared_ = false;
  std::vector<int64_t> vocab_;  // per modality (0 for dense), fixed by prepare()
  std::string fingerprint_;
  mutable std::once_flag all_once_, columns_once_;
  mutable std::vector<SplitFiles> all_;
  mutable ColumnSummary columns_;
  mutable std::atomic<int64_t> next_path_check_{0};  // steady_clock ticks; see throw_if_changed
  mutable std::mutex vocab_mu_;
  mutable std::map<std::string, int64_t> derived_vocab_;
};

std::shared_ptr<sdk::Dataset> make(const sdk::BuildArgs& args) { return std::make_shared<FilesDataset>(files::read_config(args)); }

}  // namespace

void register_files(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "files";
  d.doc = "Your own arrays: ROOT/<split>/<modality>.npy plus label.npy (and optional group, environment, ood "
          ".npy), memory-mapped; see docs/files-format.md";
  d.schema = sdk::schema_of<Config>();
  r.add_dataset(std::move(d), make);
}

}  // namespace mmdebias::data_plugin
