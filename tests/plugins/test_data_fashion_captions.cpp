// data.fashion_captions through the real loader: cheap construction, determinism, the spurious brand token at
// rho, held-out classes as OOD, caption noise, image range and corruption, and broken idx files.
// Reads Debian's dataset-fashion-mnist from its default root.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include <ATen/ATen.h>

#include "mmdebias/core/errors.hpp"
#include "std_helpers.hpp"

#include <doctest/doctest.h>

using namespace stdtest;

namespace {

using Given = std::map<std::string, sdk::OptionValue>;
namespace fs = std::filesystem;

// Token layout documented in plugins/data/fashion_captions.cpp.
constexpr int64_t kFirstSynonym = 8, kFirstBrand = 38;

std::shared_ptr<sdk::Dataset> fashion(const std::string& split, Given given = {}, uint64_t run_seed = 0) {
  sdk::BuildArgs a;
  a.name = "data";
  a.split = split;
  a.seed = run_seed;
  a.options = options("data.fashion_captions", std::move(given));
  return registry().make_dataset("data.fashion_captions", a);
}

/// A whole prepared split, stacked.
struct Split {
  at::Tensor image, text, label, group, ood;
};

Split read_all(sdk::Dataset& ds) {
  std::vector<at::Tensor> image, text;
  std::vector<int64_t> label, group, ood;
  for (int64_t i = 0; i < ds.size(); ++i) {
    auto s = ds.get(i);
    image.push_back(s.inputs.at("image"));
    text.push_back(s.inputs.at("text"));
    label.push_back(s.label);
    group.push_back(s.group);
    ood.push_back(s.ood ? 1 : 0);
  }
  return {at::stack(image), at::stack(text), at::tensor(label, at::kLong), at::tensor(group, at::kLong),
          at::tensor(ood, at::kLong).to(at::kBool)};
}

/// The brand attribute b of each caption: the last non-padding token is brand_b.
at::Tensor brand(const at::Tensor& text) {
  at::Tensor last = (text != 0).sum(1) - 1;
  return text.gather(1, last.unsqueeze(1)).squeeze(1) - kFirstBrand;
}

/// The ORIGINAL class (0..9) of each caption's class word (the only token in the synonym range).
at::Tensor word_class(const at::Tensor& text) {
  at::Tensor is_word = (text >= kFirstSynonym) & (text < kFirstBrand);
  REQUIRE(at::equal(is_word.sum(1), at::ones({text.size(0)}, at::kLong)));
  return at::div((text * is_word).sum(1) - kFirstSynonym, 3, "floor");
}

void put_be32(std::ofstream& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  out.write(b, 4);
}

}  // namespace

TEST_CASE("data.fashion_captions: construction and info() read nothing; prepare() names the missing file") {
  auto ds = fashion("train", {{"root", std::string("/nonexistent/fashion")}, {"ood_classes", std::vector<int64_t>{8, 9}}});
  const auto info = ds->info();
  REQUIRE(info.modalities.size() == 2);
  CHECK(info.modalities[0].name == "image");
  CHECK(info.modalities[0].kind == sdk::InputKind::Dense);
  CHECK(info.modalities[0].shape == std::vector<int64_t>{1, 28, 28});
  CHECK(info.modalities[1].name == "text");
  CHECK(info.modalities[1].kind == sdk::InputKind::Tokens);
  CHECK(info.modalities[1].shape == std::vector<int64_t>{12});
  CHECK(info.modalities[1].vocab_size == kFirstBrand + 8);
  CHECK(info.num_classes == 8);
  CHECK(info.num_groups == 16);
  REQUIRE(info.class_names.size() == 8);
  CHECK(info.class_names.front() == "T-shirt/top");
  CHECK(info.class_names.back() == "Sneaker");
  CHECK(info.splits == std::vector<std::string>{"train", "val", "test"});
  CHECK_THROWS_AS(ds->size(), std::logic_error);
  CHECK_THROWS_AS(ds->get(0), std::logic_error);
  const std::string msg = error_of([&] { ds->prepare(); });
  CHECK(contains(msg, "apt-get install dataset-fashion-mnist"));
  CHECK(contains(msg, "/nonexistent/fashion/train-"));
  const std::string test_msg = error_of([] { fashion("test", {{"root", std::string("/nonexistent/fashion")}})->prepare(); });
  CHECK(contains(test_msg, "/nonexistent/fashion/t10k-"));
  CHECK(registry().get("data.fashion_captions").decl.provides == std::vector<std::string>{sdk::capability::kGroups});
  // Option errors.
  CHECK(contains(error_of([] { fashion("holdout"); }), "no split 'holdout'"));
  CHECK(contains(error_of([] { fashion("train", {{"ood_classes", std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}}}); }),
                 "leaving 1 in-distribution"));
  CHECK_THROWS_AS(options("data.fashion_captions", {{"ood_classes", std::vector<int64_t>{10}}}), mmdebias::core::InputError);
}

