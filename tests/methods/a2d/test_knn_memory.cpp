// a2d.knn on 200k x 64 training features: the search is blockwise, so scoring holds O(chunk^2) distances
// (a few MB), never a queries x N block (200 MB here) nor N x N; the blockwise answer equals brute force.
#include <fstream>
#include <string>

#include <ATen/ATen.h>

#include "a2d_helpers.hpp"

using namespace a2dtest;

namespace {

/// A field of /proc/self/status in kB ("VmRSS", "VmHWM").
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

}  // namespace

TEST_CASE("a2d.knn scores against 200k training features in bounded memory and matches brute force") {
  const int64_t n = 200000, d = 64, queries = 256, k = 10;
  at::manual_seed(5);
  at::Tensor train = at::randn({n, d});
  auto knn = registry().make_scorer("a2d.knn", component_args("a2d.knn", {{"a", 32}, {"b", 32}}, 3, {{"k", k}, {"chunk", int64_t{1024}}}));
  TestContext ctx(nullptr, sdk::Phase::Fit);
  for (int64_t i = 0; i < n; i += 25000) {
    sdk::ForwardRecord r;
    r.fused = train.narrow(0, i, 25000);
    sdk::Batch b;
    b.label = at::zeros({25000}, at::kLong);
    knn->fit(r, b, ctx);
  }
  knn->finish_fit(ctx);
  REQUIRE(buffer(*knn, "bank").size(0) == n);
  sdk::ForwardRecord r;
  r.fused = at::randn({queries, d});

  // Reset the peak resident size (Linux >= 4.0), then score: the peak may grow by the blocks only.
  const bool can_reset = static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5");
  const long before = status_kb("VmRSS");
  at::Tensor got = knn->score(r, at::Tensor(), ctx);
  const long peak = status_kb("VmHWM");
  REQUIRE(can_reset);
  INFO("resident before " << before << " kB, peak while scoring " << peak << " kB");
  CHECK(peak - before < 48 * 1024);  // a queries x N distance block alone is 200 MB

  at::Tensor bank = train / train.norm(2, {1}, true);
  at::Tensor q = r.fused / r.fused.norm(2, {1}, true);
  std::vector<at::Tensor> want;
  for (int64_t i = 0; i < queries; i += 32) {
    at::Tensor dist = at::cdist(q.narrow(0, i, 32), bank);
    want.push_back(-std::get<0>(dist.topk(k, 1, false, true)).select(1, k - 1));
  }
  check_close(got, at::cat(want), 1e-5, "kth distance");
}
