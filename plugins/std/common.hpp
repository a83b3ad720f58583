// Internal to the std plugin: small helpers shared by the encoder and fusion files.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/components.hpp"

namespace mmdebias::std_plugin {

/// "[2, 3, 4]".
inline std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// "[B, 2, 3]" for a tensor's shape with the batch dimension named B.
inline std::string batch_shape_string(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

/// The ModalitySpec of the modality an encoder is built for; throws when the model does not list it.
inline const sdk::ModalitySpec& encoded_modality(const sdk::BuildArgs& args, const std::string& component) {
  for (const auto& m : args.model.inputs)
    if (m.name == args.modality) return m;
  std::string known;
  for (const auto& m : args.model.inputs) known += (known.empty() ? "" : ", ") + m.name;
  throw std::invalid_argument(component + " is built for modality '" + args.modality +
                              "', which the dataset does not have (it has: " + (known.empty() ? "none" : known) + ")");
}

/// Checks that an encoder's batch has the per-sample shape the dataset declared.
inline void check_input_shape(const at::Tensor& input, const std::vector<int64_t>& shape, const std::string& where) {
  bool ok = input.dim() == static_cast<int64_t>(shape.size()) + 1;
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = input.size(static_cast<int64_t>(i) + 1) == shape[i];
  if (!ok)
    throw std::invalid_argument(where + " expects a batch [B] + " + shape_string(shape) + ", got " +
                                batch_shape_string(input));
}

/// A name usable as a submodule or parameter name (torch forbids '.' in them).
inline std::string module_name(const std::string& prefix, const std::string& modality) {
  std::string s = prefix + "_" + modality;
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

/// One modality of a fusion's input: its name and feature shape.
struct FusionInput {
  std::string name;
  sdk::FeatureSpec spec;
};

/// The modalities a fusion combines, in dataset order, with their feature shapes; throws when one lacks features.
inline std::vector<FusionInput> fusion_inputs(const sdk::BuildArgs& args, const std::string& component) {
  std::vector<FusionInput> out;
  if (args.model.inputs.empty()) {
    for (const auto& [name, spec] : args.model.features) out.push_back({name, spec});
  } else {
    for (const auto& m : args.model.inputs) {
      auto it = args.model.features.find(m.name);
      if (it == args.model.features.end())
        throw std::invalid_argument(component + " needs the features of every modality, but modality '" + m.name +
                                    "' has no encoder output");
      out.push_back({m.name, it->second});
    }
  }
  if (out.empty()) throw std::invalid_argument(component + " needs at least one modality");
  for (const auto& in : out)
    if (in.spec.dim < 1)
      throw std::invalid_argument(component + ": the encoder of '" + in.name + "' declares feature width " +
                                  std::to_string(in.spec.dim) + "; it must be at least 1");
  if (args.model.num_classes < 1)
    throw std::invalid_argument(component + " needs the number of classes (got " +
                                std::to_string(args.model.num_classes) + ")");
  return out;
}

/// Throws unless every modality gives pooled [B, D] features.
inline void require_pooled(const std::vector<FusionInput>& inputs, const std::string& component) {
  for (const auto& in : inputs)
    if (in.spec.tokens)
      throw std::invalid_argument(component + " needs pooled [B, D] features, but the encoder of '" + in.name +
                                  "' gives tokens [B, T, D] (T = " + std::to_string(in.spec.length) +
                                  ", D = " + std::to_string(in.spec.dim) + "); set its pool option to mean or cls");
}

/// Checks one modality's features against its declared shape ([B, D] pooled or [B, T, D] tokens).
inline void check_feature(const at::Tensor& z, const FusionInput& in, const std::string& component) {
  const int64_t want_dim = in.spec.tokens ? 3 : 2;
  if (!z.defined() || z.dim() != want_dim || z.size(-1) != in.spec.dim)
    throw std::invalid_argument(component + ": features of '" + in.name + "' should be " +
                                (in.spec.tokens ? "[B, T, " : "[B, ") + std::to_string(in.spec.dim) + "], got " +
                                (z.defined() ? batch_shape_string(z) : std::string("an undefined tensor")));
}

/// The features of one modality from a fusion's input map, checked against its declared shape.
inline const at::Tensor& feature_of(const sdk::Features& features, const FusionInput& in, const std::string& component) {
  auto it = features.find(in.name);
  if (it == features.end()) throw std::invalid_argument(component + ": no features given for modality '" + in.name + "'");
  check_feature(it->second, in, component);
  return it->second;
}

/// Index of a modality among a fusion's inputs; throws listing the known ones.
inline size_t modality_index(const std::vector<FusionInput>& inputs, const std::string& modality,
                             const std::string& component) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].name == modality) return i;
  std::string known;
  for (const auto& in : inputs) known += (known.empty() ? "" : ", ") + in.name;
  throw std::invalid_argument(component + " has no modality '" + modality + "' (it fuses: " + known + ")");
}

}  // namespace mmdebias::std_plugin
