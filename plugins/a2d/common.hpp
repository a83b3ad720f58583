// Internal to the a2d plugin: small helpers shared by its components.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "mmdebias/sdk/components.hpp"

namespace mmdebias::a2d {

/// Replaces a registered buffer's value in place (shape may change), so the module's registry and every
/// handle to it see the new value and checkpoints save it. The value is converted to the buffer's dtype:
/// a buffer keeps the dtype it was registered with, so a saved state loads back into it (torch's loader
/// replaces a buffer's storage without converting).
inline void assign(at::Tensor& buffer, const at::Tensor& value) {
  torch::NoGradGuard no_grad;
  buffer.set_(value.detach().to(buffer.device(), buffer.scalar_type()).contiguous().clone());
}

/// The host's model lent through the context; throws naming the component when none is lent.
inline sdk::Model& lent_model(sdk::Context& ctx, const std::string& component) {
  sdk::Model* model = ctx.model();
  if (model == nullptr)
    throw std::runtime_error(component + " needs the host's model (Context::model()) to run the fusion head, and this host lends none");
  return *model;
}

/// The per-modality features [B, D_m] in the model's modality order; throws when one is missing or not pooled.
inline std::vector<at::Tensor> modality_features(const sdk::ForwardRecord& record, const std::vector<std::string>& modalities,
                                                 const std::string& component) {
  std::vector<at::Tensor> out;
  for (const auto& m : modalities) {
    auto it = record.features.find(m);
    if (it == record.features.end()) throw std::invalid_argument(component + ": the forward record has no features of modality '" + m + "'");
    if (it->second.dim() != 2)
      throw std::invalid_argument(component + " needs pooled [B, D] features, but modality '" + m + "' gives " +
                                  std::to_string(it->second.dim()) + "-d features; set the encoder's pool option");
    out.push_back(it->second);
  }
  return out;
}

/// Throws unless record.fused is exactly the concatenation of the modality features in model order
/// (std.concat, std.late): only then can the fused vector be split into modality blocks as the release does.
inline void require_concatenated(const sdk::ForwardRecord& record, const std::vector<std::string>& modalities,
                                 const std::string& component, const std::string& remedy) {
  at::Tensor cat = at::cat(modality_features(record, modalities, component), 1);
  if (!record.fused.defined() || !record.fused.sizes().equals(cat.sizes()) || !at::equal(record.fused, cat.to(record.fused.scalar_type())))
    throw std::invalid_argument(component + " splits the fused features into modality blocks, which needs them to be the "
                                "concatenation of the modality features (std.concat, std.late); this fusion's are not: " + remedy);
}

/// The widths of the modality blocks of the concatenated features, in model order.
inline std::vector<int64_t> block_widths(const sdk::ForwardRecord& record, const std::vector<std::string>& modalities,
                                         const std::string& component) {
  std::vector<int64_t> widths;
  for (const auto& z : modality_features(record, modalities, component)) widths.push_back(z.size(1));
  return widths;
}

/// The dtype a scorer returns for features x: x's, but fp32 for bf16/fp16 features (under run.precision=bf16 a score
/// rounded to 8 significant bits would tie samples that the ranking metrics must tell apart).
inline at::ScalarType score_dtype(const at::Tensor& x) { return at::promote_types(x.scalar_type(), at::kFloat); }

/// The fused features [B, D] a scorer reads: record.fused, the head's input; throws when absent.
inline const at::Tensor& fused_of(const sdk::ForwardRecord& record, const std::string& component) {
  if (!record.fused.defined() || record.fused.dim() != 2)
    throw std::invalid_argument(component + " scores the fused features [B, D] (record.fused), which this forward record lacks");
  return record.fused;
}

}  // namespace mmdebias::a2d
