// data.fashion_captions: Fashion-MNIST images (Debian's dataset-fashion-mnist) paired with templated captions
// made from the label, with a spurious "brand" token and held-out classes as OOD.
//
// Modalities: "image" Dense [1, 28, 28] float in [0, 1]; "text" Tokens [caption_length] int64, 0 = padding.
//
// Image: pixel / 255, then (image_noise > 0) + N(0, image_noise^2) clamped to [0, 1], then (occlusion > 0) a
// zero square of side round(occlusion * 28) at a uniformly drawn position, drawn per sample.
//
// Caption: [prefix fillers..., class word, suffix fillers..., "brand", brand_b], padded with 0. The class word
// is a uniformly drawn synonym of the sample's true class with probability 1 - caption_noise, otherwise a
// uniformly drawn synonym of a uniformly drawn IN-DISTRIBUTION class (so held-out words never reach train/val).
// When caption_length is too short for the drawn template, the fillers are dropped ([word, "brand", brand_b]).
// Token ids (a stable contract the tests rely on):
//   0 padding; 1..7 the fillers a, photo, of, the, nice, item, brand;
//   8 + 3c + s synonym s (0..2) of ORIGINAL Fashion-MNIST class c (0..9, held-out classes included);
//   38 + b brand_b for in-distribution class b (0..C_id-1).          vocab_size = 38 + C_id.
//
// Spurious attribute b: equals the (re-indexed) label with probability rho_train in train/val, rho_test in test,
// otherwise a uniformly drawn OTHER in-distribution class; OOD samples get a uniform b. Group =
// label * 2 + (b == label), num_groups = 2 * C_id; OOD samples have label = group = -1 and ood = true.
//
// Held-out classes (ood_classes, original indices) never appear in train/val; the remaining classes are
// re-indexed 0..C_id-1 in their original order (class_names follow).
//
// Splits: the 60k train file is shuffled once by the data seed (purpose "shuffle:train"), its held-out-class
// images dropped; "val" is the first val_size of that order and "train" the next train_size (0 = all the rest),
// so the two are disjoint. "test" is the first test_size (0 = all) of the 10k t10k file shuffled by
// "shuffle:test", held-out classes included (flagged OOD).
//
// Seeds: data seed = option seed, or BuildArgs::seed when it is -1; each draw uses a CPU at::Generator seeded by
// FNV-1a-64 of (data seed, purpose), "split:<name>" for the captions, spurious attribute and corruption.
//
// Lifecycle: construction and info() read only the options (no file is touched); prepare() decodes the one
// idx pair the split needs (cached in memory for the process, never written to disk) and builds the whole split
// vectorised (idempotent); size(), get() and fingerprint() need prepare(); get() slices stored tensors and is
// safe from several threads.
#include <algorithm>
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

#include "fashion_captions_idx.hpp"
#include "register.hpp"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/fingerprint.hpp"
#include "mmdebias/sdk/tensor_dataset.hpp"

