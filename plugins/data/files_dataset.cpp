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
// Lifecycle: construction and info() read directory listings and .npy HEADERS only; the one exception is a
// number not given as an option (num_classes, num_groups, a token modality's vocabulary): info() then derives it
// once from the label / group / token files of every split (max + 1, OOD rows excluded for labels) and caches
// it. prepare() maps the served split's files read-only (checking that no file is truncated), checks labels,
// groups and environments, and computes the fingerprint. get(i) copies one row of each file out of the
// mapping, get_batch(indices) those rows into one tensor per column: no data is held in memory beyond the
// mapping, and both are safe from several threads.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "files_layout.hpp"
#include "files_npy.hpp"
#include "register.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/fingerprint.hpp"

namespace mmdebias::data_plugin {
namespace {

namespace fs = std::filesystem;
using files::SplitFiles;
using files::is_column;
using files::is_tokens;
using files::npy_names;
using files::open_split;
using files::sample_shape;

const char* kName = "data.files";
/// Above this many bytes of files in a split, the fingerprint samples the data instead of hashing all of it.
constexpr uint64_t kFullHashLimit = 256ull << 20;

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument(std::string(kName) + ": " + what); }

using sdk::Fnv1a64;

/// The options of data.files, then what read_config resolves from them.
struct Config {
  std::string root_option;               // the option root
  std::vector<std::string> modalities;   // as given; every modality file when empty, once resolved
  int64_t num_classes = 0, num_groups = 0;
  std::vector<std::string> vocab_sizes;  // "name=V"
  // Resolved by read_config.
  fs::path root;
  std::string split;
  std::vector<std::string> splits;
  std::map<std::string, int64_t> vocab;  // from vocab_sizes

  static void declare(sdk::OptionBinder<Config>& b) {
    b.required("root", &Config::root_option,
               "Directory holding one subdirectory per split (train/, test/, ...) of .npy files");
    b.option("modalities", &Config::modalities, {},
             "Modalities to serve, in this order; [] = every .npy that is not label, group, environment or ood, "
             "sorted by name");
    b.option("num_classes", &Config::num_classes, 0,
             "Number of in-distribution classes; 0 = 1 + the largest non-OOD label of every split")
        .at_least(0);
    b.option("num_groups", &Config::num_groups, 0,
             "Number of group ids; 0 = 1 + the largest id in every split's group.npy (0 without one)")
        .at_least(0);
    b.option("vocab_sizes", &Config::vocab_sizes, {},
             "Vocabulary of token modalities as name=V; a token modality not listed gets 1 + its largest id over "
             "every split");
  }
};

Config read_config(const sdk::BuildArgs& args) {
  Config c = sdk::bind<Config>(args.options);
  c.root = c.root_option;
  c.split = args.split.empty() ? "train" : args.split;
  if (c.root.empty()) fail("option root is empty; give the directory that holds one subdirectory per split");
  std::error_code ec;
  if (!fs::is_directory(c.root, ec)) fail("root '" + c.root.string() + "' is not a directory");
  for (const auto& e : fs::directory_iterator(c.root, ec))
    if (e.is_directory(ec) && !npy_names(e.path()).empty()) c.splits.push_back(e.path().filename().string());
  std::sort(c.splits.begin(), c.splits.end());
  if (std::find(c.splits.begin(), c.splits.end(), c.split) == c.splits.end()) {
    std::string have;
    for (const auto& s : c.splits) have += (have.empty() ? "" : ", ") + s;
    fail("no split '" + c.split + "' under " + c.root.string() + " (a split is a subdirectory holding .npy files; found: " +
         (have.empty() ? "none" : have) + ")");
  }
  if (c.modalities.empty()) {
    for (const auto& n : npy_names(c.root / c.split))
      if (!is_column(n)) c.modalities.push_back(n);
    if (c.modalities.empty())
      fail((c.root / c.split).string() + " holds no modality file (only " + "label/group/environment/ood columns); "
           "save one .npy per modality, e.g. np.save(\"" + (c.root / c.split / "image.npy").string() + "\", X)");
  }
  for (const auto& m : c.modalities)
    if (is_column(m)) fail("modality '" + m + "' is a reserved column name (label, group, environment, ood)");
  for (const auto& entry : c.vocab_sizes) {
    const size_t eq = entry.find('=');
    int64_t v = -1;
    if (eq != std::string::npos && eq > 0) {
      try {
        size_t used = 0;
        v = std::stoll(entry.substr(eq + 1), &used);
        if (used != entry.size() - eq - 1) v = -1;
      } catch (const std::exception&) {
        v = -1;
      }
    }
    if (v <= 0) fail("vocab_sizes entry '" + entry + "' is not of the form name=V with V >= 1");
    c.vocab[entry.substr(0, eq)] = v;
  }
  return c;
}

class FilesDataset : public sdk::Dataset {
 public:
  explicit FilesDataset(Config c) : c_(std::move(c)), files_(open_split(c_.root, c_.split, c_.modalities)) {
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
    info.num_classes = num_classes();
    info.num_groups = num_groups();
    info.splits = c_.splits;
    return info;
  }

