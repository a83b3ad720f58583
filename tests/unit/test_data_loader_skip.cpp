// on_bad_sample: skip in the data loader (samples a dataset refuses as bad data are left out and recorded), the
// skipped-sample record's merging, and sdk::EpochAware (a dataset told each training epoch).
#include <atomic>
#include <set>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/sdk/components.hpp"
#include "test_data_loader_support.hpp"
#include "train/data_loader.hpp"
#include "train/skipped_samples.hpp"

// After the LibTorch headers: glog (pulled in by them) defines a CHECK macro that doctest must override.
#include <doctest/doctest.h>

using namespace mmdebias;
using loader_test::collect;

namespace {

// Sample i: "x" = [i, epoch] (float); the indices in bad are corrupt files (sdk::DataError), crash is a program error.
class Flaky : public sdk::Dataset, public sdk::EpochAware {
 public:
  Flaky(int64_t n, std::set<int64_t> bad, int64_t crash = -1, bool batched = false)
      : n_(n), bad_(std::move(bad)), crash_(crash), batched_(batched) {}
  sdk::DatasetInfo info() const override {
    sdk::DatasetInfo info;
    info.modalities = {{"x", sdk::InputKind::Dense, {2}, 0}};
    info.num_classes = 2;
    info.splits = {"train"};
    return info;
  }
  int64_t size() const override { return n_; }
  sdk::Sample get(int64_t i) const override {
    if (bad_.count(i)) throw sdk::DataError("clip" + std::to_string(i) + ".wav: not a WAV file");
    if (i == crash_) throw std::logic_error("a bug");
    sdk::Sample s;
    s.inputs["x"] = at::tensor({static_cast<float>(i), static_cast<float>(epoch_.load())});
    s.label = i % 2;
    return s;
  }
  bool get_batch(const std::vector<int64_t>& indices, sdk::Batch& batch) const override {
    if (!batched_) return false;
    std::vector<at::Tensor> rows;
    for (int64_t i : indices) rows.push_back(get(i).inputs["x"]);  // one bad sample fails the whole batch
    batch.inputs["x"] = at::stack(rows);
    batch.label = at::tensor(indices) % 2;
    batch.group = at::full({static_cast<int64_t>(indices.size())}, -1, at::kLong);
    batch.environment = batch.group.clone();
    batch.ood = at::zeros({static_cast<int64_t>(indices.size())}, at::kBool);
    return true;
  }
  std::string fingerprint() const override { return "flaky"; }
  void set_epoch(int64_t epoch) override {
    epoch_ = epoch;
    ++told_;
  }
  int told() const { return told_; }

 private:
  int64_t n_;
  std::set<int64_t> bad_;
  int64_t crash_;
  bool batched_;
  std::atomic<int64_t> epoch_{0};
  std::atomic<int> told_{0};
};

core::LoaderOptions options(core::SkippedSamples* skipped, int threads = 2) {
  core::LoaderOptions o = core::LoaderOptions::for_rank(4, 7, 0, 1, threads);
  o.shuffle = false;
  o.drop_last = false;
  o.skipped = skipped;
  o.split = "train";
  return o;
}

std::vector<int64_t> indices_of(const std::vector<sdk::Batch>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches)
    for (int64_t k = 0; k < b.size(); ++k) out.push_back(b.index[k].item<int64_t>());
  return out;
}

}  // namespace

TEST_CASE("test_data_loader_skip: bad samples are left out of their batch and recorded once, per sample and batched") {
  for (bool batched : {false, true}) {
    CAPTURE(batched);
    for (int threads : {1, 2}) {
      core::SkippedSamples skipped;
      core::DataLoader loader(std::make_shared<Flaky>(10, std::set<int64_t>{1, 6}, -1, batched), options(&skipped, threads));
      for (int epoch = 0; epoch < 2; ++epoch) {
        auto batches = collect(loader, epoch);
        REQUIRE(batches.size() == 3);
        CHECK(batches[0].size() == 3);  // 0 2 3
        CHECK(batches[1].size() == 3);  // 4 5 7
        CHECK(indices_of(batches) == std::vector<int64_t>{0, 2, 3, 4, 5, 7, 8, 9});
        CHECK(batches[0].inputs.at("x").select(1, 0).equal(at::tensor({0.f, 2.f, 3.f})));  // rows are their own samples
      }
      CHECK(skipped.count("train") == 2);  // twice each over two epochs: counted once
      const auto record = skipped.to_json();
      CHECK(record["train"]["samples"][0]["index"] == 1);
      CHECK(record["train"]["samples"][1]["error"].get<std::string>().find("clip6.wav: not a WAV file") != std::string::npos);
    }
  }
}

