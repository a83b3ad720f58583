// std.gaussian: a synthetic k-modality Gaussian dataset whose Bayes-optimal answers are known in closed form.
//
// Sample of true class y (class means mu_c in R^dim drawn once from the data seed, SHARED by all modalities):
//   x_m = mu_y + sigma_m * eps,  eps ~ N(0, I)            for every modality m = 0 .. modalities-1.
// Modalities are independent given y, so for a logistic model summing one linear map per modality the
// optimal weights are w_m = (mu_1 - mu_0) / sigma_m^2 (two classes): ||w_1|| / ||w_2|| = sigma_2^2 / sigma_1^2.
//
// Class means: for classes > 2, mu_c ~ N(0, separation^2 / dim * I) i.i.d. (||mu_c|| ~ separation whatever
// dim, mean pairwise distance ~ sqrt(2) * separation); for classes = 2, mu_0 = -mu_1 with
// mu_1 ~ N(0, separation^2 / (2 dim) * I) (same pairwise distance, and the two-class theory is exact).
//
// Spurious attribute (spurious = true): modality spurious_modality gets classes_id extra trailing dims holding
// one_hot(b) * spurious_scale + N(0, 0.1^2), where b = y with probability rho (rho_train in train/val, rho_test
// in test) and otherwise a uniformly drawn OTHER in-distribution class. Group = label * 2 + (b == label).
// Without it, group = label. OOD samples have label = group = -1 and a uniformly drawn b.
//
// Held-out classes: the last ood_classes classes never appear in train/val; the test split holds test_size
// in-distribution samples plus round(ood_fraction * test_size) samples of the held-out classes, flagged ood.
//
// Labels are balanced (true class = index % classes_id, held-out class = classes_id + index % ood_classes)
// and the split is then shuffled by the split's generator, so ID and OOD samples are interleaved.
//
// Seeds: data seed = option seed, or BuildArgs::seed when it is -1. Every draw uses a CPU at::Generator seeded
// through FNV-1a-64 (stable across platforms and runs, unlike std::hash) of (data seed, purpose): purpose
// "means" for the class means (independent of the split) and "split:<name>" for the split's samples.
//
// Lifecycle: construction and info() only read options. size() is known from the options and works before
// prepare(); get() and fingerprint() throw std::logic_error before prepare(). prepare() generates the whole
// split vectorised (idempotent); get(i) only slices the stored tensors, so it is safe from several threads.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "common.hpp"
#include "register.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/fingerprint.hpp"
#include "mmdebias/sdk/tensor_dataset.hpp"

namespace mmdebias::std_plugin {
namespace {

const char* kName = "std.gaussian";
const std::vector<std::string> kSplits = {"train", "val", "test"};

using sdk::Fnv1a64;

/// A CPU generator for one purpose of one data seed. ATen's mt19937 keeps 32 seed bits, so the 64-bit digest
/// is folded (xor of its halves) rather than truncated.
at::Generator generator_for(uint64_t data_seed, const std::string& purpose) {
  Fnv1a64 f;
  f.text("mmdebias.std.gaussian");
  f.u64(data_seed);
  f.text(purpose);
  return at::detail::createCPUGenerator((f.h ^ (f.h >> 32)) & 0xffffffffull);
}

/// The options, checked and resolved (noise broadcast, data seed chosen).
struct Config {
  int64_t modalities = 0, dim = 0, classes = 0;
  std::vector<double> noise;  // as given, then one value per modality
  double separation = 0;
  bool spurious = false;
  int64_t spurious_modality = 0;
  double spurious_scale = 0, rho_train = 0, rho_test = 0;
  int64_t ood_classes = 0, train_size = 0, val_size = 0, test_size = 0;
  double ood_fraction = 0;
  int64_t seed = 0;
  // Resolved after binding.
  int64_t classes_id = 0;
  uint64_t data_seed = 0;
  std::string split;

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("modalities", &Config::modalities, 2, "Number of modalities m0, m1, ...").range(1, 16);
    b.option("dim", &Config::dim, 8, "Width of each modality's class-mean signal").at_least(1);
    b.option("classes", &Config::classes, 4, "Total number of classes, held-out OOD classes included").at_least(2);
    b.option("noise", &Config::noise, {1.0, 2.0}, "Noise std sigma_m per modality (one value applies to every modality)")
        .at_least(0.0);
    b.option("separation", &Config::separation, 2.0,
             "Scale of the class means: mu_c ~ N(0, separation^2/dim I) (2 classes: mu_0 = -mu_1)")
        .at_least(0.0);
    b.option("spurious", &Config::spurious, false, "Add a spurious one-hot attribute to one modality, correlated with the label");
    b.option("spurious_modality", &Config::spurious_modality, 0, "Index of the modality that carries the spurious attribute")
        .at_least(0);
    b.option("spurious_scale", &Config::spurious_scale, 1.0, "Magnitude of the spurious one-hot (plus N(0, 0.1^2) noise)")
        .at_least(0.0);
    b.option("rho_train", &Config::rho_train, 0.9, "P(spurious attribute = label) in the train and val splits").range(0.0, 1.0);
    b.option("rho_test", &Config::rho_test, 0.1, "P(spurious attribute = label) in the test split").range(0.0, 1.0);
    b.option("ood_classes", &Config::ood_classes, 0,
             "The last ood_classes classes are held out and appear only as OOD in test")
        .at_least(0);
    b.option("train_size", &Config::train_size, 2000, "Samples in the train split").at_least(0);
    b.option("val_size", &Config::val_size, 500, "Samples in the val split").at_least(0);
    b.option("test_size", &Config::test_size, 1000, "In-distribution samples in the test split (OOD samples come on top)")
        .at_least(0);
    b.option("ood_fraction", &Config::ood_fraction, 0.5, "OOD samples added to test, as a fraction of test_size").at_least(0.0);
    b.option("seed", &Config::seed, -1, "Data seed; -1 uses the run seed").at_least(-1);
  }