namespace mmdebias::data_plugin {
namespace {

const char* kName = "data.fashion_captions";
const std::vector<std::string> kSplits = {"train", "val", "test"};
constexpr int64_t kClasses = 10, kSide = 28, kSynonyms = 3, kFillers = 7;
constexpr int64_t kFirstSynonym = 1 + kFillers, kFirstBrand = kFirstSynonym + kClasses * kSynonyms;
constexpr int64_t kBrandWord = 7;  // "brand"
const char* kMissingHint =
    "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), or set root to a "
    "directory holding the Fashion-MNIST idx .gz files";
const std::vector<std::string> kClassNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
// Filler ids: 1 a, 2 photo, 3 of, 4 the, 5 nice, 6 item (7 brand). Synonyms per class, in id order (documented):
// tshirt top tee | trousers pants jeans | pullover sweater jumper | dress gown frock | coat jacket parka |
// sandal flipflop espadrille | shirt blouse buttondown | sneaker trainer runner | bag handbag purse |
// boot ankleboot bootie.
const std::vector<std::vector<int64_t>> kPrefixes = {{}, {1}, {4}, {1, 2, 3, 1}, {2, 3, 4}, {1, 5}, {4, 5}};
const std::vector<std::vector<int64_t>> kSuffixes = {{}, {6}, {5, 6}};

using sdk::Fnv1a64;

/// A CPU generator for one purpose of one data seed (the 64-bit digest folded to ATen's 32 seed bits).
at::Generator generator_for(uint64_t data_seed, const std::string& purpose) {
  Fnv1a64 f;
  f.text(kName);
  f.u64(data_seed);
  f.text(purpose);
  return at::detail::createCPUGenerator((f.h ^ (f.h >> 32)) & 0xffffffffull);
}

/// The options, checked and resolved.
struct Config {
  std::string root;  // without trailing '/' once resolved
  int64_t train_size = 0, val_size = 0, test_size = 0;
  std::vector<int64_t> ood_classes;  // original indices; sorted once resolved
  double rho_train = 0, rho_test = 0, caption_noise = 0;
  int64_t caption_length = 0;
  double image_noise = 0, occlusion = 0;
  int64_t seed = 0;
  // Resolved by read_config.
  std::string split;
  uint64_t data_seed = 0;
  std::vector<int64_t> to_id;        // original class -> re-indexed class, -1 when held out
  std::vector<int64_t> id_classes;   // re-indexed class -> original class

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("root", &Config::root, "/usr/share/datasets/fashion-mnist",
             "Directory of the idx files {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz");
    b.option("train_size", &Config::train_size, 10000,
             "Train samples, from the 60k train file after a seeded shuffle; 0 = all after val")
        .at_least(0);
    b.option("val_size", &Config::val_size, 2000, "Validation samples, from the train file, disjoint from train").at_least(0);
    b.option("test_size", &Config::test_size, 2000, "Test samples, from the 10k t10k file (held-out classes included); 0 = all")
        .at_least(0);
    b.option("ood_classes", &Config::ood_classes, {},
             "Fashion-MNIST classes (0..9) held out: never in train/val, OOD in test")
        .range(0, kClasses - 1);
    b.option("rho_train", &Config::rho_train, 0.9, "P(brand token = class) in the train and val splits").range(0.0, 1.0);
    b.option("rho_test", &Config::rho_test, 0.1, "P(brand token = class) in the test split").range(0.0, 1.0);
    b.option("caption_noise", &Config::caption_noise, 0.2,
             "P(the caption's class word is a synonym of a random class): how uninformative the text is")
        .range(0.0, 1.0);
    b.option("caption_length", &Config::caption_length, 12, "Caption length T in tokens (padded with 0)").range(3, 1024);
    b.option("image_noise", &Config::image_noise, 0.0, "Std of Gaussian noise added to the image (then clamped to [0, 1])")
        .at_least(0.0);
    b.option("occlusion", &Config::occlusion, 0.0,
             "Side of a zero square at a random position, as a fraction of the image side")
        .range(0.0, 1.0);
    b.option("seed", &Config::seed, -1, "Data seed; -1 uses the run seed").at_least(-1);
  }

  int64_t classes_id() const { return static_cast<int64_t>(id_classes.size()); }
  double rho() const { return split == "test" ? rho_test : rho_train; }
  std::string file(const std::string& stem) const { return root + "/" + stem + ".gz"; }
};

Config read_config(const sdk::BuildArgs& args) {
  const std::string who = std::string(kName) + ": ";
  Config c = sdk::bind<Config>(args.options);
  while (c.root.size() > 1 && c.root.back() == '/') c.root.pop_back();
  c.data_seed = c.seed == -1 ? args.seed : static_cast<uint64_t>(c.seed);
  c.split = args.split.empty() ? "train" : args.split;
  std::sort(c.ood_classes.begin(), c.ood_classes.end());
  for (size_t i = 0; i < c.ood_classes.size(); ++i) {
    const int64_t k = c.ood_classes[i];
    if (k < 0 || k >= kClasses)
      throw std::invalid_argument(who + "ood_classes holds " + std::to_string(k) + "; classes are 0..9");
    if (i > 0 && c.ood_classes[i - 1] == k)
      throw std::invalid_argument(who + "ood_classes holds " + std::to_string(k) + " twice");
  }
  c.to_id.assign(kClasses, -1);
  for (int64_t k = 0; k < kClasses; ++k)
    if (!std::binary_search(c.ood_classes.begin(), c.ood_classes.end(), k)) {
      c.to_id[static_cast<size_t>(k)] = c.classes_id();
      c.id_classes.push_back(k);
    }
  if (c.classes_id() < 2)
    throw std::invalid_argument(who + "ood_classes holds " + std::to_string(c.ood_classes.size()) +
                                " of the 10 classes, leaving " + std::to_string(c.classes_id()) +
                                " in-distribution; at least 2 are needed");
  if (std::find(kSplits.begin(), kSplits.end(), c.split) == kSplits.end())
    throw std::invalid_argument(who + "no split '" + c.split + "'; its splits: train, val, test");
  return c;
}

class FashionCaptions : public sdk::TensorDataset {
 public:
  explicit FashionCaptions(Config c) : TensorDataset(kName, c.split), c_(std::move(c)) {}

