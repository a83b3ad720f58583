// The release's shuffle (cf_encoder.py, CLIPVisionTower.edit_attention): one permutation per head of the
// flattened Q×K map, shared by the batch rows, here restricted to the allowed entries and followed by a row
// renormalisation. Each property below fails for the key-only shuffle (shuffle_keys) or for a mask leak.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <doctest/doctest.h>

#include "../../../plugins/causalmm/counterfactual_edits.hpp"
#include "causalmm_support.hpp"

using namespace cmmtest;
namespace cmm = mmdebias::causalmm;

namespace {

constexpr int64_t B = 2, H = 3, Q = 4, K = 6;

/// The shuffle's priorities [H, Q, K] drawn from a generator seeded with seed.
at::Tensor priorities(uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return cmm::draw_for_edit(cmm::Edit::Shuffle, {B, H, Q, K}, gen);
}

/// The allowed values of batch row b, head h, sorted.
at::Tensor allowed_values(const at::Tensor& map, const at::Tensor& m, int64_t b, int64_t h) {
  return std::get<0>(map[b][h].masked_select(m[b][h]).sort());
}

}  // namespace

TEST_CASE("shuffle: every row is a distribution over its allowed keys, masked entries exactly 0") {
  for (const auto& [mask_name, mask] : test_masks(B, Q, K)) {
    INFO("mask " << mask_name);
    const at::Tensor w = stochastic_weights({B, H, Q, K}, mask, 21);
    const at::Tensor m = cmm::full_mask(w, mask);
    const at::Tensor u = priorities(4);
    const at::Tensor out = cmm::edit_attention(w, mask, cmm::Edit::Shuffle, u);
    CHECK(out.masked_select(m.logical_not()).abs().sum().item<double>() == 0.0);
    CHECK(out.min().item<double>() >= 0.0);
    CHECK(at::allclose(out.sum(-1), m.any(-1).to(at::kDouble), 0, 1e-12));  // 1 per row with an allowed key, else 0
    // Exactly a row renormalisation of the permuted map: out · (row total of the permuted map) = the permuted map.
    const at::Tensor permuted = cmm::shuffle_map(w * m.to(at::kDouble), m, u);
    CHECK(at::allclose(out * permuted.sum(-1, true), permuted, 0, 1e-14));
  }
}

TEST_CASE("shuffle: before renormalisation each head's allowed values are a permutation of the original ones") {
  for (const auto& [mask_name, mask] : test_masks(B, Q, K)) {
    INFO("mask " << mask_name);
    const at::Tensor w = stochastic_weights({B, H, Q, K}, mask, 22);
    const at::Tensor m = cmm::full_mask(w, mask);
    const at::Tensor permuted = cmm::shuffle_map(w * m.to(at::kDouble), m, priorities(5));
    CHECK(permuted.masked_select(m.logical_not()).abs().sum().item<double>() == 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        INFO("batch row " << b << ", head " << h);
        CHECK(at::equal(allowed_values(permuted, m, b, h), allowed_values(w, m, b, h)));
      }
    // Values cross query rows (a key-only shuffle would keep every row's multiset).
    CHECK_FALSE(at::equal(std::get<0>(permuted.sort(-1)), std::get<0>((w * m.to(at::kDouble)).sort(-1))));
  }
}

TEST_CASE("shuffle without a mask is the release's gather of the flattened map by argsort(u_h), shared by the batch") {
  const at::Tensor one = stochastic_weights({1, H, Q, K}, {}, 23);
  const at::Tensor w = one.expand({B, H, Q, K}).clone();  // identical batch rows
  const at::Tensor u = priorities(6);
  const at::Tensor permuted = cmm::shuffle_map(w, cmm::full_mask(w, {}), u);
  const at::Tensor pi = u.reshape({1, H, Q * K}).argsort(/*dim=*/-1, /*descending=*/false).expand({B, H, Q * K});
  CHECK(at::equal(permuted, w.reshape({B, H, Q * K}).gather(-1, pi).view({B, H, Q, K})));
  CHECK(at::equal(permuted[0], permuted[1]));
  const at::Tensor out = cmm::edit_attention(w, {}, cmm::Edit::Shuffle, u);
  CHECK(at::allclose(out, permuted / permuted.sum(-1, true), 0, 1e-14));
}

TEST_CASE("shuffle: different heads get different permutations") {
  // The same map of distinct values in every head: only the heads' permutations can make them differ.
  const at::Tensor head = at::arange(Q * K, at::kDouble).add(1).view({1, 1, Q, K});
  const at::Tensor w = (head / head.sum(-1, true)).expand({B, H, Q, K}).clone();
  const at::Tensor permuted = cmm::shuffle_map(w, cmm::full_mask(w, {}), priorities(7));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t g = h + 1; g < H; ++g) {
      INFO("heads " << h << " and " << g);
      CHECK_FALSE(at::equal(permuted[0][h], permuted[0][g]));
    }
}

TEST_CASE("shuffle: the same seed gives the same map, another seed another map") {
  const at::Tensor w = stochastic_weights({B, H, Q, K}, {}, 24);
  auto shuffled = [&](uint64_t seed) { return cmm::edit_attention(w, {}, cmm::Edit::Shuffle, priorities(seed)); };
  CHECK(at::equal(shuffled(8), shuffled(8)));
  CHECK_FALSE(at::allclose(shuffled(8), shuffled(9)));
  CHECK(priorities(8).sizes() == at::IntArrayRef({H, Q, K}));
  CHECK(error_of([&] { cmm::edit_attention(w, {}, cmm::Edit::Shuffle, at::rand({H, K}, at::kDouble)); })
            .find("[heads, Q, K]") != std::string::npos);
}
