// Loss terms keyed by name (train/step_terms.hpp): means over the micro-batches and ranks that added a term, a
// name that appears on some steps or ranks only, and the stop request, with two in-process "ranks".
#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include "train/step_terms.hpp"

using namespace mmdebias;
using core::StepTerms;
using core::StepTotals;

namespace {

// Two ranks in one process: each collective call waits for the other rank's tensor.
class PairExchange {
 public:
  std::vector<at::Tensor> exchange(int rank, const at::Tensor& mine) {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t round = round_;
    slots_[rank] = mine.clone();
    if (++arrived_ == 2) {  // the second to arrive publishes both and opens the next round
      both_ = {slots_[0], slots_[1]};
      arrived_ = 0;
      ++round_;
      done_.notify_all();
    } else {
      done_.wait(lock, [&] { return round_ != round; });
    }
    return both_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  at::Tensor slots_[2];
  std::vector<at::Tensor> both_;
  int arrived_ = 0;
  int64_t round_ = 0;
};

class PairCollective : public core::Collective {
 public:
  PairCollective(PairExchange& exchange, int rank) : exchange_(exchange), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return 2; }
  void all_reduce_sum(at::Tensor& t) override {
    auto both = exchange_.exchange(rank_, t);
    t.copy_(both[0] + both[1]);
  }
  at::Tensor all_gather(const at::Tensor& t) override {
    auto both = exchange_.exchange(rank_, t);
    return at::cat({both[0], both[1]});
  }

 private:
  PairExchange& exchange_;
  int rank_;
};

// What TrainStep passes: the packed values reduced in place (the gradients would travel with them).
StepTotals reduce(StepTerms& terms, core::Collective& c, int stop = 0) {
  return terms.reduce(stop, c, [&](std::vector<double>& v) {
    if (c.world_size() == 1) return;
    at::Tensor t = at::tensor(v, at::kDouble);
    c.all_reduce_sum(t);
    for (size_t i = 0; i < v.size(); ++i) v[i] = t[static_cast<int64_t>(i)].item<double>();
  });
}

}  // namespace

TEST_CASE("step terms: a term some micro-batches lack is the mean of those that added it") {
  core::Collective alone;
  StepTerms terms;
  terms.add(3.0, {{"task", 1.0}, {"a/reg", 2.0}});
  terms.add(5.0, {{"task", 3.0}});
  StepTotals t = reduce(terms, alone);
  CHECK(t.loss == 4.0);
  CHECK(t.terms.at("task") == 2.0);
  CHECK(t.terms.at("a/reg") == 2.0);
  CHECK(t.stop.signal() == 0);
  // The next step: a name first seen now, and one absent this step is absent from its totals.
  terms.add(1.0, {{"task", 1.0}, {"b/late", 7.0}});
  t = reduce(terms, alone, SIGTERM);
  CHECK(t.terms.size() == 2);
  CHECK(t.terms.at("b/late") == 7.0);
  CHECK(t.terms.count("a/reg") == 0);
  CHECK(t.stop.signal() == SIGTERM);
}

TEST_CASE("step terms: two ranks agree on names either one added first, and on the stop request") {
  PairExchange exchange;
  std::vector<StepTotals> first(2), second(2), third(2);
  auto rank = [&](int r) {
    PairCollective c(exchange, r);
    StepTerms terms;
    // Step 1: both add task; only rank 1 adds "x/odd".
    terms.add(r == 0 ? 2.0 : 4.0, r == 0 ? std::vector<std::pair<std::string, double>>{{"task", 2.0}}
                                         : std::vector<std::pair<std::string, double>>{{"task", 4.0}, {"x/odd", 10.0}});
    first[r] = reduce(terms, c);
    // Step 2: only rank 0 adds "x/odd" (known now) and "y/new" (new again); rank 1 asks to stop.
    terms.add(1.0, r == 0 ? std::vector<std::pair<std::string, double>>{{"task", 1.0}, {"x/odd", 6.0}, {"y/new", 5.0}}
                          : std::vector<std::pair<std::string, double>>{{"task", 1.0}});
    second[r] = reduce(terms, c, r == 1 ? SIGINT : 0);
    // Step 3: nothing new: one reduction, the same layout on both ranks.
    terms.add(0.5, {{"task", 0.5}, {"y/new", r == 0 ? 1.0 : 3.0}});
    third[r] = reduce(terms, c);
  };
  std::thread r0(rank, 0), r1(rank, 1);
  r0.join();
  r1.join();
  for (int r = 0; r < 2; ++r) {
    CAPTURE(r);
    CHECK(first[r].loss == 3.0);
    CHECK(first[r].terms.at("task") == 3.0);
    CHECK(first[r].terms.at("x/odd") == 10.0);
    CHECK(second[r].terms.at("x/odd") == 6.0);
    CHECK(second[r].terms.at("y/new") == 5.0);
    CHECK(second[r].stop.signal() == SIGINT);
    CHECK(third[r].terms.at("y/new") == 2.0);
    CHECK(third[r].terms.count("x/odd") == 0);
    CHECK(third[r].stop.signal() == 0);
  }
}
