// The data loader with Dataset::get_batch (one call per batch, the per-sample fallback) and reading in line
// (prefetch 0, no loader thread): the same batches as per-sample reading with a loader thread, errors, resume.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "train/data_loader.hpp"
#include "mmdebias/sdk/components.hpp"
#include "test_data_loader_support.hpp"

// After the LibTorch headers: glog (pulled in by them) defines a CHECK macro that doctest must override.
#include <doctest/doctest.h>

using namespace mmdebias;
using loader_test::collect;

namespace {

// Samples from the index: "a" [3] float, "b" [2] int64, label = index % 3. Reads per sample unless batched;
// a batched one fills batches itself (optionally under InferenceMode, or with a wrong leading size).
class Rows : public sdk::Dataset {
 public:
  struct Setup {
    bool batched = false;
    int64_t throw_at = -1;      // get / get_batch throws when asked for this index
    bool inference = false;     // get_batch selects under InferenceMode (inference tensors)
    bool short_label = false;   // get_batch gives one label too few
    int sleep_ms = 0;           // per get / get_batch call
  };
  Rows(int64_t n, Setup setup) : n_(n), setup_(setup) {
    a_ = at::arange(n * 3, at::kFloat).reshape({n, 3}) * 0.5;
    b_ = at::arange(n * 2, at::kLong).reshape({n, 2}) - 7;
  }
  sdk::DatasetInfo info() const override {
    sdk::DatasetInfo info;
    info.modalities = {{"a", sdk::InputKind::Dense, {3}, 0}, {"b", sdk::InputKind::Tokens, {2}, 100}};
    info.num_classes = 3;
    info.splits = {"train"};
    return info;
  }
  int64_t size() const override { return n_; }
  sdk::Sample get(int64_t i) const override {
    called_from_ = std::this_thread::get_id();
    if (i == setup_.throw_at) throw std::runtime_error("boom: broken record");
    if (setup_.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(setup_.sleep_ms));
    sdk::Sample s;
    s.inputs["a"] = a_[i];
    s.inputs["b"] = b_[i];
    s.label = i % 3;
    s.group = i % 2;
    s.environment = i % 5;
    s.ood = i % 7 == 0;
    return s;
  }
  bool get_batch(const std::vector<int64_t>& indices, sdk::Batch& batch) const override {
    if (!setup_.batched) return false;
    called_from_ = std::this_thread::get_id();
    for (int64_t i : indices)
      if (i == setup_.throw_at) throw std::runtime_error("boom: broken batch");
    if (setup_.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(setup_.sleep_ms));
    std::unique_ptr<c10::InferenceMode> guard;
    if (setup_.inference) guard = std::make_unique<c10::InferenceMode>();
    const at::Tensor rows = at::tensor(indices, at::kLong);
    batch.inputs["a"] = a_.index_select(0, rows);
    batch.inputs["b"] = b_.index_select(0, rows);
    batch.label = at::remainder(rows, 3);
    if (setup_.short_label) batch.label = batch.label.narrow(0, 0, batch.label.size(0) - 1);
    batch.group = at::remainder(rows, 2);
    batch.environment = at::remainder(rows, 5);
    batch.ood = at::remainder(rows, 7) == 0;
    return true;
  }
  std::string fingerprint() const override { return "rows"; }
  std::thread::id last_thread() const { return called_from_; }

 private:
  int64_t n_;
  Setup setup_;
  at::Tensor a_, b_;
  mutable std::thread::id called_from_;
};

std::shared_ptr<Rows> rows(int64_t n, Rows::Setup setup = {}) { return std::make_shared<Rows>(n, setup); }

Rows::Setup batched() {
  Rows::Setup s;
  s.batched = true;
  return s;
}

core::LoaderOptions opts(int64_t batch, int prefetch, bool drop_last = true) {
  core::LoaderOptions o;
  o.batch_size = batch;
  o.drop_last = drop_last;
  o.seed = 13;
  o.prefetch = prefetch;
  return o;
}

std::vector<sdk::Batch> epoch_of(std::shared_ptr<sdk::Dataset> ds, const core::LoaderOptions& o, int64_t epoch) {
  core::DataLoader loader(std::move(ds), o);
  return collect(loader, epoch);
}

// Every tensor equal, of the same dtype and shape.
bool same(const at::Tensor& x, const at::Tensor& y) {
  return x.scalar_type() == y.scalar_type() && x.sizes().equals(y.sizes()) && at::equal(x, y);
}

bool same_batches(const std::vector<sdk::Batch>& x, const std::vector<sdk::Batch>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    const auto &p = x[i], &q = y[i];
    if (p.inputs.size() != q.inputs.size()) return false;
    for (const auto& [name, t] : p.inputs)
      if (!q.inputs.count(name) || !same(t, q.inputs.at(name))) return false;
    if (!same(p.label, q.label) || !same(p.group, q.group) || !same(p.environment, q.environment) ||
        !same(p.ood, q.ood) || !same(p.index, q.index))
      return false;
  }
  return true;
}

