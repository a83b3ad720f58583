// std plugin: unusable setups are refused through the registry with messages that name the facts.
#include <doctest/doctest.h>

#include "mmdebias/core/errors.hpp"
#include "std_helpers.hpp"

using namespace stdtest;

namespace {

/// The message of a make_* call that must throw a ComponentError.
std::string construct_error(const std::function<void()>& fn) {
  CHECK_THROWS_AS(fn(), mmdebias::core::ComponentError);
  return error_of(fn);
}

}  // namespace

TEST_CASE("std fusions needing pooled features refuse token features") {
  const std::vector<std::pair<std::string, sdk::FeatureSpec>> feats = {{"image", pooled(8)},
                                                                        {"text", token_features(8, 5)}};
  for (const std::string type : {"std.concat", "std.late", "std.gated"}) {
    INFO(type);
    auto msg = construct_error([&] { make_fusion(type, feats, 3); });
    CHECK(contains(msg, type + " needs pooled [B, D] features"));
    CHECK(contains(msg, "'text'"));
    CHECK(contains(msg, "tokens [B, T, D]"));
    CHECK(contains(msg, "pool option to mean or cls"));
  }
  // The cross-attention fusion takes them.
  CHECK_NOTHROW(make_fusion("std.cross_attention", feats, 3));
}

TEST_CASE("attention components refuse heads that do not divide dim") {
  auto msg = construct_error([] {
    make_encoder("std.tokens", {tokens("text", 4, 10)}, "text", {{"dim", int64_t{10}}, {"heads", int64_t{4}}});
  });
  CHECK(contains(msg, "std.tokens"));
  CHECK(contains(msg, "dim 10 is not divisible by heads 4"));
  msg = construct_error([] { make_fusion("std.cross_attention", {{"a", pooled(3)}}, 2, {{"dim", int64_t{9}}, {"heads", int64_t{2}}}); });
  CHECK(contains(msg, "std.cross_attention"));
  CHECK(contains(msg, "dim 9 is not divisible by heads 2"));
}

TEST_CASE("encoders refuse the wrong kind of input") {
  std::vector<sdk::ModalitySpec> inputs = {dense("image", {8, 8}), tokens("text", 4, 10), dense("vec", {5})};
  auto msg = construct_error([&] { make_encoder("std.tokens", inputs, "image"); });
  CHECK(contains(msg, "std.tokens"));
  CHECK(contains(msg, "'image'"));
  CHECK(contains(msg, "dense [8, 8]"));
  CHECK(contains(msg, "std.mlp or std.conv2d"));

  msg = construct_error([&] { make_encoder("std.mlp", inputs, "text"); });
  CHECK(contains(msg, "std.mlp needs dense input"));
  CHECK(contains(msg, "'text'"));
  CHECK(contains(msg, "use std.tokens"));

  msg = construct_error([&] { make_encoder("std.conv2d", inputs, "vec"); });
  CHECK(contains(msg, "std.conv2d"));
  CHECK(contains(msg, "[5]"));

  msg = construct_error([&] { make_encoder("std.mlp", inputs, "depth"); });
  CHECK(contains(msg, "'depth'"));
  CHECK(contains(msg, "image, text, vec"));
}

TEST_CASE("encoders check their batches") {
  std::vector<sdk::ModalitySpec> inputs = {dense("vec", {5}), tokens("text", 4, 10)};
  auto mlp = make_encoder("std.mlp", inputs, "vec");
  auto msg = error_of([&] { mlp->encode(at::randn({3, 6}), {}); });
  CHECK(contains(msg, "[B] + [5]"));
  CHECK(contains(msg, "[3, 6]"));
  auto tok = make_encoder("std.tokens", inputs, "text");
  msg = error_of([&] { tok->encode(at::full({2, 4}, 10, at::kLong), {}); });
  CHECK(contains(msg, "[0, 10)"));
}

TEST_CASE("std option schemas reject out-of-range values") {
  CHECK_THROWS_AS(options("std.mlp", {{"dropout", 1.5}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(options("std.mlp", {{"hidden", std::vector<int64_t>{8, 0}}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(options("std.tokens", {{"pool", std::string("max")}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(options("std.gated", {{"dim", int64_t{0}}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(options("std.cross_attention", {{"layers", int64_t{0}}}), mmdebias::core::InputError);
}
