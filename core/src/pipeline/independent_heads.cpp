// A fusion's per-modality heads are independent of its head when the two reach disjoint parameters: a fact of the
// built model, like pooled features, so a fusion cannot claim it falsely and needs no declaration for it.
#include "pipeline/independent_heads.hpp"

#include <exception>
#include <vector>

#include <torch/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace mmdebias::core::detail {
namespace {

// Which of params the output's graph reaches (a defined gradient; unused ones come back undefined).
std::vector<bool> reached(const at::Tensor& output, const std::vector<at::Tensor>& params) {
  std::vector<bool> out(params.size(), false);
  if (!output.requires_grad()) return out;
  const auto grads = torch::autograd::grad({output.sum()}, params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                           /*allow_unused=*/true);
  for (size_t i = 0; i < params.size(); ++i) out[i] = grads[i].defined();
  return out;
}

// Puts a module back in the mode it had, however the probe ends.
class EvalModeFor {
 public:
  explicit EvalModeFor(torch::nn::Module& m) : module_(m), was_training_(m.is_training()) { module_.eval(); }
  ~EvalModeFor() { module_.train(was_training_); }
  EvalModeFor(const EvalModeFor&) = delete;
  EvalModeFor& operator=(const EvalModeFor&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

}  // namespace

bool has_independent_modality_heads(sdk::Fusion& fusion, const sdk::ModelSpec& model) {
  if (!fusion.has_modality_heads()) return false;
  std::vector<at::Tensor> params;
  for (const auto& p : fusion.parameters())
    if (p.requires_grad()) params.push_back(p);
  if (params.empty()) return true;  // nothing to share
  const at::TensorOptions like = params.front().options().requires_grad(false);
  try {
    torch::AutoGradMode grad(true);
    EvalModeFor eval(fusion);
    const std::vector<bool> by_head = reached(fusion.head(at::ones({1, model.fused_dim}, like)), params);
    for (const auto& [name, spec] : model.features) {
      const at::Tensor z = spec.tokens ? at::ones({1, spec.length, spec.dim}, like) : at::ones({1, spec.dim}, like);
      const std::vector<bool> by_modality = reached(fusion.modality_head(name, z), params);
      for (size_t i = 0; i < params.size(); ++i)
        if (by_head[i] && by_modality[i]) return false;
    }
  } catch (const std::exception&) {
    return false;  // a head that cannot run on the declared shapes is no provider
  }
  return true;
}

}  // namespace mmdebias::core::detail
