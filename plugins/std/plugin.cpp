// The std plugin's entry point: declares every component; no work is done at registration.
#include "mmdebias/sdk/plugin.hpp"

#include "register.hpp"

namespace {

void register_std(mmdebias::sdk::Registrar& r) {
  using namespace mmdebias::std_plugin;
  register_mlp_encoder(r);
  register_conv2d_encoder(r);
  register_resnet_encoder(r);
  register_torchscript_encoder(r);
  register_tokens_encoder(r);
  register_concat_fusion(r);
  register_late_fusion(r);
  register_gated_fusion(r);
  register_cross_attention_fusion(r);
  register_gaussian_dataset(r);
  register_logit_scorers(r);
}

}  // namespace

MMDEBIAS_PLUGIN("std", "0.1.0", "Ordinary encoders (mlp, conv2d, resnet, tokens, torchscript), fusions (concat, late, gated, cross-attention), the gaussian "
                "dataset and logit OOD scorers (msp, energy, maxlogit)",
                register_std)