  int64_t id_count() const { return split == "train" ? train_size : split == "val" ? val_size : test_size; }
  int64_t ood_count() const {
    return (split == "test" && ood_classes > 0) ? static_cast<int64_t>(std::llround(ood_fraction * test_size)) : 0;
  }
  double rho() const { return split == "test" ? rho_test : rho_train; }
  int64_t width(int64_t m) const { return dim + ((spurious && m == spurious_modality) ? classes_id : 0); }
};

Config read_config(const sdk::BuildArgs& args) {
  Config c = sdk::bind<Config>(args.options);
  c.classes_id = c.classes - c.ood_classes;
  c.data_seed = c.seed == -1 ? args.seed : static_cast<uint64_t>(c.seed);
  c.split = args.split.empty() ? "train" : args.split;

  const std::string who = std::string(kName) + ": ";
  if (c.noise.size() == 1) {
    c.noise.assign(static_cast<size_t>(c.modalities), c.noise[0]);
  } else if (static_cast<int64_t>(c.noise.size()) != c.modalities) {
    throw std::invalid_argument(who + "noise has " + std::to_string(c.noise.size()) + " values but modalities is " +
                                std::to_string(c.modalities) +
                                "; give one value (used for every modality) or one per modality");
  }
  if (c.classes_id < 2)
    throw std::invalid_argument(who + "classes " + std::to_string(c.classes) + " with ood_classes " +
                                std::to_string(c.ood_classes) + " leaves " + std::to_string(c.classes_id) +
                                " in-distribution classes; at least 2 are needed");
  if (c.spurious && c.spurious_modality >= c.modalities)
    throw std::invalid_argument(who + "spurious_modality " + std::to_string(c.spurious_modality) +
                                " does not exist: modalities is " + std::to_string(c.modalities) + " (m0 .. m" +
                                std::to_string(c.modalities - 1) + ")");
  bool known = false;
  for (const auto& s : kSplits) known = known || s == c.split;
  if (!known)
    throw std::invalid_argument(who + "no split '" + c.split + "'; its splits: train, val, test");
  return c;
}

class GaussianDataset : public sdk::TensorDataset {
 public:
  explicit GaussianDataset(Config c) : TensorDataset(kName, c.split), c_(std::move(c)) {}

  sdk::DatasetInfo info() const override {
    sdk::DatasetInfo info;
    for (int64_t m = 0; m < c_.modalities; ++m) {
      sdk::ModalitySpec spec;
      spec.name = "m" + std::to_string(m);
      spec.kind = sdk::InputKind::Dense;
      spec.shape = {c_.width(m)};
      info.modalities.push_back(std::move(spec));
    }
    info.num_classes = c_.classes_id;
    info.num_groups = c_.spurious ? 2 * c_.classes_id : c_.classes_id;
    info.splits = kSplits;
    return info;
  }

  /// Known from the options, so it works before prepare().
  int64_t size() const override { return c_.id_count() + c_.ood_count(); }

 private:
  /// Class means [classes, dim] from the data seed alone (the same for every split).
  at::Tensor class_means() const {
    auto gen = generator_for(c_.data_seed, "means");
    const auto f = at::TensorOptions().dtype(at::kFloat);
    if (c_.classes == 2) {
      at::Tensor mu1 = at::randn({1, c_.dim}, gen, f) * (c_.separation / std::sqrt(2.0 * c_.dim));
      return at::cat({-mu1, mu1}, 0);
    }
    return at::randn({c_.classes, c_.dim}, gen, f) * (c_.separation / std::sqrt(static_cast<double>(c_.dim)));
  }

