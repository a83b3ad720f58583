// Internal to the std plugin: one registration function per component file, called by plugin.cpp.
#pragma once

#include "mmdebias/sdk/registrar.hpp"

namespace mmdebias::std_plugin {

/// Registers std.mlp (mlp_encoder.cpp).
void register_mlp_encoder(sdk::Registrar& r);
/// Registers std.conv2d (conv2d_encoder.cpp).
void register_conv2d_encoder(sdk::Registrar& r);
/// Registers std.resnet (resnet_encoder.cpp).
void register_resnet_encoder(sdk::Registrar& r);
/// Registers std.torchscript (torchscript_encoder.cpp).
void register_torchscript_encoder(sdk::Registrar& r);
/// Registers std.tokens (tokens_encoder.cpp).
void register_tokens_encoder(sdk::Registrar& r);
/// Registers std.concat (concat_fusion.cpp).
void register_concat_fusion(sdk::Registrar& r);
/// Registers std.late (late_fusion.cpp).
void register_late_fusion(sdk::Registrar& r);
/// Registers std.gated (gated_fusion.cpp).
void register_gated_fusion(sdk::Registrar& r);
/// Registers std.cross_attention (cross_attention_fusion.cpp).
void register_cross_attention_fusion(sdk::Registrar& r);
/// Registers std.gaussian (gaussian_dataset.cpp).
void register_gaussian_dataset(sdk::Registrar& r);
/// Registers std.msp, std.energy and std.maxlogit (logit_scorers.cpp).
void register_logit_scorers(sdk::Registrar& r);

}  // namespace mmdebias::std_plugin
