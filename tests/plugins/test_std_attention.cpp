// std plugin attention sites (std.tokens, std.cross_attention): listing, recording, overrides, padding and causal masks.
#include <doctest/doctest.h>

#include "std_helpers.hpp"

using namespace stdtest;

namespace {

/// Uniform weights over the allowed keys of each row (zero rows stay zero).
at::Tensor uniform_override(const at::Tensor& weights, const at::Tensor& mask) {
  at::Tensor allowed = mask.defined() ? mask.to(weights.scalar_type()).expand_as(weights) : at::ones_like(weights);
  return allowed / allowed.sum(-1, true).clamp_min(1.0);
}

at::Tensor padded_ids() {
  return at::tensor(std::vector<int64_t>{4, 9, 2, 0, 0, 0,  //
                                         1, 0, 3, 0, 5, 0,  //
                                         7, 7, 7, 7, 7, 7,  //
                                         8, 0, 0, 0, 0, 0})
      .view({4, 6});
}

std::shared_ptr<sdk::Encoder> text_encoder(const std::string& pool, bool causal, int64_t layers = 2) {
  return make_encoder("std.tokens", {tokens("text", 6, 12)}, "text",
                      {{"dim", int64_t{8}}, {"heads", int64_t{2}}, {"ff_dim", int64_t{16}}, {"layers", layers},
                       {"pool", pool}, {"causal", causal}});
}

at::Tensor param(const torch::nn::Module& m, const std::string& name) {
  auto params = m.named_parameters();
  REQUIRE(params.contains(name));
  return params[name];
}

}  // namespace

TEST_CASE("std.tokens: one site per layer, named after the instance path") {
  auto enc = text_encoder("mean", true, 3);
  auto sites = enc->attention_sites();
  REQUIRE(sites.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(sites[i].name == "encoders.text.layer" + std::to_string(i));
    CHECK(sites[i].heads == 2);
    CHECK(sites[i].causal);
  }
  CHECK_FALSE(text_encoder("mean", false)->attention_sites()[0].causal);
}

TEST_CASE("std.tokens: recorded weights are row-stochastic over non-padding keys and zero on padding") {
  at::manual_seed(3);
  auto enc = text_encoder("mean", false);
  sdk::AttentionSites sites;
  sites.set_recording(true);
  at::Tensor ids = padded_ids();
  enc->encode(ids, sites);
  REQUIRE(sites.recorded().size() == 2);
  at::Tensor w = sites.recorded().at("encoders.text.layer0");
  CHECK(w.sizes() == at::IntArrayRef({4, 2, 6, 6}));
  at::Tensor pad_keys = ids.eq(0).view({4, 1, 1, 6}).expand_as(w);
  CHECK(w.masked_select(pad_keys).abs().max().item<double>() == 0.0);
  CHECK(at::allclose(w.sum(-1), at::ones({4, 2, 6}), 1e-5, 1e-6));
}

TEST_CASE("std.tokens: an override replaces the weights; one on an unknown site changes nothing") {
  at::manual_seed(4);
  for (const std::string pool : {"mean", "cls"}) {
    INFO("pool " << pool);
    auto enc = text_encoder(pool, false);
    enc->eval();
    at::Tensor ids = padded_ids();
    const at::Tensor base = enc->encode(ids, {});

    sdk::AttentionSites other;
    other.set_override("encoders.image.layer0", uniform_override);
    other.set_override("encoders.text.layer9", uniform_override);
    CHECK(at::equal(enc->encode(ids, other), base));

    sdk::AttentionSites sites;
    sites.set_recording(true);
    at::Tensor expected;
    sites.set_override("encoders.text.layer1", [&](const at::Tensor& w, const at::Tensor& mask) {
      expected = uniform_override(w, mask);
      return expected;
    });
    at::Tensor changed = enc->encode(ids, sites);
    CHECK_FALSE(at::allclose(changed, base, 1e-4, 1e-5));
    REQUIRE(expected.defined());
    CHECK(at::equal(sites.recorded().at("encoders.text.layer1"), expected));
    // The override is uniform over non-padding keys: sample 0 has 3 real tokens (and, with pool=cls,
    // the CLS token appended after the last position).
    at::Tensor row = expected[0][0][0];
    const double allowed = pool == "cls" ? 4.0 : 3.0;
    CHECK(at::allclose(row.narrow(0, 0, 3), at::full({3}, 1.0 / allowed)));
    CHECK(row.narrow(0, 3, 3).abs().max().item<double>() == 0.0);
  }
}