  void generate() {
    const at::Tensor means = class_means();
    auto gen = generator_for(c_.data_seed, "split:" + c_.split);
    const auto f = at::TensorOptions().dtype(at::kFloat);
    const auto l = at::TensorOptions().dtype(at::kLong);
    const int64_t n_id = c_.id_count(), n_ood = c_.ood_count(), n = n_id + n_ood;

    // Balanced true classes (held-out ones after the ID ones), then one shuffle of the whole split.
    at::Tensor y = at::arange(n_id, l).remainder(c_.classes_id);
    if (n_ood > 0) y = at::cat({y, at::arange(n_ood, l).remainder(c_.ood_classes) + c_.classes_id});
    y = y.index_select(0, at::randperm(n, gen, l));
    const at::Tensor ood = y >= c_.classes_id;

    x_.clear();
    for (int64_t m = 0; m < c_.modalities; ++m)
      x_.push_back(means.index_select(0, y) + at::randn({n, c_.dim}, gen, f) * c_.noise[static_cast<size_t>(m)]);

    at::Tensor label = at::where(ood, at::full({n}, -1, l), y);
    at::Tensor group = label.clone();
    if (c_.spurious) {
      const int64_t k = c_.classes_id;
      // b = y with probability rho, else one of the k - 1 other classes uniformly; OOD samples: uniform.
      at::Tensor agree = at::bernoulli(at::full({n}, c_.rho(), f), gen).to(at::kBool);
      at::Tensor other = (y + 1 + at::randint(0, k - 1, {n}, gen, l)).remainder(k);
      at::Tensor uniform = at::randint(0, k, {n}, gen, l);
      at::Tensor b = at::where(ood, uniform, at::where(agree, y, other));
      at::Tensor extra = at::one_hot(b, k).to(at::kFloat) * c_.spurious_scale + at::randn({n, k}, gen, f) * 0.1;
      auto& xs = x_[static_cast<size_t>(c_.spurious_modality)];
      xs = at::cat({xs, extra}, 1);
      group = at::where(ood, label, label * 2 + (b == label).to(at::kLong));
    }
    for (auto& x : x_) x = x.contiguous();
    label_ = label.contiguous();
    group_ = group.contiguous();
    ood_ = ood.contiguous();
  }

  /// FNV-1a-64 of the resolved options and of every generated tensor's bytes, as 16 hex digits.
  std::string digest() const {
    Fnv1a64 f;
    f.text(kName);
    f.text(c_.split);
    for (int64_t v : {c_.modalities, c_.dim, c_.classes, c_.ood_classes, c_.spurious_modality, c_.train_size,
                      c_.val_size, c_.test_size, static_cast<int64_t>(c_.spurious)})
      f.u64(static_cast<uint64_t>(v));
    auto real = [&](double d) {
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      f.u64(bits);
    };
    for (double v : c_.noise) real(v);
    for (double v : {c_.separation, c_.spurious_scale, c_.rho_train, c_.rho_test, c_.ood_fraction}) real(v);
    f.u64(c_.data_seed);
    auto tensor = [&](const at::Tensor& t) { f.bytes(t.data_ptr(), static_cast<size_t>(t.nbytes())); };
    for (const auto& x : x_) tensor(x);
    tensor(label_);
    tensor(group_);
    tensor(ood_);
    return f.hex();
  }

  std::string load(Columns& columns) override {
    generate();
    std::string digest_hex = digest();
    for (size_t m = 0; m < x_.size(); ++m) columns.inputs["m" + std::to_string(m)] = std::move(x_[m]);
    columns.label = std::move(label_);
    columns.group = std::move(group_);
    columns.ood = std::move(ood_);
    x_.clear();
    return digest_hex;
  }

  Config c_;
  // Filled by generate(), digested, then handed to the base's columns.
  std::vector<at::Tensor> x_;  // per modality [n, width]
  at::Tensor label_, group_, ood_;
};

std::shared_ptr<sdk::Dataset> make(const sdk::BuildArgs& args) {
  return std::make_shared<GaussianDataset>(read_config(args));
}

}  // namespace

void register_gaussian_dataset(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "gaussian";
  d.doc = "Synthetic k-modality Gaussians x_m = mu_y + sigma_m * eps (shared class means), with an optional "
          "spurious attribute and held-out OOD classes; Bayes-optimal answers known in closed form";
  d.schema = sdk::schema_of<Config>();
  d.provides = {sdk::capability::kGroups};
  r.add_dataset(std::move(d), make);
}

}  // namespace mmdebias::std_plugin
