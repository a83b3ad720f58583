// The data loader: collate, epoch order, sharding, resume, determinism over threads, errors, shutdown, prefetch.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <ATen/ATen.h>

#include "train/data_loader.hpp"
#include "mmdebias/sdk/components.hpp"
#include "test_data_loader_support.hpp"

// After the LibTorch headers: glog (pulled in by them) defines a CHECK macro that doctest must override.
#include <doctest/doctest.h>

using namespace mmdebias;
using loader_test::collect;
using Clock = std::chrono::steady_clock;

namespace {

// Deterministic samples from the index: "a" [3] float, "b" [2, 2] float, label = index % 3.
class TinyDataset : public sdk::Dataset {
 public:
  explicit TinyDataset(int64_t n, int64_t throw_at = -1, int sleep_ms = 0)
      : n_(n), throw_at_(throw_at), sleep_ms_(sleep_ms) {}
  sdk::DatasetInfo info() const override {
    sdk::DatasetInfo info;
    info.modalities = {{"a", sdk::InputKind::Dense, {3}, 0}, {"b", sdk::InputKind::Dense, {2, 2}, 0}};
    info.num_classes = 3;
    info.splits = {"train"};
    return info;
  }
  int64_t size() const override { return n_; }
  sdk::Sample get(int64_t i) const override {
    if (i == throw_at_) throw std::runtime_error("boom: broken record");
    if (sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    sdk::Sample s;
    s.inputs["a"] = at::arange(3, at::kFloat) * 0.5 + static_cast<double>(i);
    s.inputs["b"] = at::full({2, 2}, -static_cast<double>(i), at::kFloat);
    s.label = i % 3;
    s.group = i % 2;
    s.environment = i % 5;
    s.ood = i % 7 == 0;
    return s;
  }
  std::string fingerprint() const override { return "tiny"; }

 private:
  int64_t n_, throw_at_;
  int sleep_ms_;
};

std::shared_ptr<TinyDataset> tiny(int64_t n, int64_t throw_at = -1, int sleep_ms = 0) {
  return std::make_shared<TinyDataset>(n, throw_at, sleep_ms);
}

core::LoaderOptions opts(int64_t batch, bool shuffle = true, bool drop_last = true, uint64_t seed = 7) {
  core::LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.drop_last = drop_last;
  o.seed = seed;
  return o;
}

std::vector<sdk::Batch> epoch_of(std::shared_ptr<sdk::Dataset> ds, const core::LoaderOptions& o, int64_t epoch) {
  core::DataLoader loader(std::move(ds), o);
  return collect(loader, epoch);
}

std::vector<int64_t> ids(const sdk::Batch& b) {
  const int64_t* p = b.index.data_ptr<int64_t>();
  return {p, p + b.size()};
}

std::vector<int64_t> all_ids(const std::vector<sdk::Batch>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches)
    for (int64_t i : ids(b)) out.push_back(i);
  return out;
}

// A batch's tensors in a fixed order: each modality (by name), label, group, environment, ood, index.
std::vector<at::Tensor> fields(const sdk::Batch& b) {
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : b.inputs) out.push_back(t);
  for (const auto& t : {b.label, b.group, b.environment, b.ood, b.index}) out.push_back(t);
  return out;
}

bool same_fields(const std::vector<at::Tensor>& x, const std::vector<at::Tensor>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (!at::equal(x[i], y[i])) return false;
  return true;
}

bool same_batch(const sdk::Batch& x, const sdk::Batch& y) {
  return x.inputs.size() == y.inputs.size() && same_fields(fields(x), fields(y));
}

bool same_batches(const std::vector<sdk::Batch>& x, const std::vector<sdk::Batch>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (!same_batch(x[i], y[i])) return false;
  return true;
}

// The ranks' batches of one step concatenated in rank order, as fields().
std::vector<at::Tensor> concat(const std::vector<sdk::Batch>& parts) {
  std::vector<std::vector<at::Tensor>> each;
  for (const auto& p : parts) each.push_back(fields(p));
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < each[0].size(); ++k) {
    std::vector<at::Tensor> column;
    for (const auto& f : each) column.push_back(f[k]);
    out.push_back(at::cat(column, 0));
  }
  return out;
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

