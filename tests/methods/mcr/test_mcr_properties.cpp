// MCR's properties from methods.md on the plugin's own functions: J symmetric, within [0, ln 2], 0 for
// identical inputs; the identity permutation gives R = 0; stop-gradients route as specified; greedy's
// sign pattern; the shuffle types; the permuted passes batched into one call in the caller's mode.
#include <cmath>

#include <ATen/ATen.h>

#include "mcr_helpers.hpp"

#include <doctest/doctest.h>

using namespace mcrtest;

namespace {

/// A fusion that counts its calls and forwards to another (to see that the passes are batched).
class CountingFusion : public sdk::Fusion {
 public:
  explicit CountingFusion(std::shared_ptr<sdk::Fusion> inner) : inner_(std::move(inner)) { register_module("inner", inner_); }
  int64_t fused_dim() const override { return inner_->fused_dim(); }
  at::Tensor fuse(const sdk::Features& f, const sdk::AttentionSites& s) override {
    ++fuse_calls;
    rows_seen = f.begin()->second.size(0);
    return inner_->fuse(f, s);
  }
  at::Tensor head(const at::Tensor& fused) override { ++head_calls; return inner_->head(fused); }
  int fuse_calls = 0, head_calls = 0;
  int64_t rows_seen = 0;

 private:
  std::shared_ptr<sdk::Fusion> inner_;
};

/// Total gradient of R (value only, λ = 1) for a game with detached base, per parameter.
std::map<std::string, at::Tensor> game_grads(TinyModel& m, mcr::Game game, const mcr::Pairing& rows, bool detach_base) {
  m.zero_grad();
  auto f = m.features();
  at::Tensor base = m.base(f);
  mcr::play(*m.fusion, f, detach_base ? base.detach() : base, rows, game).value.backward();
  return {{"wa", grad_or_zero(m.wa)}, {"wv", grad_or_zero(m.wv)}, {"head", grad_or_zero(m.head_weight())}};
}

}  // namespace

TEST_CASE("J is symmetric, within [0, ln 2] and 0 for identical inputs") {
  const at::Tensor x = fixed({40, 5}, 11, 4.0), y = fixed({40, 5}, 12, 4.0);
  const double j = mcr::jensen_shannon(x, y).item<double>();
  CHECK(j > 0.0);
  CHECK(j <= std::log(2.0));
  CHECK(std::abs(j - mcr::jensen_shannon(y, x).item<double>()) < 1e-15);
  CHECK(std::abs(mcr::jensen_shannon(x, x).item<double>()) < 1e-15);
  // Confident, opposite predictions reach ln 2 (disjoint supports), still finite with the 1e-20 floor.
  const at::Tensor a = at::tensor({60.0, -60.0, -60.0}, at::kDouble).view({1, 3});
  const at::Tensor b = at::tensor({-60.0, 60.0, -60.0}, at::kDouble).view({1, 3});
  const double far = mcr::jensen_shannon(a, b).item<double>();
  CHECK(std::isfinite(far));
  CHECK(far <= std::log(2.0) + 1e-12);
  CHECK(far == doctest::Approx(std::log(2.0)).epsilon(1e-9));
  // Batch mean: J of a stack is the mean of the rows' J.
  double mean = 0;
  for (int64_t i = 0; i < 40; ++i) mean += mcr::jensen_shannon(x.narrow(0, i, 1), y.narrow(0, i, 1)).item<double>() / 40;
  CHECK(j == doctest::Approx(mean).epsilon(1e-12));
}

TEST_CASE("the identity permutation gives R = 0 and no gradient, in every game") {
  TinyModel m;
  const at::Tensor identity = at::arange(TinyModel::kBatch, at::kLong).repeat({4, 1});
  const auto rows = mcr::pair_rows(identity, m.labels, mcr::Shuffle::Rand);
  REQUIRE(rows.rows() == 4 * TinyModel::kBatch);
  for (auto game : {mcr::Game::Greedy, mcr::Game::Independent, mcr::Game::Collaborative}) {
    auto f = m.features();
    const auto result = mcr::play(*m.fusion, f, m.base(f), rows, game);
    CHECK(std::abs(result.value.item<double>()) < 1e-12);
    for (const auto& kv : result.divergence) CHECK(std::abs(kv.second.item<double>()) < 1e-12);
    const auto g = game_grads(m, game, rows, false);
    for (const auto& kv : g) CHECK(kv.second.abs().max().item<double>() < 1e-9);
  }
}