TEST_CASE("test_data_loader_skip: a batch of bad samples only is an empty batch of the dataset's shapes") {
  core::SkippedSamples skipped;
  core::DataLoader loader(std::make_shared<Flaky>(8, std::set<int64_t>{0, 1, 2, 3}), options(&skipped));
  auto batches = collect(loader, 0);
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].size() == 0);
  CHECK(batches[0].inputs.at("x").sizes() == at::IntArrayRef({0, 2}));
  CHECK(batches[1].size() == 4);
  CHECK(skipped.count("train") == 4);
}

TEST_CASE("test_data_loader_skip: a dataset whose every sample is bad, or a program error, still ends the epoch") {
  {
    core::SkippedSamples skipped;
    core::DataLoader loader(std::make_shared<Flaky>(4, std::set<int64_t>{0, 1, 2, 3}), options(&skipped));
    loader.start_epoch(0);
    CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("every sample of 'train' is bad data"), core::InputError);
  }
  {
    core::SkippedSamples skipped;  // only sdk::DataError is the data's fault; a bug is never skipped
    core::DataLoader loader(std::make_shared<Flaky>(8, std::set<int64_t>{1}, 2), options(&skipped));
    loader.start_epoch(0);
    CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("reading sample 2 failed: a bug"), std::runtime_error);
  }
  {  // stop (no record): the first bad sample ends the epoch as bad input, naming it
    core::DataLoader loader(std::make_shared<Flaky>(8, std::set<int64_t>{1}), options(nullptr));
    loader.start_epoch(0);
    CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("reading sample 1 failed: clip1.wav: not a WAV file"), core::InputError);
  }
}

TEST_CASE("test_data_loader_skip: a resumed epoch skips the same samples") {
  core::SkippedSamples a, b;
  core::LoaderOptions o = options(&a);
  o.shuffle = true;
  core::DataLoader whole(std::make_shared<Flaky>(20, std::set<int64_t>{3, 11, 17}), o);
  auto all = collect(whole, 2);
  o.skipped = &b;
  core::DataLoader resumed(std::make_shared<Flaky>(20, std::set<int64_t>{3, 11, 17}), o);
  auto tail = collect(resumed, 2, 2);
  REQUIRE(tail.size() + 2 == all.size());
  for (size_t k = 0; k < tail.size(); ++k) CHECK(tail[k].index.equal(all[k + 2].index));
}

TEST_CASE("test_data_loader_skip: records merge as a union, so sharing among ranks and resuming count nothing twice") {
  core::SkippedSamples r0, r1;
  r0.add("train", 5, "five");
  r0.add("train", 9, "nine");
  r1.add("train", 9, "nine");
  r1.add("test", 2, "two");
  r0.merge(r1.to_json());
  r0.merge(r1.to_json());
  CHECK(r0.count("train") == 2);
  CHECK(r0.count("test") == 1);
  CHECK(r0.to_json(1)["train"]["samples"].size() == 1);  // listed: capped; count: all
  CHECK(r0.to_json(1)["train"]["count"] == 2);
  core::SkippedSamples resumed;
  resumed.merge(nlohmann::json::parse(r0.to_json().dump()));
  CHECK(resumed.to_json() == r0.to_json());
  CHECK(core::SkippedSamples().to_json().empty());
  std::string warned;
  core::SkippedSamples loud([&](const std::string& m) { warned += m + "\n"; });
  loud.add("train", 4, "bad");
  loud.add("train", 4, "bad");
  CHECK(warned == "on_bad_sample: skip: left out sample 4 of 'train' (and will every time it comes up): bad\n");
}

TEST_CASE("test_data_loader_skip: an EpochAware dataset is told each epoch by a loader that tells it, before reading") {
  auto data = std::make_shared<Flaky>(8, std::set<int64_t>{});
  core::LoaderOptions o = options(nullptr);
  core::DataLoader quiet(data, o);
  collect(quiet, 3);
  CHECK(data->told() == 0);  // an evaluation's or a scorer's loader leaves the epoch to the trainer's
  o.tell_epoch = true;
  core::DataLoader loader(data, o);
  for (int64_t epoch : {0, 1, 5}) {
    auto batches = collect(loader, epoch);
    for (const auto& b : batches) CHECK(b.inputs.at("x").select(1, 1).eq(static_cast<double>(epoch)).all().item<bool>());
  }
  CHECK(data->told() == 3);
}