TEST_CASE("std.tokens: padding positions do not reach the pooled output; all-padding rows give no NaN") {
  at::manual_seed(5);
  for (const std::string pool : {"mean", "cls"}) {
    for (bool causal : {false, true}) {
      INFO("pool " << pool << " causal " << causal);
      auto enc = text_encoder(pool, causal);
      enc->eval();
      at::Tensor ids = padded_ids();
      const at::Tensor base = enc->encode(ids, {});
      // Change what the padding positions carry: the padding id's embedding and the positional
      // embeddings of positions that are padding in every row (3 and 5). Masked keys and
      // pooling must make this invisible.
      {
        at::NoGradGuard no_grad;
        param(*enc, "embed.weight")[0].normal_();
        param(*enc, "pos")[3].normal_();
        param(*enc, "pos")[5].normal_();
      }
      // Rows 0, 1 and 3: only padding positions changed for them... except row 2 (all real tokens),
      // which sees positions 3 and 5 as real tokens.
      at::Tensor after = enc->encode(ids, {});
      for (int64_t row : {0, 1, 3}) {
        INFO("row " << row);
        CHECK(at::allclose(after[row], base[row], 1e-5, 1e-6));
      }
      CHECK_FALSE(at::allclose(after[2], base[2], 1e-5, 1e-6));

      enc->train();
      at::Tensor all_pad = at::zeros({2, 6}, at::kLong);
      all_pad[1][2] = 3;
      at::Tensor z = enc->encode(all_pad, {});
      CHECK(z.isfinite().all().item<bool>());
      if (pool == "mean") CHECK(z[0].abs().max().item<double>() == 0.0);
      z.sum().backward();
      for (const auto& p : enc->parameters())
        if (p.grad().defined()) CHECK(p.grad().isfinite().all().item<bool>());
    }
  }
}

TEST_CASE("std.tokens: a causal mask keeps weights above the diagonal at zero") {
  at::manual_seed(6);
  auto enc = text_encoder("mean", true);
  sdk::AttentionSites sites;
  sites.set_recording(true);
  at::Tensor ids = at::randint(1, 12, {3, 6}, at::kLong);
  ids[0][4] = 0;
  enc->encode(ids, sites);
  for (const auto& [name, w] : sites.recorded()) {
    INFO(name);
    CHECK(w.triu(1).abs().max().item<double>() == 0.0);
    CHECK(w.tril().abs().sum().item<double>() > 0.0);
    CHECK(at::allclose(w.sum(-1), at::ones({3, 2, 6}), 1e-5, 1e-6));
  }
}

TEST_CASE("std.cross_attention: sites, recording and overrides") {
  at::manual_seed(7);
  std::vector<std::pair<std::string, sdk::FeatureSpec>> feats = {{"image", pooled(5)}, {"text", token_features(7, 4)}};
  auto fusion = make_fusion("std.cross_attention", feats, 3, {{"layers", int64_t{2}}, {"dim", int64_t{8}}, {"heads", int64_t{2}}});
  fusion->eval();
  auto infos = fusion->attention_sites();
  REQUIRE(infos.size() == 2);
  CHECK(infos[0].name == "fusion.layer0");
  CHECK(infos[1].name == "fusion.layer1");
  CHECK(infos[0].heads == 2);

  sdk::Features z = random_features(feats, 3);
  const at::Tensor base = fusion->fuse(z, {});

  sdk::AttentionSites none;
  none.set_override("fusion.layer7", uniform_override);
  CHECK(at::equal(fusion->fuse(z, none), base));

  sdk::AttentionSites sites;
  sites.set_recording(true);
  at::Tensor expected;
  sites.set_override("fusion.layer0", [&](const at::Tensor& w, const at::Tensor& mask) {
    expected = uniform_override(w, mask);
    return expected;
  });
  at::Tensor changed = fusion->fuse(z, sites);
  CHECK_FALSE(at::allclose(changed, base, 1e-4, 1e-5));
  // 1 CLS + 1 pooled token + 4 text tokens.
  CHECK(expected.sizes() == at::IntArrayRef({3, 2, 6, 6}));
  CHECK(at::equal(sites.recorded().at("fusion.layer0"), expected));
  CHECK(sites.recorded().at("fusion.layer1").sizes() == at::IntArrayRef({3, 2, 6, 6}));
}