TEST_CASE("test_data_loader: collate stacks modalities and annotations") {
  TinyDataset ds(10);
  std::vector<int64_t> indices = {4, 1, 9, 7};
  std::vector<sdk::Sample> samples;
  for (int64_t i : indices) samples.push_back(ds.get(i));
  sdk::Batch b = core::collate(samples, indices);
  CHECK(b.size() == 4);
  CHECK(b.inputs.at("a").sizes().vec() == std::vector<int64_t>{4, 3});
  CHECK(b.inputs.at("b").sizes().vec() == std::vector<int64_t>{4, 2, 2});
  CHECK((b.inputs.at("a").scalar_type() == at::kFloat));
  for (const auto& t : {b.label, b.group, b.environment, b.index}) CHECK((t.scalar_type() == at::kLong));
  CHECK((b.ood.scalar_type() == at::kBool));
  for (int64_t k = 0; k < 4; ++k) {
    const int64_t i = indices[static_cast<size_t>(k)];
    CHECK(at::equal(b.inputs.at("a")[k], samples[static_cast<size_t>(k)].inputs.at("a")));
    CHECK(b.label[k].item<int64_t>() == i % 3);
    CHECK(b.group[k].item<int64_t>() == i % 2);
    CHECK(b.environment[k].item<int64_t>() == i % 5);
    CHECK(b.ood[k].item<bool>() == (i % 7 == 0));
    CHECK(b.index[k].item<int64_t>() == i);
  }
  sdk::Batch none = core::empty_like(b);
  CHECK(none.size() == 0);
  CHECK(none.inputs.at("b").sizes().vec() == std::vector<int64_t>{0, 2, 2});
  CHECK((none.ood.scalar_type() == at::kBool));
}

// collate copies contiguous CPU samples with memcpy and stacks the rest (views, other strides): both must give
// at::stack's result exactly, for every dtype a dataset yields, and the batch must take part in autograd.
TEST_CASE("test_data_loader: collate equals at::stack for contiguous, strided and view samples") {
  const std::vector<int64_t> indices = {0, 1, 2};
  for (auto dtype : {at::kFloat, at::kDouble, at::kLong, at::kByte, at::kBool}) {
    at::Tensor source = (at::arange(3 * 4 * 5, at::kLong).reshape({3, 4, 5}) % 7).to(dtype);
    std::vector<sdk::Sample> rows(3), columns(3);
    std::vector<at::Tensor> row_parts, column_parts;
    for (int64_t i = 0; i < 3; ++i) {
      rows[static_cast<size_t>(i)].inputs["x"] = source[i];                       // contiguous views
      columns[static_cast<size_t>(i)].inputs["x"] = source[i].transpose(0, 1);    // strided: the stack path
      row_parts.push_back(source[i]);
      column_parts.push_back(source[i].transpose(0, 1));
    }
    CHECK(at::equal(core::collate(rows, indices).inputs.at("x"), at::stack(row_parts, 0)));
    CHECK(at::equal(core::collate(columns, indices).inputs.at("x"), at::stack(column_parts, 0)));
    CHECK(core::collate(rows, indices).inputs.at("x").is_contiguous());
  }
}

// The loader reads samples with autograd off (InferenceMode) and collates outside it: a batch is a normal
// tensor that autograd may save for backward, as a model's first layer does with its input.
TEST_CASE("test_data_loader: loaded batches can be saved for backward") {
  core::DataLoader loader(tiny(10), opts(4));
  loader.start_epoch(0, 0);
  at::Tensor x = loader.next()->inputs.at("a");
  CHECK_FALSE(x.is_inference());
  at::Tensor w = at::ones({3}).set_requires_grad(true);
  (x * w).sum().backward();  // mul saves x for w's gradient
  CHECK(at::allclose(w.grad(), x.sum(0)));
}

