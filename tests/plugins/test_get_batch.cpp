// Dataset::get_batch of the tensor-backed datasets (std.gaussian, data.fashion_captions): bitwise what collating
// get() per index gives, for shuffled and repeated indices, and get()'s message for an index outside the split.
// (data.files: tests/plugins/test_data_files.cpp.)
#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "batch_helpers.hpp"
#include "std_helpers.hpp"

#include <doctest/doctest.h>

using namespace stdtest;

namespace {

using Given = std::map<std::string, sdk::OptionValue>;

std::shared_ptr<sdk::Dataset> dataset(const std::string& type, const std::string& split, Given given) {
  sdk::BuildArgs a;
  a.name = "data";
  a.split = split;
  a.seed = 3;
  a.options = options(type, std::move(given));
  return registry().make_dataset(type, a);
}

// A permutation of the split followed by repeats of a few indices (first, last, one twice in a row).
std::vector<int64_t> shuffled_with_repeats(int64_t n) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = i;
  std::mt19937_64 gen(11);
  std::shuffle(out.begin(), out.end(), gen);
  for (int64_t i : {int64_t{0}, n - 1, n / 2, n / 2, int64_t{0}}) out.push_back(i);
  return out;
}

}  // namespace

TEST_CASE("get_batch: std.gaussian equals collated get() for shuffled and repeated indices") {
  for (std::string split : {"train", "test"}) {
    CAPTURE(split);
    auto ds = dataset("std.gaussian", split,
                      {{"modalities", int64_t{3}}, {"noise", std::vector<double>{1.0, 2.0, 0.5}},
                       {"classes", int64_t{5}}, {"ood_classes", int64_t{1}}, {"spurious", true},
                       {"train_size", int64_t{200}}, {"test_size", int64_t{150}}});
    sdk::Batch none;
    CHECK(contains(error_of([&] { ds->get_batch({0}, none); }), "before prepare()"));
    ds->prepare();
    check_get_batch_equals_get(*ds, shuffled_with_repeats(ds->size()));
    check_get_batch_equals_get(*ds, {ds->size() - 1});
    const int64_t n = ds->size();
    for (int64_t bad : {n, int64_t{-1}}) {
      const std::string e = error_of([&] { ds->get_batch({0, 3, bad, 1}, none); });
      CHECK(!e.empty());
      CHECK(e == error_of([&] { ds->get(bad); }));
    }
  }
}

TEST_CASE("get_batch: data.fashion_captions equals collated get(), OOD test samples included") {
  const Given g = {{"train_size", int64_t{300}}, {"val_size", int64_t{50}}, {"test_size", int64_t{400}},
                   {"ood_classes", std::vector<int64_t>{8, 9}}, {"image_noise", 0.1}, {"occlusion", 0.25}};
  for (std::string split : {"train", "test"}) {
    CAPTURE(split);
    auto ds = dataset("data.fashion_captions", split, g);
    ds->prepare();
    const auto indices = shuffled_with_repeats(ds->size());
    check_get_batch_equals_get(*ds, indices);
    sdk::Batch batch;
    REQUIRE(ds->get_batch(indices, batch));
    if (split == "test") CHECK(batch.ood.any().item<bool>());
    CHECK(error_of([&] { ds->get_batch({ds->size()}, batch); }) == error_of([&] { ds->get(ds->size()); }));
  }
}
