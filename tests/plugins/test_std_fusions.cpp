// std plugin fusions through the real loader: shapes, gradients, per-modality logits (shared with the fused head, or
// separate classifiers: the modality_heads option).
#include <doctest/doctest.h>
#include <torch/autograd.h>

#include "std_helpers.hpp"

using namespace stdtest;

namespace {

using FeatureList = std::vector<std::pair<std::string, sdk::FeatureSpec>>;

const FeatureList kThree = {{"audio", pooled(4)}, {"image", pooled(6)}, {"text", pooled(5)}};

}  // namespace

TEST_CASE("std fusions: shapes with three modalities, and every parameter trained") {
  const std::vector<std::pair<std::string, int64_t>> fusions = {
      {"std.concat", 15}, {"std.late", 15}, {"std.gated", 64}, {"std.cross_attention", 64}};
  for (const auto& [type, fused_dim] : fusions) {
    for (const std::string pool : {"cls", "mean"}) {
      if (type != "std.cross_attention" && pool == "mean") continue;
      INFO(type << " pool " << pool);
      at::manual_seed(10);
      std::map<std::string, sdk::OptionValue> opts;
      if (type == "std.cross_attention") opts["pool"] = pool;
      auto fusion = make_fusion(type, kThree, 3, opts);
      CHECK(fusion->fused_dim() == fused_dim);
      sdk::Features z = random_features(kThree, 7);
      at::Tensor fused = fusion->fuse(z, {});
      CHECK(fused.sizes() == at::IntArrayRef({7, fused_dim}));
      at::Tensor logits = fusion->head(fused);
      CHECK(logits.sizes() == at::IntArrayRef({7, 3}));
      logits.sum().backward();
      check_all_grads(*fusion);
      for (const auto& [name, t] : z) {
        INFO("features of " << name);
        REQUIRE(t.grad().defined());
        CHECK(t.grad().abs().sum().item<double>() > 0.0);
      }
      if (fusion->has_modality_heads())
        for (const auto& [name, t] : z) CHECK(fusion->modality_head(name, t).sizes() == at::IntArrayRef({7, 3}));
    }
  }
}

TEST_CASE("std.concat: fused features are the inputs in dataset order") {
  auto fusion = make_fusion("std.concat", kThree, 3);
  sdk::Features z = random_features(kThree, 2);
  at::Tensor fused = fusion->fuse(z, {});
  CHECK(at::equal(fused.narrow(1, 0, 4), z["audio"]));
  CHECK(at::equal(fused.narrow(1, 4, 6), z["image"]));
  CHECK(at::equal(fused.narrow(1, 10, 5), z["text"]));
}

TEST_CASE("std.concat: per-modality logits sum to the fused logits plus (M - 1) b") {
  at::manual_seed(11);
  auto fusion = make_fusion("std.concat", kThree, 4);
  REQUIRE(fusion->has_modality_heads());
  sdk::Features z = random_features(kThree, 9);
  at::Tensor logits = fusion->head(fusion->fuse(z, {}));
  at::Tensor sum = at::zeros_like(logits);
  for (const auto& [name, spec] : kThree) sum = sum + fusion->modality_head(name, z[name]);
  auto params = fusion->named_parameters();
  at::Tensor bias = params["head.bias"];
  CHECK(at::allclose(sum, logits + 2.0 * bias, 1e-5, 1e-5));
  // Each per-modality logit is W [0; z_m; 0] + b.
  at::Tensor padded = at::cat({at::zeros({9, 4}), z["image"], at::zeros({9, 5})}, 1);
  CHECK(at::allclose(fusion->modality_head("image", z["image"]), fusion->head(padded), 1e-5, 1e-6));
}

TEST_CASE("std.late: per-modality logits sum exactly to the fused logits") {
  at::manual_seed(12);
  auto fusion = make_fusion("std.late", kThree, 4);
  REQUIRE(fusion->has_modality_heads());
  sdk::Features z = random_features(kThree, 9);
  at::Tensor logits = fusion->head(fusion->fuse(z, {}));
  at::Tensor sum;
  for (const auto& [name, spec] : kThree) {
    at::Tensor part = fusion->modality_head(name, z[name]);
    sum = sum.defined() ? sum + part : part;
  }
  CHECK(at::equal(sum, logits));
}