TEST_CASE("test_data_loader: collate refuses samples that disagree") {
  TinyDataset ds(10);
  std::vector<int64_t> indices = {0, 1, 5};
  std::vector<sdk::Sample> samples = {ds.get(0), ds.get(1), ds.get(5)};
  CHECK_THROWS_AS(core::collate({}, {}), std::invalid_argument);
  CHECK_THROWS_AS(core::collate(samples, {0, 1}), std::invalid_argument);

  auto message = [&](const std::vector<sdk::Sample>& s) {
    try {
      core::collate(s, indices);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto shaped = samples;
  shaped[2].inputs["b"] = at::zeros({2, 3});
  const std::string shape_error = message(shaped);
  INFO(shape_error);
  CHECK(shape_error.find("'b'") != std::string::npos);
  CHECK(shape_error.find("sample 2") != std::string::npos);
  CHECK(shape_error.find("index 5") != std::string::npos);
  CHECK(shape_error.find("[2, 3]") != std::string::npos);
  CHECK(shape_error.find("[2, 2]") != std::string::npos);

  auto missing = samples;
  missing[1].inputs.erase("a");
  const std::string missing_error = message(missing);
  CHECK(missing_error.find("'a'") != std::string::npos);
  CHECK(missing_error.find("sample 1") != std::string::npos);

  auto extra = samples;
  extra[1].inputs["c"] = at::zeros({1});
  CHECK(message(extra).find("'c'") != std::string::npos);

  auto typed = samples;
  typed[2].inputs["a"] = typed[2].inputs["a"].to(at::kDouble);
  CHECK(message(typed).find("dtype") != std::string::npos);
}

TEST_CASE("test_data_loader: options are validated") {
  auto ds = tiny(10);
  CHECK_THROWS_AS(core::DataLoader(ds, opts(0)), std::invalid_argument);
  auto o = opts(2);
  o.world_size = 2;
  o.rank = 2;
  CHECK_THROWS_AS(core::DataLoader(ds, o), std::invalid_argument);
  o.rank = 0;
  o.prefetch = -1;  // 0 reads in line (test_data_loader_batched.cpp)
  CHECK_THROWS_AS(core::DataLoader(ds, o), std::invalid_argument);
  core::DataLoader loader(ds, opts(2));
  CHECK_THROWS_AS(loader.next(), std::logic_error);
  CHECK_THROWS_AS(loader.start_epoch(0, 6), std::out_of_range);
}

TEST_CASE("test_data_loader: every sample once per epoch; drop_last counts") {
  auto ds = tiny(50);
  for (bool shuffle : {true, false}) {
    CAPTURE(shuffle);
    auto dropped = epoch_of(ds, opts(8, shuffle, true), 0);
    CHECK(dropped.size() == 6);
    for (const auto& b : dropped) CHECK(b.size() == 8);
    auto kept = all_ids(dropped);
    CHECK(std::set<int64_t>(kept.begin(), kept.end()).size() == 48);

    auto full = epoch_of(ds, opts(8, shuffle, false), 0);
    REQUIRE(full.size() == 7);
    CHECK(full.back().size() == 2);
    auto every = all_ids(full);
    std::sort(every.begin(), every.end());
    std::vector<int64_t> expected(50);
    for (int64_t i = 0; i < 50; ++i) expected[static_cast<size_t>(i)] = i;
    CHECK(every == expected);
    if (!shuffle) CHECK(all_ids(full) == expected);  // identity order
    else CHECK(all_ids(full) != expected);
  }
  core::DataLoader loader(ds, opts(8));
  CHECK(loader.batches_per_epoch() == 6);
  CHECK(core::batches_per_epoch(50, opts(8, true, false)) == 7);
  CHECK(core::batches_per_epoch(5, opts(8, true, true)) == 0);
  CHECK(epoch_of(tiny(5), opts(8), 0).empty());
  CHECK(epoch_of(tiny(0), opts(8, true, false), 0).empty());
}

TEST_CASE("test_data_loader: batches do not depend on threads or prefetch depth") {
  auto ds = tiny(103);
  for (bool drop_last : {true, false}) {
    auto base = opts(10, true, drop_last, 42);
    base.threads = 1;
    base.prefetch = 1;
    const auto reference = epoch_of(ds, base, 3);
    REQUIRE(!reference.empty());
    for (int threads : {1, 2, 4})
      for (int prefetch : {1, 8}) {
        CAPTURE(threads);
        CAPTURE(prefetch);
        auto o = base;
        o.threads = threads;
        o.prefetch = prefetch;
        CHECK(same_batches(epoch_of(ds, o, 3), reference));
      }
  }
}

TEST_CASE("test_data_loader: the order depends on (seed, epoch) only") {
  auto ds = tiny(64);
  core::DataLoader loader(ds, opts(8, true, true, 5));
  const auto e0 = all_ids(collect(loader, 0));
  const auto e1 = all_ids(collect(loader, 1));
  CHECK(e0 != e1);
  CHECK(all_ids(collect(loader, 0)) == e0);  // same loader, same epoch again
  CHECK(all_ids(epoch_of(ds, opts(8, true, true, 5), 1)) == e1);  // a fresh loader
  CHECK(all_ids(epoch_of(ds, opts(8, true, true, 6), 0)) != e0);  // another seed
  CHECK(core::epoch_order(64, 5, 0, true) == e0);
  CHECK(core::epoch_order(64, 5, 0, false) == all_ids(epoch_of(ds, opts(8, false), 0)));
}

TEST_CASE("test_data_loader: resuming mid-epoch yields exactly the remaining batches") {
  auto ds = tiny(70);
  for (bool drop_last : {true, false}) {
    CAPTURE(drop_last);
    core::DataLoader loader(ds, opts(8, true, drop_last, 11));
    const auto whole = collect(loader, 2);
    const auto n = static_cast<int64_t>(whole.size());
    REQUIRE(n == loader.batches_per_epoch());
    for (int64_t k : {int64_t{1}, int64_t{4}, n - 1, n}) {
      CAPTURE(k);
      core::DataLoader resumed(ds, opts(8, true, drop_last, 11));
      resumed.start_epoch(2, k);
      CHECK(resumed.next_batch() == k);
      std::vector<sdk::Batch> rest;
      while (auto b = resumed.next()) rest.push_back(std::move(*b));
      CHECK(resumed.next_batch() == n);
      CHECK(same_batches(rest, std::vector<sdk::Batch>(whole.begin() + k, whole.end())));
    }
  }
  // Abandoning an epoch part-way and starting another is clean.
  core::DataLoader loader(ds, opts(8, true, true, 11));
  loader.start_epoch(0);
  CHECK(loader.next().has_value());
  CHECK(loader.next_batch() == 1);
  const auto whole = collect(loader, 2);
  CHECK(same_batches(collect(loader, 2, 3), std::vector<sdk::Batch>(whole.begin() + 3, whole.end())));
}

TEST_CASE("test_data_loader: two ranks of batch B see what one rank of batch 2B sees") {
  for (int64_t n : {int64_t{100}, int64_t{96}, int64_t{33}, int64_t{17}}) {
    for (bool drop_last : {true, false}) {
      CAPTURE(n);
      CAPTURE(drop_last);
      auto ds = tiny(n);
      const auto single = epoch_of(ds, opts(16, true, drop_last, 3), 4);
      std::vector<std::vector<sdk::Batch>> ranks;
      for (int r = 0; r < 2; ++r) {
        auto o = opts(8, true, drop_last, 3);
        o.rank = r;
        o.world_size = 2;
        o.threads = r + 1;
        ranks.push_back(epoch_of(ds, o, 4));
      }
      REQUIRE(ranks[0].size() == single.size());
      REQUIRE(ranks[1].size() == single.size());
      for (size_t i = 0; i < single.size(); ++i) {
        CAPTURE(i);
        CHECK(std::abs(ranks[0][i].size() - ranks[1][i].size()) <= 1);
        CHECK(same_fields(concat({ranks[0][i], ranks[1][i]}), fields(single[i])));
      }
    }
  }
}

TEST_CASE("test_data_loader: a last global batch smaller than the world gives empty batches, never lost samples") {
  // 33 samples, B = 8, W = 4: one full global batch of 32, then 1 sample for rank 0 and empty batches for 1..3.
  auto ds = tiny(33);
  std::vector<int64_t> seen;
  for (int r = 0; r < 4; ++r) {
    CAPTURE(r);
    auto o = opts(8, true, false, 9);
    o.rank = r;
    o.world_size = 4;
    auto batches = epoch_of(ds, o, 0);
    REQUIRE(batches.size() == 2);
    CHECK(batches[0].size() == 8);
    CHECK(batches[1].size() == (r == 0 ? 1 : 0));
    CHECK(batches[1].inputs.at("a").sizes().vec() == std::vector<int64_t>{batches[1].size(), 3});
    CHECK(batches[1].inputs.at("b").sizes().vec() == std::vector<int64_t>{batches[1].size(), 2, 2});
    CHECK((batches[1].label.scalar_type() == at::kLong));
    for (int64_t i : all_ids(batches)) seen.push_back(i);
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen.size() == 33);
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == 33);
  // 37 = 32 + 5 over 4 ranks: slices of 2, 1, 1, 1.
  auto o = opts(8, false, false);
  o.world_size = 4;
  const auto order = core::epoch_order(37, 0, 0, false);
  std::vector<size_t> sizes;
  for (int r = 0; r < 4; ++r) {
    o.rank = r;
    sizes.push_back(core::batch_indices(order, o, 1).size());
  }
  CHECK(sizes == std::vector<size_t>{2, 1, 1, 1});
  o.rank = 1;
  CHECK(core::batch_indices(order, o, 1) == std::vector<int64_t>{34});
}

TEST_CASE("test_data_loader: an exception in Dataset::get surfaces from next() naming the index") {
  for (int threads : {1, 3}) {
    CAPTURE(threads);
    auto o = opts(8, false, true);
    o.threads = threads;
    core::DataLoader loader(tiny(40, 13), o);
    loader.start_epoch(0);
    CHECK(loader.next().has_value());  // batch 0: samples 0..7
    std::string message;
    try {
      loader.next();  // batch 1 holds sample 13
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("13") != std::string::npos);
    CHECK(message.find("boom: broken record") != std::string::npos);
    CHECK_FALSE(loader.next().has_value());  // the epoch ended with the error
    // A later epoch runs again (and fails again at the same place).
    loader.start_epoch(1);
    CHECK(loader.next().has_value());
    CHECK_THROWS_AS(loader.next(), std::runtime_error);
  }
}

TEST_CASE("test_data_loader: destroying a loader mid-epoch returns promptly") {
  auto ds = tiny(4000, -1, 5);
  auto o = opts(8, true, true);
  o.threads = 2;
  o.prefetch = 2;
  const auto t0 = Clock::now();
  {
    core::DataLoader loader(ds, o);
    loader.start_epoch(0);
    CHECK(loader.next().has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the queue fills; the producer blocks
  }
  {
    core::DataLoader loader(ds, o);
    loader.start_epoch(0);  // never consumed: the producer is mid-batch
  }
  {
    core::DataLoader loader(ds, o);
    loader.start_epoch(0);
    CHECK(loader.next().has_value());
    loader.start_epoch(1);  // abandons epoch 0 part-way
    CHECK(loader.next().has_value());
  }
  // A whole epoch would take 4000 * 5 ms / 2 threads = 10 s; stopping early is far quicker.
  CHECK(since(t0) < 3.0);
}

TEST_CASE("test_data_loader: prefetch overlaps reading with the consumer's work") {
  // 12 batches of 8 samples at 5 ms each on one thread (~40 ms a batch) against 60 ms of consumer work a
  // batch. Reading in series with the consumer would wait for every batch: a wait fraction of ~40% and a
  // wait as long as the producer's busy time. With prefetch only the first batch is waited for (~5%); on a
  // loaded machine where reading becomes slower than the consumer, the wait is still well under the busy
  // time, since reading overlaps the consumer's work.
  auto o = opts(8, true, true);
  o.threads = 1;
  o.prefetch = 4;
  core::DataLoader loader(tiny(96, -1, 5), o);
  loader.reset_timers();
  const auto t0 = Clock::now();
  loader.start_epoch(0);
  int64_t count = 0;
  while (auto b = loader.next()) {
    ++count;
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  const double total = since(t0), wait = loader.wait_seconds(), busy = loader.busy_seconds();
  CHECK(count == 12);
  INFO("waited " << wait << " s of " << total << " s; producer busy " << busy << " s");
  CHECK(busy > 0.4);  // at least 12 * 8 * 5 ms of reading
  CHECK((wait / total < 0.25 || wait < 0.5 * busy));
  loader.reset_timers();
  CHECK(loader.wait_seconds() == 0.0);
  CHECK(loader.busy_seconds() == 0.0);
}