TEST_CASE("data.fashion_captions: the same options and seed give the same data; another seed other data") {
  const Given g = {{"train_size", int64_t{300}}, {"val_size", int64_t{100}}, {"test_size", int64_t{300}},
                   {"image_noise", 0.1}, {"occlusion", 0.25}};
  auto a = fashion("train", g, 7), b = fashion("train", g, 7), c = fashion("train", g, 8);
  a->prepare();
  b->prepare();
  c->prepare();
  a->prepare();  // idempotent
  CHECK(a->size() == 300);
  CHECK(a->fingerprint().size() == 16);
  CHECK(a->fingerprint() == b->fingerprint());
  CHECK(a->fingerprint() != c->fingerprint());
  const Split sa = read_all(*a), sb = read_all(*b), sc = read_all(*c);
  CHECK(at::equal(sa.image, sb.image));
  CHECK(at::equal(sa.text, sb.text));
  CHECK(at::equal(sa.label, sb.label));
  CHECK(at::equal(sa.group, sb.group));
  CHECK(!at::equal(sa.image, sc.image));
  // A fixed data seed ignores the run seed; splits and options change the fingerprint.
  Given fixed = g;
  fixed["seed"] = int64_t{5};
  auto f1 = fashion("test", fixed, 1), f2 = fashion("test", fixed, 2), fv = fashion("val", fixed, 1);
  f1->prepare();
  f2->prepare();
  fv->prepare();
  CHECK(fv->size() == 100);
  CHECK(f1->fingerprint() == f2->fingerprint());
  CHECK(f1->fingerprint() != fv->fingerprint());
  Given other = fixed;
  other["rho_train"] = 0.5;  // does not touch the test draws, but shapes the fingerprint
  auto fo = fashion("test", other, 1);
  fo->prepare();
  CHECK(fo->fingerprint() != f1->fingerprint());
}

TEST_CASE("data.fashion_captions: the brand token agrees with the class at rho_train / rho_test") {
  const Given g = {{"train_size", int64_t{6000}}, {"test_size", int64_t{6000}}, {"val_size", int64_t{500}}};
  for (const auto& case_ : std::vector<std::pair<std::string, double>>{{"train", 0.9}, {"test", 0.1}}) {
    const std::string split = case_.first;
    const double rho = case_.second;
    CAPTURE(split);
    auto ds = fashion(split, g, 3);
    ds->prepare();
    const Split s = read_all(*ds);
    const at::Tensor b = brand(s.text);
    CHECK(b.min().item<int64_t>() >= 0);
    CHECK(b.max().item<int64_t>() < 10);
    const at::Tensor agree = b == s.label;
    CHECK(at::equal(s.group, s.label * 2 + agree.to(at::kLong)));
    const double rate = agree.to(at::kDouble).mean().item<double>();
    MESSAGE(split << ": brand agreement " << rate << " (rho " << rho << ")");
    CHECK(std::abs(rate - rho) < 0.02);
    // The brand token sits after the word "brand" (id 7).
    at::Tensor last = (s.text != 0).sum(1) - 1;
    CHECK(at::equal(s.text.gather(1, (last - 1).unsqueeze(1)).squeeze(1), at::full({s.text.size(0)}, 7, at::kLong)));
  }
}

TEST_CASE("data.fashion_captions: held-out classes never reach train/val and appear only flagged OOD in test") {
  const Given g = {{"ood_classes", std::vector<int64_t>{9, 2}}, {"train_size", int64_t{2000}}, {"val_size", int64_t{500}},
                   {"test_size", int64_t{2000}}, {"caption_noise", 0.0}};
  const std::vector<int64_t> id_to_orig = {0, 1, 3, 4, 5, 6, 7, 8};
  for (const std::string split : {"train", "val"}) {
    auto ds = fashion(split, g, 4);
    ds->prepare();
    const Split s = read_all(*ds);
    CHECK(s.ood.sum().item<int64_t>() == 0);
    CHECK(s.label.min().item<int64_t>() == 0);
    CHECK(s.label.max().item<int64_t>() == 7);
    const at::Tensor w = word_class(s.text);
    CHECK(((w == 2) | (w == 9)).sum().item<int64_t>() == 0);
    CHECK(at::equal(w, at::tensor(id_to_orig, at::kLong).index_select(0, s.label)));
  }
  auto ds = fashion("test", g, 4);
  ds->prepare();
  const Split s = read_all(*ds);
  const int64_t n_ood = s.ood.sum().item<int64_t>();
  MESSAGE("test: " << n_ood << " OOD of " << s.label.size(0));
  CHECK(n_ood > 300);
  CHECK(n_ood < 500);
  CHECK(at::equal(s.ood, s.label == -1));
  CHECK(at::equal(s.ood, s.group == -1));
  const at::Tensor w = word_class(s.text);
  CHECK(at::equal(s.ood, (w == 2) | (w == 9)));
  CHECK(s.label.index({~s.ood}).max().item<int64_t>() == 7);
  CHECK(ds->info().class_names[2] == "Dress");
}