TEST_CASE("std.gated: gates are a convex combination; one modality's head is its unimodal prediction") {
  at::manual_seed(13);
  SUBCASE("a single modality: the gate is 1 and the fused logits are its modality logits") {
    FeatureList one = {{"image", pooled(6)}};
    auto fusion = make_fusion("std.gated", one, 3, {{"dim", int64_t{8}}});
    sdk::Features z = random_features(one, 5);
    at::Tensor logits = fusion->head(fusion->fuse(z, {}));
    CHECK(at::allclose(logits, fusion->modality_head("image", z["image"]), 1e-5, 1e-6));
  }
  SUBCASE("fused features stay within [-1, 1] (a convex mix of tanh outputs)") {
    auto fusion = make_fusion("std.gated", kThree, 3, {{"dim", int64_t{8}}});
    sdk::Features z = random_features(kThree, 5);
    for (auto& [name, t] : z) t = (t * 100.0).detach();
    at::Tensor fused = fusion->fuse(z, {});
    CHECK(fused.sizes() == at::IntArrayRef({5, 8}));
    CHECK(fused.abs().max().item<double>() <= 1.0);
  }
}

TEST_CASE("std.cross_attention: token features stay sequences; pooled features become one token") {
  at::manual_seed(14);
  FeatureList feats = {{"audio", pooled(4)}, {"text", token_features(6, 5)}, {"video", token_features(3, 2)}};
  auto fusion = make_fusion("std.cross_attention", feats, 2, {{"dim", int64_t{16}}, {"heads", int64_t{4}}, {"layers", int64_t{2}}});
  CHECK_FALSE(fusion->has_modality_heads());
  sdk::Features z = random_features(feats, 3);
  sdk::AttentionSites sites;
  sites.set_recording(true);
  at::Tensor fused = fusion->fuse(z, sites);
  CHECK(fused.sizes() == at::IntArrayRef({3, 16}));
  // CLS + 1 + 5 + 2 positions.
  CHECK(sites.recorded().at("fusion.layer0").sizes() == at::IntArrayRef({3, 4, 9, 9}));
  at::Tensor logits = fusion->head(fused);
  CHECK(logits.sizes() == at::IntArrayRef({3, 2}));
  logits.sum().backward();
  check_all_grads(*fusion);
}

TEST_CASE("std fusions: modality heads and features are checked") {
  auto fusion = make_fusion("std.late", kThree, 3);
  auto msg = error_of([&] { fusion->modality_head("depth", at::randn({2, 4})); });
  CHECK(contains(msg, "'depth'"));
  CHECK(contains(msg, "audio, image, text"));
  msg = error_of([&] { fusion->modality_head("image", at::randn({2, 5})); });
  CHECK(contains(msg, "'image'"));
  CHECK(contains(msg, "[B, 6]"));
  sdk::Features z = random_features(kThree, 2);
  z.erase("text");
  msg = error_of([&] { fusion->fuse(z, {}); });
  CHECK(contains(msg, "'text'"));
}

namespace {

/// The fusions with per-modality heads and, for each, its shared per-modality logits written out from its parameters.
using SharedHead = std::function<at::Tensor(torch::nn::Module&, const std::string&, const at::Tensor&)>;

at::Tensor param(torch::nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters(true))
    if (p.key() == name) return p.value();
  FAIL("no parameter " << name);
  return {};
}

const std::vector<std::pair<std::string, SharedHead>>& fusions_with_heads() {
  static const std::vector<std::pair<std::string, SharedHead>> list = {
      {"std.concat", [](torch::nn::Module& f, const std::string& m, const at::Tensor& z) {
         const int64_t offset = m == "audio" ? 0 : m == "image" ? 4 : 10;  // kThree's slices
         return at::linear(z, param(f, "head.weight").narrow(1, offset, z.size(1)), param(f, "head.bias"));
       }},
      {"std.late", [](torch::nn::Module& f, const std::string& m, const at::Tensor& z) {
         return at::linear(z, param(f, "head_" + m + ".weight"), param(f, "head_" + m + ".bias"));
       }},
      {"std.gated", [](torch::nn::Module& f, const std::string& m, const at::Tensor& z) {
         const at::Tensor h = at::tanh(at::linear(z, param(f, "proj_" + m + ".weight"), param(f, "proj_" + m + ".bias")));
         return at::linear(h, param(f, "head.weight"), param(f, "head.bias"));
       }},
  };
  return list;
}

