// A forward record detached from its graph: what hook 7 (after_backward) receives, made by the host and by
// sdk::testing::step_of alike.
#pragma once

#include "mmdebias/sdk/model.hpp"

namespace mmdebias::sdk {

/// record with every tensor detached (undefined ones left undefined): the same values, no graph kept alive.
inline ForwardRecord detached(const ForwardRecord& record) {
  auto cut = [](const at::Tensor& t) { return t.defined() ? t.detach() : t; };
  ForwardRecord out;
  for (const auto& [name, z] : record.features) out.features[name] = cut(z);
  out.fused_input = cut(record.fused_input);
  out.fused = cut(record.fused);
  out.logits = cut(record.logits);
  for (const auto& [name, l] : record.modality_logits) out.modality_logits[name] = cut(l);
  for (const auto& [name, a] : record.attention) out.attention[name] = cut(a);
  return out;
}

}  // namespace mmdebias::sdk
