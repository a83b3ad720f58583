// std plugin encoders through the real loader: registration, output shapes, gradients.
#include <doctest/doctest.h>

#include "std_helpers.hpp"

using namespace stdtest;

TEST_CASE("std: every component is registered with documented, bounded options") {
  const auto& reg = registry();
  const std::vector<std::pair<std::string, sdk::ComponentKind>> expected = {
      {"std.mlp", sdk::ComponentKind::Encoder},       {"std.conv2d", sdk::ComponentKind::Encoder},
      {"std.tokens", sdk::ComponentKind::Encoder},    {"std.concat", sdk::ComponentKind::Fusion},
      {"std.late", sdk::ComponentKind::Fusion},       {"std.gated", sdk::ComponentKind::Fusion},
      {"std.cross_attention", sdk::ComponentKind::Fusion}};
  for (const auto& [name, kind] : expected) {
    INFO(name);
    const auto* e = reg.find(name);
    REQUIRE(e != nullptr);
    CHECK(e->kind == kind);
    CHECK_FALSE(e->decl.doc.empty());
    for (const auto& spec : e->decl.schema.specs()) {
      INFO("option " << spec.name);
      CHECK_FALSE(spec.doc.empty());
      CHECK(spec.value.has_value());
      const bool numeric = spec.type == sdk::OptionType::Int || spec.type == sdk::OptionType::Float ||
                           spec.type == sdk::OptionType::IntList || spec.type == sdk::OptionType::FloatList;
      if (numeric) CHECK(spec.min.has_value());
    }
  }
  auto provides = [&](const std::string& name, const std::string& cap) {
    const auto& p = reg.get(name).decl.provides;
    return std::find(p.begin(), p.end(), cap) != p.end();
  };
  CHECK(provides("std.tokens", sdk::capability::kAttentionSites));
  CHECK(provides("std.cross_attention", sdk::capability::kAttentionSites));
  CHECK(provides("std.concat", sdk::capability::kModalityLogits));
  CHECK(provides("std.late", sdk::capability::kModalityLogits));
  CHECK(provides("std.gated", sdk::capability::kModalityLogits));
}

TEST_CASE("std.mlp: flattens any per-sample shape to [B, out_dim] and trains every parameter") {
  at::manual_seed(0);
  std::vector<sdk::ModalitySpec> inputs = {dense("audio", {3, 4}), dense("image", {2, 3, 4})};
  SUBCASE("defaults") {
    auto enc = make_encoder("std.mlp", inputs, "image", {{"out_dim", int64_t{16}}});
    CHECK(enc->output().dim == 16);
    CHECK_FALSE(enc->output().tokens);
    at::Tensor z = enc->encode(at::randn({5, 2, 3, 4}), {});
    CHECK(z.sizes() == at::IntArrayRef({5, 16}));
    weighted_sum(z).backward();
    check_all_grads(*enc);
  }
  SUBCASE("two hidden layers, gelu, layer norm, dropout") {
    auto enc = make_encoder("std.mlp", inputs, "audio",
                            {{"hidden", std::vector<int64_t>{8, 6}}, {"activation", std::string("gelu")},
                             {"layer_norm", true}, {"dropout", 0.1}, {"out_dim", int64_t{4}}});
    at::Tensor z = enc->encode(at::randn({7, 3, 4}), {});
    CHECK(z.sizes() == at::IntArrayRef({7, 4}));
    weighted_sum(z).backward();
    check_all_grads(*enc);
  }
  SUBCASE("no hidden layer") {
    auto enc = make_encoder("std.mlp", inputs, "audio", {{"hidden", std::vector<int64_t>{}}, {"out_dim", int64_t{2}}});
    CHECK(enc->encode(at::randn({3, 3, 4}), {}).sizes() == at::IntArrayRef({3, 2}));
  }
}

TEST_CASE("std.conv2d: images [H, W] and [C, H, W] give [B, out_dim]") {
  at::manual_seed(1);
  std::vector<sdk::ModalitySpec> inputs = {dense("gray", {8, 8}), dense("rgb", {3, 7, 5}), dense("dot", {1, 1})};
  for (const std::string m : {"gray", "rgb", "dot"}) {
    INFO(m);
    auto enc = make_encoder("std.conv2d", inputs, m, {{"out_dim", int64_t{12}}, {"channels", std::vector<int64_t>{4, 6, 5}}});
    const auto& shape = m == "gray" ? inputs[0].shape : m == "rgb" ? inputs[1].shape : inputs[2].shape;
    std::vector<int64_t> batch = {4};
    batch.insert(batch.end(), shape.begin(), shape.end());
    at::Tensor z = enc->encode(at::randn(batch), {});
    CHECK(z.sizes() == at::IntArrayRef({4, 12}));
    CHECK(enc->output().dim == 12);
    weighted_sum(z).backward();
    check_all_grads(*enc);
  }
}

TEST_CASE("std.tokens: pooled and token outputs, every parameter trained") {
  at::manual_seed(2);
  std::vector<sdk::ModalitySpec> inputs = {tokens("text", 6, 20)};
  at::Tensor ids = at::tensor(std::vector<int64_t>{3, 5, 7, 0, 0, 0, 1, 2, 3, 4, 5, 6, 9, 0, 4, 0, 11, 0}).view({3, 6});
  for (const std::string pool : {"mean", "cls", "none"}) {
    for (bool causal : {false, true}) {
      INFO("pool " << pool << " causal " << causal);
      auto enc = make_encoder("std.tokens", inputs, "text",
                              {{"dim", int64_t{16}}, {"heads", int64_t{2}}, {"ff_dim", int64_t{24}},
                               {"pool", pool}, {"causal", causal}});
      at::Tensor z = enc->encode(ids, {});
      if (pool == "none") {
        CHECK(z.sizes() == at::IntArrayRef({3, 6, 16}));
        CHECK(enc->output().tokens);
        CHECK(enc->output().length == 6);
      } else {
        CHECK(z.sizes() == at::IntArrayRef({3, 16}));
        CHECK_FALSE(enc->output().tokens);
      }
      CHECK(enc->output().dim == 16);
      CHECK(z.isfinite().all().item<bool>());
      weighted_sum(z).backward();
      check_all_grads(*enc);
    }
  }
}