std::shared_ptr<sdk::Fusion> seeded_fusion(const std::string& type, std::map<std::string, sdk::OptionValue> opts) {
  at::manual_seed(7);
  return make_fusion(type, kThree, 3, std::move(opts));
}

}  // namespace

TEST_CASE("std fusions: modality_heads shared (the default) is the fused head's parameters, bit for bit as before") {
  for (const auto& [type, shared_head] : fusions_with_heads()) {
    INFO(type);
    auto by_default = seeded_fusion(type, {});
    auto shared = seeded_fusion(type, {{"modality_heads", std::string("shared")}});
    const auto a = by_default->named_parameters(true), b = shared->named_parameters(true);
    REQUIRE(a.size() == b.size());
    for (const auto& p : a) {
      INFO(p.key());
      CHECK(p.key().find("modality_head") == std::string::npos);  // no parameter beyond the fusion's own
      CHECK(at::equal(p.value(), b[p.key()]));
    }
    sdk::Features z = random_features(kThree, 5);
    for (const auto& [name, t] : z) {
      INFO(name);
      CHECK(at::equal(by_default->modality_head(name, t), shared_head(*by_default, name, t)));
      CHECK(at::equal(shared->modality_head(name, t), shared_head(*shared, name, t)));
    }
  }
}

TEST_CASE("std fusions: modality_heads separate gives one Linear per modality sharing nothing with the fused head") {
  for (const auto& [type, shared_head] : fusions_with_heads()) {
    INFO(type);
    auto shared = seeded_fusion(type, {});
    auto separate = seeded_fusion(type, {{"modality_heads", std::string("separate")}});
    // The fused path is untouched: the same parameters with the same initial values, then one head per modality.
    auto own = separate->named_parameters(true);
    for (const auto& p : shared->named_parameters(true)) CHECK(at::equal(p.value(), own[p.key()]));
    CHECK(own.size() == shared->named_parameters(true).size() + 2 * kThree.size());
    sdk::Features z = random_features(kThree, 5);
    CHECK(at::equal(separate->head(separate->fuse(z, {})), shared->head(shared->fuse(z, {}))));
    for (const auto& [name, t] : z) {
      INFO(name);
      const std::string mine = "modality_head_" + name + ".";
      CHECK(param(*separate, mine + "weight").sizes() == at::IntArrayRef({3, t.size(1)}));
      const at::Tensor logits = separate->modality_head(name, t);
      CHECK(at::equal(logits, at::linear(t, param(*separate, mine + "weight"), param(*separate, mine + "bias"))));
      // Its gradient reaches its own classifier and nothing else of the fusion.
      std::vector<at::Tensor> params;
      std::vector<std::string> names;
      for (const auto& p : own) {
        params.push_back(p.value());
        names.push_back(p.key());
      }
      const auto grads = torch::autograd::grad({logits.sum()}, params, {}, false, false, true);
      for (size_t i = 0; i < params.size(); ++i) {
        INFO(names[i]);
        const bool is_mine = names[i].rfind(mine, 0) == 0;
        CHECK(grads[i].defined() == is_mine);
      }
    }
    // And the fused head's gradient reaches no per-modality classifier.
    std::vector<at::Tensor> heads;
    for (const auto& p : own)
      if (p.key().rfind("modality_head_", 0) == 0) heads.push_back(p.value());
    for (const auto& g : torch::autograd::grad({separate->head(separate->fuse(z, {})).sum()}, heads, {}, false, false, true))
      CHECK_FALSE(g.defined());
  }
}

TEST_CASE("std fusions: modality_heads accepts shared or separate only") {
  for (const auto& [type, shared_head] : fusions_with_heads()) {
    INFO(type);
    const std::string msg = error_of([&] { options(type, {{"modality_heads", std::string("both")}}); });
    CHECK(contains(msg, "both"));
    CHECK(contains(msg, "separate"));
  }
}