TEST_CASE("h(z_a[pi], sg z_v) gives no gradient to v's encoder, h(sg z_a[pi], z_v) none to a's") {
  TinyModel m;
  const auto rows = mcr::pair_rows(fixed_permutations(), m.labels, mcr::Shuffle::Rand);
  struct Case { mcr::Route route; bool a_learns, v_learns; };
  for (const Case c : {Case{mcr::Route::Own, true, false}, Case{mcr::Route::Others, false, true}, Case{mcr::Route::All, true, true}}) {
    m.zero_grad();
    const auto f = mcr::pass_features(m.features(), rows, {"a", c.route});
    stdtest::weighted_sum(m.fusion->head(m.fusion->fuse(f, sdk::AttentionSites()))).backward();
    CHECK((grad_or_zero(m.wa).abs().sum().item<double>() > 0) == c.a_learns);
    CHECK((grad_or_zero(m.wv).abs().sum().item<double>() > 0) == c.v_learns);
    CHECK(grad_or_zero(m.head_weight()).abs().sum().item<double>() > 0);  // the head always learns
  }
}

TEST_CASE("greedy's signs: each encoder maximises its own J and minimises the other's") {
  TinyModel m;
  const auto rows = mcr::pair_rows(fixed_permutations(), m.labels, mcr::Shuffle::Rand);
  // With the base detached: greedy = own - cross, collaborative = own + cross, independent = own, per encoder.
  const auto greedy = game_grads(m, mcr::Game::Greedy, rows, true);
  const auto indep = game_grads(m, mcr::Game::Independent, rows, true);
  const auto collab = game_grads(m, mcr::Game::Collaborative, rows, true);
  for (const char* enc : {"wa", "wv"}) {
    CAPTURE(enc);
    const at::Tensor cross = collab.at(enc) - indep.at(enc);
    CHECK(cross.abs().max().item<double>() > 1e-6);  // the cross term exists...
    CHECK(at::allclose(greedy.at(enc), indep.at(enc) - cross, 1e-9, 1e-12));  // ...and greedy flips its sign
  }
  // Greedy's head terms cancel (-J + J per modality); its value is 0 although its gradients are not.
  CHECK(greedy.at("head").abs().max().item<double>() < 1e-12);
  auto f = m.features();
  CHECK(std::abs(mcr::play(*m.fusion, f, m.base(f), rows, mcr::Game::Greedy).value.item<double>()) < 1e-12);
  // Sign: a small step down the independent loss raises a's own divergence J(h(z_a[pi], z_v)).
  const at::Tensor base_rows = m.base(m.features()).detach().index_select(0, rows.target);  // held fixed
  auto j_a = [&] {
    auto feats = m.features();
    return mcr::jensen_shannon(m.fusion->head(m.fusion->fuse(mcr::pass_features(feats, rows, {"a", mcr::Route::All}), sdk::AttentionSites())),
                               base_rows).item<double>();
  };
  const double before = j_a();
  { at::NoGradGuard g; m.wa.sub_(1e-3 * indep.at("wa")); }
  CHECK(j_a() > before);
}

TEST_CASE("shuffle types: rand keeps every row, rsi drops fixed points, rsl drops same-label pairs") {
  const at::Tensor perms = at::tensor({1, 0, 2, 3, 3, 2, 1, 0}, at::kLong).view({2, 4});
  const at::Tensor labels = at::tensor({0, 0, 1, 2}, at::kLong);
  const auto rand = mcr::pair_rows(perms, labels, mcr::Shuffle::Rand);
  CHECK(rand.target.equal(at::tensor({0, 1, 2, 3, 0, 1, 2, 3}, at::kLong)));
  CHECK(rand.source.equal(at::tensor({1, 0, 2, 3, 3, 2, 1, 0}, at::kLong)));
  const auto rsi = mcr::pair_rows(perms, labels, mcr::Shuffle::Rsi);  // 2 -> 2 and 3 -> 3 are fixed points
  CHECK(rsi.target.equal(at::tensor({0, 1, 0, 1, 2, 3}, at::kLong)));
  CHECK(rsi.source.equal(at::tensor({1, 0, 3, 2, 1, 0}, at::kLong)));
  const auto rsl = mcr::pair_rows(perms, labels, mcr::Shuffle::Rsl);  // 0 <-> 1 share label 0
  CHECK(rsl.target.equal(at::tensor({0, 1, 2, 3}, at::kLong)));
  CHECK(rsl.source.equal(at::tensor({3, 2, 1, 0}, at::kLong)));
  CHECK(mcr::parse_shuffle("rsl") == mcr::Shuffle::Rsl);
  CHECK_THROWS_WITH(mcr::parse_shuffle("x"), doctest::Contains("rand, rsl or rsi"));
}