std::string error_of(core::DataLoader& loader) {
  try {
    while (loader.next()) {
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("test_data_loader_batched: get_batch and reading in line give the per-sample, threaded batches") {
  for (bool drop_last : {true, false}) {
    CAPTURE(drop_last);
    const auto reference = epoch_of(rows(53), opts(8, 4, drop_last), 2);
    REQUIRE(reference.size() == (drop_last ? 6u : 7u));
    for (bool batch : {false, true})
      for (int prefetch : {0, 1, 4})
        for (int threads : {1, 2}) {
          CAPTURE(batch);
          CAPTURE(prefetch);
          CAPTURE(threads);
          auto o = opts(8, prefetch, drop_last);
          o.threads = threads;
          CHECK(same_batches(epoch_of(rows(53, batch ? batched() : Rows::Setup{}), o, 2), reference));
        }
  }
}

TEST_CASE("test_data_loader_batched: ranks left without samples get empty batches from a batched dataset") {
  // 33 samples, B = 8, W = 4: the last global batch holds 1 sample (rank 0); ranks 1..3 get empty batches.
  for (int prefetch : {0, 4}) {
    for (int r = 0; r < 4; ++r) {
      CAPTURE(prefetch);
      CAPTURE(r);
      auto o = opts(8, prefetch, false);
      o.rank = r;
      o.world_size = 4;
      const auto got = epoch_of(rows(33, batched()), o, 0);
      const auto want = epoch_of(rows(33), o, 0);
      REQUIRE(got.size() == 2);
      CHECK(got[1].size() == (r == 0 ? 1 : 0));
      CHECK(got[1].inputs.at("b").sizes().vec() == std::vector<int64_t>{got[1].size(), 2});
      CHECK(same_batches(got, want));
    }
  }
}

TEST_CASE("test_data_loader_batched: a failing get_batch names the batch; the epoch ends; the next one runs") {
  for (int prefetch : {0, 4}) {
    CAPTURE(prefetch);
    auto setup = batched();
    setup.throw_at = 13;
    core::DataLoader loader(rows(40, setup), opts(8, prefetch));
    auto o = opts(8, prefetch);
    const auto order = core::epoch_order(40, o.seed, 0, true);
    int64_t bad_batch = 0;
    while (bad_batch < 5) {
      const auto ids = core::batch_indices(order, o, bad_batch);
      if (std::find(ids.begin(), ids.end(), 13) != ids.end()) break;
      ++bad_batch;
    }
    const int64_t first = core::batch_indices(order, o, bad_batch).front();
    loader.start_epoch(0);
    for (int64_t b = 0; b < bad_batch; ++b) REQUIRE(loader.next().has_value());
    std::string message = error_of(loader);
    INFO(message);
    CHECK(message == "data loader: reading batch of 8 samples starting at index " + std::to_string(first) +
                         " failed: boom: broken batch");
    CHECK_FALSE(loader.next().has_value());
    loader.start_epoch(1);  // a later epoch runs again, and fails again at sample 13
    CHECK(error_of(loader).find("boom: broken batch") != std::string::npos);
  }
  // The per-sample path keeps its message, in line too.
  Rows::Setup setup;
  setup.throw_at = 13;
  core::DataLoader loader(rows(40, setup), opts(8, 0));
  loader.start_epoch(0);
  const std::string message = error_of(loader);
  CHECK(message == "data loader: reading sample 13 failed: boom: broken record");
}

TEST_CASE("test_data_loader_batched: a batch of the wrong size is refused, naming the field") {
  auto setup = batched();
  setup.short_label = true;
  for (int prefetch : {0, 2}) {
    CAPTURE(prefetch);
    core::DataLoader loader(rows(20, setup), opts(4, prefetch));
    loader.start_epoch(0);
    const std::string message = error_of(loader);
    CHECK(message == "Dataset::get_batch gave label of shape [3] for a batch of 4 samples");
  }
}

// As for per-sample reading: the trainer gets normal tensors, even from a dataset that selects under
// InferenceMode, and whether or not the read happens in line.
TEST_CASE("test_data_loader_batched: batched and in-line batches can be saved for backward") {
  for (bool inference : {false, true})
    for (int prefetch : {0, 4}) {
      CAPTURE(inference);
      CAPTURE(prefetch);
      auto setup = batched();
      setup.inference = inference;
      core::DataLoader loader(rows(10, setup), opts(4, prefetch));
      loader.start_epoch(0, 0);
      at::Tensor x = loader.next()->inputs.at("a");
      CHECK_FALSE(x.is_inference());
      at::Tensor w = at::ones({3}).set_requires_grad(true);
      (x * w).sum().backward();
      CHECK(at::allclose(w.grad(), x.sum(0)));
    }
}

TEST_CASE("test_data_loader_batched: prefetch 0 reads on the caller's thread, counts the read as waiting, resumes") {
  auto o = opts(4, 0);
  core::LoaderOptions negative = o;
  negative.prefetch = -1;
  CHECK_THROWS_AS(core::DataLoader(rows(8), negative), std::invalid_argument);

  auto setup = batched();
  setup.sleep_ms = 20;
  auto ds = rows(24, setup);
  core::DataLoader loader(ds, o);
  loader.start_epoch(0);
  CHECK(loader.wait_seconds() == 0.0);  // nothing is read before next()
  REQUIRE(loader.next().has_value());
  CHECK(ds->last_thread() == std::this_thread::get_id());
  CHECK(loader.next_batch() == 1);
  CHECK(loader.wait_seconds() >= 0.019);
  CHECK(loader.busy_seconds() == loader.wait_seconds());

  // Resuming at batch k gives exactly the rest of the epoch (as with a loader thread).
  const auto whole = epoch_of(rows(24), opts(4, 4), 3);
  core::DataLoader resumed(rows(24, batched()), o);
  for (int64_t k : {0, 2, 6}) {
    CAPTURE(k);
    CHECK(same_batches(collect(resumed, 3, k), std::vector<sdk::Batch>(whole.begin() + k, whole.end())));
    CHECK(resumed.next_batch() == 6);
  }
  // Abandoning an epoch part-way and starting another is clean.
  resumed.start_epoch(1);
  CHECK(resumed.next().has_value());
  CHECK(same_batches(collect(resumed, 3), whole));
}