TEST_CASE("data.fashion_captions: caption noise controls how often the class word names the class") {
  const std::vector<int64_t> orig = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  for (const double noise : {0.0, 0.5}) {
    CAPTURE(noise);
    auto ds = fashion("train", {{"train_size", int64_t{2000}}, {"caption_noise", noise}, {"caption_length", int64_t{9}}}, 2);
    ds->prepare();
    const Split s = read_all(*ds);
    CHECK(s.text.size(1) == 9);
    const double match = (word_class(s.text) == s.label).to(at::kDouble).mean().item<double>();
    MESSAGE("caption_noise " << noise << ": class word matches " << match);
    // A noisy word still names the right class 1 time in 10.
    CHECK(std::abs(match - (1.0 - noise * 0.9)) < 0.04);
  }
  // Too short for any filler: [word, brand, brand_b].
  auto shortest = fashion("val", {{"val_size", int64_t{50}}, {"caption_length", int64_t{3}}}, 2);
  shortest->prepare();
  const Split s = read_all(*shortest);
  CHECK(at::equal(s.text.select(1, 1), at::full({50}, 7, at::kLong)));
}

TEST_CASE("data.fashion_captions: images are [1, 28, 28] in [0, 1]; noise and occlusion corrupt them") {
  const Given g = {{"test_size", int64_t{200}}, {"seed", int64_t{1}}};
  auto clean = fashion("test", g);
  clean->prepare();
  const Split c = read_all(*clean);
  CHECK(c.image.sizes().vec() == std::vector<int64_t>{200, 1, 28, 28});
  CHECK((c.image.scalar_type() == at::kFloat));
  CHECK(c.image.min().item<double>() >= 0.0);
  CHECK(c.image.max().item<double>() <= 1.0);
  CHECK(c.image.max().item<double>() == 1.0);  // some pixel is 255
  CHECK(at::allclose(c.image * 255, (c.image * 255).round(), 0, 1e-3));

  Given noisy = g;
  noisy["image_noise"] = 0.2;
  noisy["occlusion"] = 0.5;
  auto corrupt = fashion("test", noisy);
  corrupt->prepare();
  const Split n = read_all(*corrupt);
  CHECK(at::equal(n.label, c.label));  // same samples
  CHECK(n.image.min().item<double>() >= 0.0);
  CHECK(n.image.max().item<double>() <= 1.0);
  // Every image holds a 14x14 zero square: 14 rows each with >= 14 zero pixels.
  const at::Tensor zero_rows = ((n.image.squeeze(1) == 0).sum(2) >= 14).sum(1);
  CHECK(zero_rows.min().item<int64_t>() >= 14);
  const double diff = (n.image - c.image).abs().mean().item<double>();
  MESSAGE("mean |corrupt - clean| = " << diff);
  CHECK(diff > 0.05);
}

TEST_CASE("data.fashion_captions: truncated or foreign idx files give errors naming the file") {
  const fs::path dir = fs::temp_directory_path() / ("mmdebias-fc-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // gzread reads a file that is not gzip-compressed as it is, so plain idx bytes under a .gz name do.
  {
    std::ofstream lab(dir / "train-labels-idx1-ubyte.gz", std::ios::binary);
    put_be32(lab, 0x00000801);
    put_be32(lab, 100);
    for (int i = 0; i < 100; ++i) lab.put(static_cast<char>(i % 10));
    std::ofstream img(dir / "train-images-idx3-ubyte.gz", std::ios::binary);
    put_be32(img, 0x00000803);
    put_be32(img, 100);  // claims 100 images ...
    put_be32(img, 28);
    put_be32(img, 28);
    img.write(std::string(10 * 784, '\x7f').data(), 10 * 784);  // ... holds 10
    std::ofstream bad(dir / "t10k-labels-idx1-ubyte.gz", std::ios::binary);
    put_be32(bad, 0x00000803);  // an images magic in a labels file
    put_be32(bad, 1);
  }
  const Given g = {{"root", dir.string()}, {"train_size", int64_t{10}}, {"val_size", int64_t{5}}};
  std::string msg = error_of([&] { fashion("train", g)->prepare(); });
  MESSAGE(msg);
  CHECK(contains(msg, (dir / "train-images-idx3-ubyte.gz").string()));
  CHECK(contains(msg, "truncated"));
  CHECK(contains(msg, "100 images"));
  msg = error_of([&] { fashion("test", g)->prepare(); });
  MESSAGE(msg);
  CHECK(contains(msg, (dir / "t10k-labels-idx1-ubyte.gz").string()));
  CHECK(contains(msg, "magic"));
  // Sizes larger than the file are refused with the numbers.
  {
    std::ofstream img(dir / "train-images-idx3-ubyte.gz", std::ios::binary | std::ios::trunc);
    put_be32(img, 0x00000803);
    put_be32(img, 100);
    put_be32(img, 28);
    put_be32(img, 28);
    img.write(std::string(100 * 784, '\x7f').data(), 100 * 784);
  }
  auto ok = fashion("train", g);
  ok->prepare();
  CHECK(ok->size() == 10);
  msg = error_of([&] { fashion("train", {{"root", dir.string()}, {"train_size", int64_t{99}}, {"val_size", int64_t{5}}})->prepare(); });
  CHECK(contains(msg, "train_size 99 and val_size 5 do not fit in the 100"));
  fs::remove_all(dir);
}