TEST_CASE("drawn permutations are permutations, reproducible from the generator, redrawn when they keep <= 1 row") {
  const at::Tensor labels = at::tensor({0, 1, 0, 2, 1, 0, 2, 1}, at::kLong);
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(7), g2 = at::make_generator<at::CPUGeneratorImpl>(7);
  const at::Tensor p1 = mcr::draw_permutations(g1, labels, 16, mcr::Shuffle::Rsl);
  CHECK(p1.equal(mcr::draw_permutations(g2, labels, 16, mcr::Shuffle::Rsl)));
  CHECK_FALSE(p1.equal(mcr::draw_permutations(g1, labels, 16, mcr::Shuffle::Rsl)));  // the stream moved on
  for (int64_t s = 0; s < 16; ++s) {
    CHECK(std::get<0>(p1[s].sort()).equal(at::arange(8, at::kLong)));
    CHECK(mcr::kept_rows(p1[s], labels, mcr::Shuffle::Rsl).sum().item<int64_t>() > 1);
  }
  // One label only: rsl can keep nothing; the draw gives up and the game is 0 (no rows), not a hang.
  TinyModel m;
  const at::Tensor same = at::zeros({TinyModel::kBatch}, at::kLong);
  const auto rows = mcr::pair_rows(mcr::draw_permutations(g1, same, 4, mcr::Shuffle::Rsl), same, mcr::Shuffle::Rsl);
  CHECK(rows.rows() == 0);
  auto f = m.features();
  CHECK(mcr::play(*m.fusion, f, m.base(f), rows, mcr::Game::Independent).value.item<double>() == 0.0);
}

TEST_CASE("all permuted passes go through the fusion and head in one call, in the caller's train/eval mode") {
  TinyModel m;
  auto counting = std::make_shared<CountingFusion>(m.fusion);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto rows = mcr::pair_rows(mcr::draw_permutations(gen, m.labels, 32, mcr::Shuffle::Rand), m.labels, mcr::Shuffle::Rand);
  const auto passes = mcr::passes_of(mcr::Game::Greedy, {"a", "v"});
  REQUIRE(passes.size() == 4);
  for (bool training : {true, false}) {
    counting->train(training);
    counting->fuse_calls = counting->head_calls = 0;
    const auto logits = mcr::permuted_logits(*counting, m.features(), rows, passes);
    CHECK(counting->fuse_calls == 1);
    CHECK(counting->head_calls == 1);
    CHECK(counting->rows_seen == 4 * 32 * TinyModel::kBatch);
    CHECK(counting->is_training() == training);
    CHECK(m.fusion->is_training() == training);
    // The batched call equals the passes one by one.
    for (size_t i = 0; i < passes.size(); ++i) {
      at::Tensor alone = m.fusion->head(m.fusion->fuse(mcr::pass_features(m.features(), rows, passes[i]), sdk::AttentionSites()));
      CHECK(at::allclose(logits[i], alone, 1e-12, 1e-12));
    }
  }
}

TEST_CASE("more than two modalities: each is permuted in turn against the others") {
  auto fusion = stdtest::make_fusion("std.concat", {{"a", stdtest::pooled(2)}, {"b", stdtest::pooled(2)}, {"c", stdtest::pooled(2)}}, 3);
  fusion->to(at::kDouble);
  sdk::Features f;
  std::vector<at::Tensor> leaves;
  for (auto [name, seed] : std::vector<std::pair<std::string, unsigned>>{{"a", 21}, {"b", 22}, {"c", 23}}) {
    leaves.push_back(fixed({5, 2}, seed).requires_grad_(true));
    f[name] = leaves.back() * 1.0;
  }
  const at::Tensor labels = at::tensor({0, 1, 2, 0, 1}, at::kLong);
  const auto rows = mcr::pair_rows(at::tensor({4, 3, 2, 1, 0, 1, 2, 3, 4, 0}, at::kLong).view({2, 5}), labels, mcr::Shuffle::Rand);
  const at::Tensor base = fusion->head(fusion->fuse(f, sdk::AttentionSites())).detach();
  const auto result = mcr::play(*fusion, f, base, rows, mcr::Game::Independent);
  CHECK(result.divergence.size() == 3);
  // Independent: -Σ_m J(h(z_m[π], sg z_-m)); each J computed by hand from its own pass.
  double want = 0;
  for (const char* name : {"a", "b", "c"}) {
    at::Tensor logits = fusion->head(fusion->fuse(mcr::pass_features(f, rows, {name, mcr::Route::All}), sdk::AttentionSites()));
    want -= mcr::jensen_shannon(logits, base.index_select(0, rows.target)).item<double>();
  }
  CHECK(result.value.item<double>() == doctest::Approx(want).epsilon(1e-12));
  result.value.backward();
  for (const auto& leaf : leaves) CHECK(leaf.grad().defined());
}
