// Internal to the std plugin: the `modality_heads` option of the fusions that give per-modality logits, and the
// separate per-modality classifiers it can ask for.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "common.hpp"
#include "mmdebias/sdk/bind.hpp"

namespace mmdebias::std_plugin {

/// Where a fusion's per-modality logits come from.
enum class ModalityHeads {
  Shared,    ///< From the fused head's own parameters (each fusion says how); what the fusions always did.
  Separate,  ///< From one Linear per modality on that modality's features, sharing nothing with the fused head.
};

/// The option's spellings.
inline const sdk::ChoiceTable<ModalityHeads>& modality_heads_table() {
  static const sdk::ChoiceTable<ModalityHeads> table = {{"shared", ModalityHeads::Shared}, {"separate", ModalityHeads::Separate}};
  return table;
}

/// Declares `modality_heads` (default shared) on a fusion's options struct: the one place its name, default and doc live.
template <class Config>
void declare_modality_heads(sdk::OptionBinder<Config>& b, ModalityHeads Config::*field) {
  b.choice("modality_heads", field, ModalityHeads::Shared, modality_heads_table(),
           "Per-modality logits: shared = from the fused head's parameters (each fusion's doc says how); separate = one "
           "Linear per modality on its own features, trained only by the terms that read per-modality logits and never "
           "touching the fused head (MultiOOD's classifiers; a2d.disagree and a2d.npmix need it)");
}

/// One Linear(D_m, C) per modality, registered on the owning fusion as "modality_head_<m>" (so the optimizer and
/// checkpoints hold them). Made after the fusion's own layers, so those draw the same initial values as with shared heads.
class SeparateHeads {
 public:
  SeparateHeads() = default;
  /// Registers the heads on owner.
  SeparateHeads(torch::nn::Module& owner, const std::vector<FusionInput>& inputs, int64_t classes) {
    for (const auto& in : inputs)
      heads_.push_back(owner.register_module(module_name("modality_head", in.name), torch::nn::Linear(in.spec.dim, classes)));
  }

  /// True when the heads exist (modality_heads: separate).
  bool active() const { return !heads_.empty(); }

  /// Logits [B, C] of modality i from its features z (already checked by the caller).
  at::Tensor operator()(size_t i, const at::Tensor& z) { return heads_.at(i)->forward(z); }

 private:
  std::vector<torch::nn::Linear> heads_;
};

}  // namespace mmdebias::std_plugin
