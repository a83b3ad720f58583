// run.precision (pipeline/precision.cpp) and the loss scale (train/loss_scaler.cpp): autocast is on only inside its
// scope and restores what was there, matmuls run in bf16 inside it while sdk::FullPrecision and sdk::fp32 give fp32
// back, fp16 on the CPU is refused, and the loss scale unscales, skips on inf/NaN, halves and grows as
// PyTorch's GradScaler does.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include <ATen/ATen.h>

#include "compat/autocast.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/sdk/precision.hpp"
#include "pipeline/precision.hpp"
#include "train/loss_scaler.hpp"

namespace {

using mmdebias::core::Autocast;
using mmdebias::core::LossScaler;
using mmdebias::core::LossScaleState;
using mmdebias::core::Precision;

std::string refusal(const std::string& text, c10::Device device) {
  try {
    mmdebias::core::resolve_precision(text, device);
  } catch (const mmdebias::core::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("run.precision: fp32 and bf16 anywhere, fp16 only on a GPU, anything else refused") {
  CHECK(mmdebias::core::resolve_precision("fp32", c10::kCPU) == Precision::fp32);
  CHECK(mmdebias::core::resolve_precision("bf16", c10::kCPU) == Precision::bf16);
  CHECK(mmdebias::core::resolve_precision("fp16", c10::Device("cuda:0")) == Precision::fp16);
  const std::string fp16 = refusal("fp16", c10::kCPU);
  CHECK(fp16.find("run.precision: fp16 needs a GPU (run.device=cuda)") != std::string::npos);
  CHECK(fp16.find("run.precision=bf16") != std::string::npos);
  CHECK(refusal("half", c10::kCPU).find("'half' is not a precision; expected fp32, bf16 or fp16") != std::string::npos);
}

TEST_CASE("Autocast: bf16 matmuls inside, fp32 under FullPrecision and outside, the previous state restored") {
  const at::Tensor a = at::randn({8, 8}), b = at::randn({8, 8});
  REQUIRE_FALSE(mmdebias::core::compat::autocast_enabled(c10::DeviceType::CPU));
  {
    Autocast fp32(Precision::fp32, c10::kCPU);  // no-op
    CHECK((at::matmul(a, b).scalar_type() == at::kFloat));
  }
  {
    Autocast outer(Precision::bf16, c10::kCPU);
    CHECK((at::matmul(a, b).scalar_type() == at::kBFloat16));
    {
      Autocast inner(Precision::bf16, c10::kCPU);  // nests
      CHECK((at::matmul(a, b).scalar_type() == at::kBFloat16));
    }
    CHECK(mmdebias::core::compat::autocast_enabled(c10::DeviceType::CPU));  // the inner scope left it on
    {
      mmdebias::sdk::FullPrecision full;
      CHECK((at::matmul(a, b).scalar_type() == at::kFloat));
      const at::Tensor low = at::matmul(a, b).to(at::kBFloat16);
      CHECK((at::matmul(mmdebias::sdk::fp32(low), b).scalar_type() == at::kFloat));
    }
    CHECK((at::matmul(a, b).scalar_type() == at::kBFloat16));  // on again after FullPrecision
  }
  CHECK_FALSE(mmdebias::core::compat::autocast_enabled(c10::DeviceType::CPU));
  CHECK((at::matmul(a, b).scalar_type() == at::kFloat));
  CHECK((mmdebias::sdk::fp32(at::ones({2}, at::kDouble)).scalar_type() == at::kDouble));  // fp32() never narrows
  CHECK((mmdebias::sdk::fp32(at::ones({2}, at::kLong)).scalar_type() == at::kLong));
}

TEST_CASE("Autocast: a weight's cast is not kept past the outermost scope (it would be stale after a step)") {
  at::Tensor w = at::randn({4, 4}).set_requires_grad(true);
  const at::Tensor x = at::randn({2, 4});
  at::Tensor before, after;
  {
    Autocast autocast(Precision::bf16, c10::kCPU);
    before = at::linear(x, w).detach().to(at::kFloat);
  }
  {
    at::NoGradGuard no_grad;
    w.mul_(2);  // what an optimizer step does
  }
  {
    Autocast autocast(Precision::bf16, c10::kCPU);
    after = at::linear(x, w).detach().to(at::kFloat);
  }
  CHECK(at::allclose(after, before * 2, 1e-2, 1e-2));
}

TEST_CASE("LossScaler: scales the loss, unscales the gradients exactly, and grows after 2000 good steps") {
  LossScaler scaler;
  CHECK(scaler.state().scale == 65536.0);
  at::Tensor p = at::zeros({3}).set_requires_grad(true);
  at::Tensor loss = (p * at::tensor({1.0f, 2.0f, 3.0f})).sum();
  scaler.scale(loss).backward();
  CHECK(p.grad()[2].item<float>() == 3.0f * 65536.0f);
  CHECK_FALSE(scaler.unscale({p}));
  CHECK(at::equal(p.grad(), at::tensor({1.0f, 2.0f, 3.0f})));  // a power of two: exact
  for (int64_t i = 1; i < LossScaler::kGrowthInterval; ++i) scaler.update(false);
  CHECK(scaler.state().scale == 65536.0);
  CHECK(scaler.state().good_steps == LossScaler::kGrowthInterval - 1);
  scaler.update(false);
  CHECK(scaler.state().scale == 131072.0);
  CHECK(scaler.state().good_steps == 0);
}

TEST_CASE("LossScaler: an inf or a NaN in any gradient is found, halves the scale and restarts the count") {
  for (double bad : {std::numeric_limits<double>::infinity(), std::nan("")}) {
    LossScaler scaler(LossScaleState{1024.0, 17, 2});
    at::Tensor a = at::zeros({4}).set_requires_grad(true), b = at::zeros({2}).set_requires_grad(true);
    at::Tensor unused = at::zeros({2}).set_requires_grad(true);  // no gradient: skipped, not an error
    ((a + b.sum()).sum()).backward();
    b.grad()[1].fill_(bad);
    CHECK(scaler.unscale({a, unused, b}));
    scaler.update(true);
    CHECK(scaler.state().scale == 512.0);
    CHECK(scaler.state().good_steps == 0);
    CHECK(scaler.state().skipped == 3);
  }
  CHECK(mmdebias::core::loss_scale_enabled("auto", true));
  CHECK_FALSE(mmdebias::core::loss_scale_enabled("auto", false));
  CHECK(mmdebias::core::loss_scale_enabled("dynamic", false));
  CHECK_FALSE(mmdebias::core::loss_scale_enabled("none", true));
}