  void prepare() override {
    std::lock_guard<std::mutex> lock(prepare_mu_);
    if (prepared_) return;
    for (auto& a : files_.modalities) a.map_data();
    files_.label.map_data();
    for (auto* col : {&files_.group, &files_.environment, &files_.ood})
      if (*col) (*col)->map_data();
    const int64_t classes = num_classes(), groups = num_groups();
    vocab_.clear();
    for (size_t m = 0; m < c_.modalities.size(); ++m)
      if (is_tokens(files_.modalities[m])) vocab_.push_back(vocab_of(c_.modalities[m]));
      else vocab_.push_back(0);
    for (int64_t i = 0; i < size(); ++i) {
      const bool ood = files_.ood && files_.ood->integer_at(i) != 0;
      const int64_t y = files_.label.integer_at(i);
      if (!ood && (y < 0 || y >= classes))
        fail(files_.label.path + ": row " + std::to_string(i) + " holds label " + std::to_string(y) +
             ", outside [0, " + std::to_string(classes) + ") (num_classes " + std::to_string(classes) +
             "; rows flagged in ood.npy may hold any label)");
      if (files_.group) {
        const int64_t g = files_.group->integer_at(i);
        if (g < -1 || g >= groups)
          fail(files_.group->path + ": row " + std::to_string(i) + " holds group " + std::to_string(g) +
               ", outside [-1, " + std::to_string(groups) + ") (num_groups " + std::to_string(groups) + ")");
      }
      if (files_.environment && files_.environment->integer_at(i) < -1)
        fail(files_.environment->path + ": row " + std::to_string(i) + " holds environment " +
             std::to_string(files_.environment->integer_at(i)) + "; ids are >= 0, or -1 for none");
    }
    fingerprint_ = digest();
    prepared_ = true;
  }

  int64_t size() const override { return files_.label.rows(); }

  sdk::Sample get(int64_t index) const override {
    require_readable("get()", {index});
    sdk::Sample s;
    for (size_t m = 0; m < c_.modalities.size(); ++m) s.inputs[c_.modalities[m]] = read_rows(m, &index, 1, {});
    s.label = files_.label.integer_at(index);
    s.group = files_.group ? files_.group->integer_at(index) : -1;
    s.environment = files_.environment ? files_.environment->integer_at(index) : -1;
    s.ood = files_.ood && files_.ood->integer_at(index) != 0;
    return s;
  }

