// Shared helpers for the std plugin's tests: the real plugin host, build arguments, gradient checks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <doctest/doctest.h>
#include <torch/nn/module.h>

#include "manifest/option_values.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "plugin/registry.hpp"
#include "mmdebias/sdk/components.hpp"

namespace stdtest {

namespace sdk = mmdebias::sdk;

/// The registry of a host that loaded the built plugins through the real loader (once per process).
inline const mmdebias::core::Registry& registry() {
  static mmdebias::core::PluginHost host;
  static bool loaded = [] {
    mmdebias::core::SearchPath sp;
    sp.builtin = {MMDEBIAS_PLUGIN_DIR};
    host.load(sp);
    return true;
  }();
  (void)loaded;
  return host.registry();
}

/// A dense modality of the given per-sample shape.
inline sdk::ModalitySpec dense(const std::string& name, std::vector<int64_t> shape) {
  sdk::ModalitySpec m;
  m.name = name;
  m.kind = sdk::InputKind::Dense;
  m.shape = std::move(shape);
  return m;
}

/// A token modality of length T over a vocabulary.
inline sdk::ModalitySpec tokens(const std::string& name, int64_t length, int64_t vocab) {
  sdk::ModalitySpec m;
  m.name = name;
  m.kind = sdk::InputKind::Tokens;
  m.shape = {length};
  m.vocab_size = vocab;
  return m;
}

/// Options of a registered component: its schema's defaults completed with the given values.
inline sdk::Options options(const std::string& type, std::map<std::string, sdk::OptionValue> given = {}) {
  return mmdebias::core::complete_options(registry().get(type).decl.schema, std::move(given));
}

/// Build arguments for the encoder of one modality among inputs.
inline sdk::BuildArgs encoder_args(const std::string& type, const std::vector<sdk::ModalitySpec>& inputs,
                                   const std::string& modality, std::map<std::string, sdk::OptionValue> given = {}) {
  sdk::BuildArgs a;
  a.name = "encoders." + modality;
  a.modality = modality;
  a.model.inputs = inputs;
  a.model.num_classes = 3;
  a.options = options(type, std::move(given));
  return a;
}

/// Makes an encoder through the registry.
inline std::shared_ptr<sdk::Encoder> make_encoder(const std::string& type, const std::vector<sdk::ModalitySpec>& inputs,
                                                  const std::string& modality,
                                                  std::map<std::string, sdk::OptionValue> given = {}) {
  return registry().make_encoder(type, encoder_args(type, inputs, modality, std::move(given)));
}

/// Build arguments for a fusion over modalities with the given feature shapes (in this order).
inline sdk::BuildArgs fusion_args(const std::string& type,
                                  const std::vector<std::pair<std::string, sdk::FeatureSpec>>& features, int64_t classes,
                                  std::map<std::string, sdk::OptionValue> given = {}) {
  sdk::BuildArgs a;
  a.name = "fusion";
  for (const auto& [name, spec] : features) {
    a.model.inputs.push_back(dense(name, {spec.dim}));
    a.model.features[name] = spec;
  }
  a.model.num_classes = classes;
  a.options = options(type, std::move(given));
  return a;
}

/// Makes a fusion through the registry.
inline std::shared_ptr<sdk::Fusion> make_fusion(const std::string& type,
                                                const std::vector<std::pair<std::string, sdk::FeatureSpec>>& features,
                                                int64_t classes, std::map<std::string, sdk::OptionValue> given = {}) {
  return registry().make_fusion(type, fusion_args(type, features, classes, std::move(given)));
}

/// Pooled features [B, D].
inline sdk::FeatureSpec pooled(int64_t dim) { return {dim, false, 0}; }
/// Token features [B, T, D].
inline sdk::FeatureSpec token_features(int64_t dim, int64_t length) { return {dim, true, length}; }

/// Random features for each modality of a fusion's input, requiring gradients.
inline sdk::Features random_features(const std::vector<std::pair<std::string, sdk::FeatureSpec>>& features, int64_t batch) {
  sdk::Features out;
  for (const auto& [name, spec] : features) {
    at::Tensor z = spec.tokens ? at::randn({batch, spec.length, spec.dim}) : at::randn({batch, spec.dim});
    out[name] = z.requires_grad_(true);
  }
  return out;
}

/// A random linear functional of x: unlike x.sum(), its gradient is not annihilated by a final layer norm
/// (the sum of a layer norm's normalised outputs is constant).
inline at::Tensor weighted_sum(const at::Tensor& x) { return (x * at::randn_like(x)).sum(); }

/// Checks that every parameter of a module received a defined, not all-zero gradient.
inline void check_all_grads(const torch::nn::Module& module) {
  auto params = module.named_parameters(/*recurse=*/true);
  REQUIRE(params.size() > 0);
  for (const auto& p : params) {
    INFO("parameter " << p.key());
    REQUIRE(p.value().grad().defined());
    CHECK(p.value().grad().abs().sum().item<double>() > 0.0);
  }
}

/// The message of the exception fn throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

/// True when text contains part.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace stdtest