  sdk::DatasetInfo info() const override {
    sdk::DatasetInfo info;
    sdk::ModalitySpec image;
    image.name = "image";
    image.kind = sdk::InputKind::Dense;
    image.shape = {1, kSide, kSide};
    sdk::ModalitySpec text;
    text.name = "text";
    text.kind = sdk::InputKind::Tokens;
    text.shape = {c_.caption_length};
    text.vocab_size = kFirstBrand + c_.classes_id();
    info.modalities = {image, text};
    info.num_classes = c_.classes_id();
    for (int64_t k : c_.id_classes) info.class_names.push_back(kClassNames[static_cast<size_t>(k)]);
    info.num_groups = 2 * c_.classes_id();
    info.splits = kSplits;
    return info;
  }

 private:

  /// Indices into the split's source file, and that file's images and original labels.
  void select(at::Tensor& images, at::Tensor& orig) const {
    const bool test = c_.split == "test";
    const std::string stem = test ? "t10k" : "train";
    const std::string img_path = c_.file(stem + "-images-idx3-ubyte"), lab_path = c_.file(stem + "-labels-idx1-ubyte");
    const std::string who = kName;
    // Labels first: a missing or broken labels file is reported before 47 MB of images are decoded.
    at::Tensor labels = fashion_idx::read_labels(lab_path, who, kMissingHint);
    images = fashion_idx::read_images(img_path, who, kMissingHint);
    if (images.size(1) != kSide || images.size(2) != kSide)
      throw std::runtime_error(who + ": " + img_path + ": images are " + std::to_string(images.size(1)) + "x" +
                               std::to_string(images.size(2)) + ", expected 28x28");
    if (images.size(0) != labels.size(0))
      throw std::runtime_error(who + ": " + img_path + " holds " + std::to_string(images.size(0)) + " images but " +
                               lab_path + " holds " + std::to_string(labels.size(0)) + " labels");
    if (labels.numel() > 0 && labels.max().item<int64_t>() >= kClasses)
      throw std::runtime_error(who + ": " + lab_path + ": label " + std::to_string(labels.max().item<int64_t>()) +
                               " is outside 0..9");
    const auto l = at::TensorOptions().dtype(at::kLong);
    auto gen = generator_for(c_.data_seed, test ? "shuffle:test" : "shuffle:train");
    at::Tensor order = at::randperm(labels.size(0), gen, l);
    at::Tensor idx;
    if (test) {
      const int64_t want = c_.test_size == 0 ? order.size(0) : c_.test_size;
      if (want > order.size(0))
        throw std::invalid_argument(who + ": test_size " + std::to_string(want) + " exceeds the " +
                                    std::to_string(order.size(0)) + " images of " + img_path);
      idx = order.slice(0, 0, want);
    } else {
      const at::Tensor to_id = at::tensor(c_.to_id, l);
      order = order.index({to_id.index_select(0, labels.index_select(0, order)) >= 0});
      const int64_t avail = order.size(0);
      const int64_t train = c_.train_size == 0 ? avail - c_.val_size : c_.train_size;
      if (train <= 0 || c_.val_size + train > avail)
        throw std::invalid_argument(who + ": train_size " + std::to_string(c_.train_size) + " and val_size " +
                                    std::to_string(c_.val_size) + " do not fit in the " + std::to_string(avail) +
                                    " in-distribution images of " + img_path +
                                    " (train_size 0 takes all that val leaves, and must leave some)");
      idx = c_.split == "val" ? order.slice(0, 0, c_.val_size) : order.slice(0, c_.val_size, c_.val_size + train);
    }
    images = images.index_select(0, idx);
    orig = labels.index_select(0, idx);
  }