  // A gather of rows out of the mappings: the same copies and conversions as get(), one tensor per column.
  bool get_batch(const std::vector<int64_t>& indices, sdk::Batch& batch) const override {
    require_readable("get_batch()", indices);
    const auto n = static_cast<int64_t>(indices.size());
    for (size_t m = 0; m < c_.modalities.size(); ++m) batch.inputs[c_.modalities[m]] = read_rows(m, indices.data(), n, {n});
    batch.label = at::empty({n}, at::kLong);
    batch.group = at::empty({n}, at::kLong);
    batch.environment = at::empty({n}, at::kLong);
    batch.ood = at::empty({n}, at::kBool);
    auto* label = batch.label.data_ptr<int64_t>();
    auto* group = batch.group.data_ptr<int64_t>();
    auto* env = batch.environment.data_ptr<int64_t>();
    auto* ood = batch.ood.data_ptr<bool>();
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = indices[static_cast<size_t>(k)];
      label[k] = files_.label.integer_at(i);
      group[k] = files_.group ? files_.group->integer_at(i) : -1;
      env[k] = files_.environment ? files_.environment->integer_at(i) : -1;
      ood[k] = files_.ood && files_.ood->integer_at(i) != 0;
    }
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
      for (const auto& s : c_.splits) all_.push_back(s == c_.split ? files_ : open_split(c_.root, s, c_.modalities));
    });
    return all_;
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

  /// Modality m's rows idx[0..n) copied out of the mapping into a tensor of shape lead + the sample shape,
  /// as float32 (Dense) or int64 (Tokens, every id checked against the vocabulary).
  at::Tensor read_rows(size_t m, const int64_t* idx, int64_t n, std::vector<int64_t> lead) const {
    const auto& a = files_.modalities[m];
    const auto shape = sample_shape(a);
    lead.insert(lead.end(), shape.begin(), shape.end());
    at::Tensor rows = at::empty(lead, at::TensorOptions().dtype(npy::scalar_type(a.dtype)));
    auto* dst = static_cast<unsigned char*>(rows.data_ptr());
    const size_t bytes = a.row_bytes();
    for (int64_t k = 0; k < n; ++k) std::memcpy(dst + static_cast<size_t>(k) * bytes, a.row(idx[k]), bytes);
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

  /// max + 1 of a 1-D integer array over every split (rows with skip(i) true left out); 0 when empty.
  template <class Pick, class Skip>
  int64_t derived_max(Pick pick, Skip skip_ood) const {
    int64_t best = -1;
    for (const auto& s : all_splits()) {
      const npy::Array* a = pick(s);
      if (a == nullptr) continue;
      npy::Array mapped = *a;
      mapped.map_data();
      std::optional<npy::Array> ood;
      if (skip_ood && s.ood) {
        ood = *s.ood;
        ood->map_data();
      }
      const int64_t count = mapped.rows() * mapped.row_elements();
      for (int64_t i = 0; i < count; ++i) {
        if (ood && ood->integer_at(mapped.row_elements() == 1 ? i : i / mapped.row_elements()) != 0) continue;
        int64_t v = 0;
        const unsigned char* p = mapped.map->data() + mapped.data_offset + static_cast<size_t>(i) * npy::item_size(mapped.dtype);
        if (mapped.dtype == npy::DType::I64) std::memcpy(&v, p, 8);
        else if (mapped.dtype == npy::DType::I32) { int32_t w; std::memcpy(&w, p, 4); v = w; }
        else v = *p;
        best = std::max(best, v);
      }
    }
    return best + 1;
  }

  int64_t num_classes() const {
    if (c_.num_classes > 0) return c_.num_classes;
    std::call_once(classes_once_, [&] {
      derived_classes_ = derived_max([](const SplitFiles& s) { return &s.label; }, true);
      if (derived_classes_ < 1) fail("no in-distribution label in any split under " + c_.root.string() + "; set num_classes");
    });
    return derived_classes_;
  }

  int64_t num_groups() const {
    if (c_.num_groups > 0) return c_.num_groups;
    std::call_once(groups_once_, [&] {
      derived_groups_ = derived_max([](const SplitFiles& s) { return s.group ? &*s.group : nullptr; }, false);
    });
    return derived_groups_;
  }

  int64_t vocab_of(const std::string& modality) const {
    auto it = c_.vocab.find(modality);
    if (it != c_.vocab.end()) return it->second;
    std::lock_guard<std::mutex> lock(vocab_mu_);
    auto d = derived_vocab_.find(modality);
    if (d != derived_vocab_.end()) return d->second;
    const size_t m = static_cast<size_t>(std::find(c_.modalities.begin(), c_.modalities.end(), modality) - c_.modalities.begin());
    const int64_t v = std::max<int64_t>(derived_max([&](const SplitFiles& s) { return &s.modalities[m]; }, false), 1);
    derived_vocab_[modality] = v;
    return v;
  }

  /// FNV-1a-64 over the options that shape the data and the served split's files, as 16 hex digits.
  std::string digest() const {
    Fnv1a64 f;
    f.text(kName);
    f.text(c_.split);
    for (const auto& m : c_.modalities) f.text(m);
    f.u64(static_cast<uint64_t>(num_classes()));
    f.u64(static_cast<uint64_t>(num_groups()));
    for (int64_t v : vocab_) f.u64(static_cast<uint64_t>(v));
    std::vector<const npy::Array*> arrays;
    for (const auto& a : files_.modalities) arrays.push_back(&a);
    arrays.push_back(&files_.label);
    for (const auto* col : {&files_.group, &files_.environment, &files_.ood})
      if (*col) arrays.push_back(&**col);
    uint64_t total = 0;
    for (const auto* a : arrays) total += a->map->size();
    const bool full = total <= kFullHashLimit;
    f.u64(full ? 1 : 0);
    for (const auto* a : arrays) {
      f.text(fs::path(a->path).filename().string());
      const size_t size = a->map->size();
      f.u64(size);
      if (full) {
        f.bytes(a->map->data(), size);
      } else {
        // Header, then 64 strided 4 KiB windows of the data section, then its last 4 KiB.
        f.text(a->header);
        const size_t data = size - a->data_offset, window = std::min<size_t>(4096, data);
        for (size_t k = 0; k < 64 && data > 0; ++k) f.bytes(a->map->data() + a->data_offset + (data - window) / 64 * k, window);
        f.bytes(a->map->data() + size - window, window);
      }
    }
    return f.hex();
  }

  Config c_;
  SplitFiles files_;
  std::mutex prepare_mu_;
  bool prepared_ = false;
  std::vector<int64_t> vocab_;  // per modality (0 for dense), fixed by prepare()
  std::string fingerprint_;
  mutable std::once_flag all_once_, classes_once_, groups_once_;
  mutable std::vector<SplitFiles> all_;
  mutable int64_t derived_classes_ = 0, derived_groups_ = 0;
  mutable std::mutex vocab_mu_;
  mutable std::map<std::string, int64_t> derived_vocab_;
};

std::shared_ptr<sdk::Dataset> make(const sdk::BuildArgs& args) { return std::make_shared<FilesDataset>(read_config(args)); }

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
