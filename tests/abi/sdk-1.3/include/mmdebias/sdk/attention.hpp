// Attention sites: named places where a component computes attention weights that interventions may replace.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmdebias::sdk {

/// Declaration of one attention site a component exposes.
struct AttentionSiteInfo {
  std::string name;     ///< Full site name, e.g. "encoders.text.layer0" or "fusion.layer1".
  int64_t heads = 1;    ///< Number of heads.
  bool causal = false;  ///< True when the site applies a causal mask.
};

/// Per-forward table of attention-weight overrides, and optionally a record of the weights used.
///
/// Weights are [B, heads, Q, K], row-stochastic over K. A mask, when defined, is boolean and
/// broadcastable to the weights, true where attending is allowed; replacements must keep
/// masked positions at zero.
class AttentionSites {
 public:
  /// Replacement of the weights at one site: (weights, mask) -> new weights of the same shape.
  using Override = std::function<at::Tensor(const at::Tensor& weights, const at::Tensor& mask)>;

  /// Called by the component at a site: the weights to use, replaced when an override is set.
  at::Tensor apply(const std::string& site, const at::Tensor& weights, const at::Tensor& mask = {}) const {
    auto it = overrides_.find(site);
    at::Tensor used = it == overrides_.end() ? weights : it->second(weights, mask);
    if (recording_) recorded_[site] = used;
    return used;
  }
  /// Installs the replacement for a site (replacing any earlier one).
  void set_override(const std::string& site, Override fn) { overrides_[site] = std::move(fn); }
  /// True when a site has a replacement.
  bool has_override(const std::string& site) const { return overrides_.count(site) != 0; }
  /// Removes every replacement.
  void clear_overrides() { overrides_.clear(); }
  /// Turns recording of the weights used at each site on or off.
  void set_recording(bool on) { recording_ = on; }
  /// Weights used at each site during the last forward, when recording.
  const std::map<std::string, at::Tensor>& recorded() const { return recorded_; }

 private:
  std::map<std::string, Override> overrides_;
  bool recording_ = false;
  mutable std::map<std::string, at::Tensor> recorded_;
};

}  // namespace mmdebias::sdk