  void generate() {
    at::Tensor images, orig;
    select(images, orig);
    const int64_t n = orig.size(0), k = c_.classes_id();
    const auto f = at::TensorOptions().dtype(at::kFloat);
    const auto l = at::TensorOptions().dtype(at::kLong);
    auto gen = generator_for(c_.data_seed, "split:" + c_.split);

    at::Tensor label = at::tensor(c_.to_id, l).index_select(0, orig);
    const at::Tensor ood = label < 0;
    // Spurious attribute: b = label w.p. rho, else one of the k - 1 others; OOD samples: uniform.
    const at::Tensor agree = at::bernoulli(at::full({n}, c_.rho(), f), gen).to(at::kBool);
    const at::Tensor other = (label + 1 + at::randint(0, k - 1, {n}, gen, l)).remainder(k);
    const at::Tensor uniform = at::randint(0, k, {n}, gen, l);
    const at::Tensor b = at::where(ood, uniform, at::where(agree, label, other));
    const at::Tensor group = at::where(ood, at::full({n}, -1, l), label * 2 + (b == label).to(at::kLong));

    // Caption draws: templates, the class word (true class, or a random ID class with probability caption_noise).
    const at::Tensor prefix = at::randint(0, static_cast<int64_t>(kPrefixes.size()), {n}, gen, l);
    const at::Tensor suffix = at::randint(0, static_cast<int64_t>(kSuffixes.size()), {n}, gen, l);
    const at::Tensor synonym = at::randint(0, kSynonyms, {n}, gen, l);
    const at::Tensor noisy = at::bernoulli(at::full({n}, c_.caption_noise, f), gen).to(at::kBool);
    const at::Tensor random_class = at::tensor(c_.id_classes, l).index_select(0, at::randint(0, k, {n}, gen, l));
    const at::Tensor word = kFirstSynonym + at::where(noisy, random_class, orig) * kSynonyms + synonym;
    at::Tensor text = at::zeros({n, c_.caption_length}, l);
    {
      const int64_t T = c_.caption_length;
      auto tx = text.accessor<int64_t, 2>();
      auto pa = prefix.accessor<int64_t, 1>(), sa = suffix.accessor<int64_t, 1>();
      auto wa = word.accessor<int64_t, 1>(), ba = b.accessor<int64_t, 1>();
      for (int64_t i = 0; i < n; ++i) {
        const auto& pre = kPrefixes[static_cast<size_t>(pa[i])];
        const auto& suf = kSuffixes[static_cast<size_t>(sa[i])];
        const bool fits = static_cast<int64_t>(pre.size() + suf.size()) + 3 <= T;
        int64_t t = 0;
        if (fits) for (int64_t w : pre) tx[i][t++] = w;
        tx[i][t++] = wa[i];
        if (fits) for (int64_t w : suf) tx[i][t++] = w;
        tx[i][t++] = kBrandWord;
        tx[i][t++] = kFirstBrand + ba[i];
      }
    }

    // Images: [n, 1, 28, 28] in [0, 1], then the optional corruptions.
    at::Tensor x = images.to(at::kFloat).div_(255.0).unsqueeze(1);
    if (c_.image_noise > 0) x = (x + at::randn(x.sizes(), gen, f) * c_.image_noise).clamp_(0.0, 1.0);
    const int64_t side = std::llround(c_.occlusion * kSide);
    if (side > 0) {
      const at::Tensor y0 = at::randint(0, kSide - side + 1, {n, 1, 1, 1}, gen, l);
      const at::Tensor x0 = at::randint(0, kSide - side + 1, {n, 1, 1, 1}, gen, l);
      const at::Tensor r = at::arange(kSide, l).view({1, 1, kSide, 1}), col = at::arange(kSide, l).view({1, 1, 1, kSide});
      x.masked_fill_((r >= y0) & (r < y0 + side) & (col >= x0) & (col < x0 + side), 0.0);
    }

    image_ = x.contiguous();
    text_ = text;
    label_ = at::where(ood, at::full({n}, -1, l), label).contiguous();
    group_ = group.contiguous();
    ood_ = ood.contiguous();
  }

  /// FNV-1a-64 of the resolved options, seed, split and every generated tensor's bytes, as 16 hex digits.
  std::string digest() const {
    Fnv1a64 f;
    f.text(kName);
    f.text(c_.split);
    f.text(c_.root);
    f.u64(c_.data_seed);
    for (int64_t v : {c_.train_size, c_.val_size, c_.test_size, c_.caption_length}) f.u64(static_cast<uint64_t>(v));
    f.u64(c_.ood_classes.size());
    for (int64_t v : c_.ood_classes) f.u64(static_cast<uint64_t>(v));
    for (double v : {c_.rho_train, c_.rho_test, c_.caption_noise, c_.image_noise, c_.occlusion}) f.real(v);
    for (const auto* t : {&image_, &text_, &label_, &group_, &ood_}) f.tensor(*t);
    return f.hex();
  }

  std::string load(Columns& columns) override {
    generate();
    std::string digest_hex = digest();
    columns.inputs["image"] = std::move(image_);
    columns.inputs["text"] = std::move(text_);
    columns.label = std::move(label_);
    columns.group = std::move(group_);
    columns.ood = std::move(ood_);
    return digest_hex;
  }

  Config c_;
  // Filled by generate(), digested, then handed to the base's columns.
  at::Tensor image_, text_, label_, group_, ood_;
};

std::shared_ptr<sdk::Dataset> make(const sdk::BuildArgs& args) {
  return std::make_shared<FashionCaptions>(read_config(args));
}

}  // namespace

void register_fashion_captions(sdk::Registrar& r) {
  sdk::ComponentDecl d;
  d.name = "fashion_captions";
  d.doc = "Fashion-MNIST images (Debian's dataset-fashion-mnist) with templated captions: synonyms, caption noise, "
          "a spurious brand token (rho_train/rho_test) and held-out classes as OOD";
  d.schema = sdk::schema_of<Config>();
  d.provides = {sdk::capability::kGroups};
  r.add_dataset(std::move(d), make);
}

}  // namespace mmdebias::data_plugin
