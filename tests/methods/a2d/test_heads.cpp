// Separate modality heads (std fusions' modality_heads: separate), what A2D and NP-Mix need: the unimodal terms
// train the per-modality classifiers and never the fused head (MultiOOD's fc_m vs mlp_cls); with shared heads they
// do (the fault this option fixes); the heads are saved and restored with the fusion; a2d declares the need.
#include <sstream>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "a2d_helpers.hpp"

using namespace a2dtest;

namespace {

const std::vector<std::pair<std::string, int64_t>> kWidths = {{"a", 3}, {"b", 4}};
constexpr int64_t kClasses = 5;

/// d term / d the named parameters of the step's fusion (undefined where the term does not reach one).
std::vector<at::Tensor> term_grads(const ModelStep& step, const std::string& term, const std::vector<std::string>& params) {
  for (const auto& t : step.terms.terms()) {
    if (t.name != term) continue;
    std::vector<at::Tensor> inputs;
    for (const auto& p : params) inputs.push_back(parameter(*step.fusion, p));
    return torch::autograd::grad({t.value}, inputs, {}, /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
  }
  FAIL("no term " << term);
  return {};
}

bool has_gradient(const at::Tensor& grad) { return grad.defined() && grad.abs().sum().item<double>() > 0.0; }

}  // namespace

TEST_CASE("separate heads: the disagreement and the unimodal CE give the fused head's W and b exactly zero gradient") {
  at::manual_seed(21);
  const at::Tensor labels = at::randint(kClasses, {9}, at::kLong);
  const ModelStep step = disagree_step(kWidths, kClasses, labels, {});
  for (const std::string term : {"a2d", "ce_a", "ce_b"}) {
    CAPTURE(term);
    const auto g = term_grads(step, term, {"head.weight", "head.bias", "modality_head_a.weight", "modality_head_a.bias",
                                           "modality_head_b.weight", "modality_head_b.bias"});
    CHECK(exactly_zero(g[0]));
    CHECK(exactly_zero(g[1]));
    const bool reads_a = term != "ce_b", reads_b = term != "ce_a";
    CHECK(has_gradient(g[2]) == reads_a);
    CHECK(has_gradient(g[3]) == reads_a);
    CHECK(has_gradient(g[4]) == reads_b);
    CHECK(has_gradient(g[5]) == reads_b);
  }
  // The fused head is trained by the fused cross-entropy alone, at its weight 1 / (M + 1).
  at::Tensor fused_only = at::cross_entropy_loss(step.record.logits, labels) * step.terms.task_weight();
  const auto want = torch::autograd::grad({fused_only}, {parameter(*step.fusion, "head.weight")}, {}, true);
  const auto got = torch::autograd::grad({step.loss}, {parameter(*step.fusion, "head.weight")}, {}, true);
  CHECK(at::allclose(got[0], want[0], 0, 1e-15));
}

TEST_CASE("shared heads (the fault): the disagreement term reaches the fused head's W and b") {
  at::manual_seed(21);
  const ModelStep step = disagree_step(kWidths, kClasses, at::randint(kClasses, {9}, at::kLong), {}, "shared");
  const auto g = term_grads(step, "a2d", {"head.weight", "head.bias"});
  CHECK(has_gradient(g[0]));
  CHECK(has_gradient(g[1]));
}

TEST_CASE("separate heads are parameters of the fusion: saved and restored with it, absent from a shared fusion") {
  at::manual_seed(4);
  auto first = concat_fusion(kWidths, kClasses);
  std::vector<std::string> names;
  for (const auto& p : first->named_parameters(true)) names.push_back(p.key());
  CHECK(names == std::vector<std::string>{"head.weight", "head.bias", "modality_head_a.weight", "modality_head_a.bias",
                                          "modality_head_b.weight", "modality_head_b.bias"});
  torch::serialize::OutputArchive out;
  first->save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  at::manual_seed(5);  // other initial values, which the load must replace
  auto second = concat_fusion(kWidths, kClasses);
  CHECK_FALSE(at::equal(parameter(*second, "modality_head_b.weight"), parameter(*first, "modality_head_b.weight")));
  torch::serialize::InputArchive in;
  std::istringstream read(bytes.str());
  in.load_from(read);
  second->load(in);
  for (const auto& name : names) {
    CAPTURE(name);
    CHECK(at::equal(parameter(*second, name), parameter(*first, name)));
  }
  const at::Tensor z = at::randn({3, 4}, at::kDouble);
  CHECK(at::equal(second->modality_head("b", z), first->modality_head("b", z)));
  CHECK(concat_fusion(kWidths, kClasses, "shared")->named_parameters(true).size() == 2);
}

TEST_CASE("a2d.disagree and a2d.npmix need independent modality heads") {
  for (const char* type : {"a2d.disagree", "a2d.npmix"}) {
    CAPTURE(type);
    CHECK(registry().get(type).decl.needs ==
          std::vector<std::string>{sdk::capability::kModalityLogits, sdk::capability::kIndependentModalityHeads});
  }
}
