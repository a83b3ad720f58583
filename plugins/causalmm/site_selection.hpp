// Internal to the causalmm plugin: choosing attention sites by name or glob pattern and grouping them into
// levels (the paper's "visual level" and "language level", generalised to any component with sites).
#pragma once

#include <fnmatch.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "mmdebias/sdk/attention.hpp"

namespace mmdebias::causalmm {

/// A group of sites intervened on together in one counterfactual pass.
struct Level {
  std::string name;                ///< "encoders.text", "fusion", a site name, or "all".
  std::vector<std::string> sites;  ///< Its sites, in model order.
};

/// True when a site name matches a pattern ('*' any run of characters, dots included; '?' one; [...] a set).
inline bool site_matches(const std::string& pattern, const std::string& site) {
  return ::fnmatch(pattern.c_str(), site.c_str(), 0) == 0;
}

/// The model's sites matched by any pattern, in model order. Throws, naming `who` and listing the model's
/// sites, when the model has none or a pattern matches none.
inline std::vector<std::string> select_sites(const std::vector<std::string>& patterns,
                                             const std::vector<sdk::AttentionSiteInfo>& model_sites, const std::string& who) {
  std::string available;
  for (const auto& s : model_sites) available += (available.empty() ? "" : ", ") + s.name;
  if (model_sites.empty())
    throw std::invalid_argument(who + ": the model has no attention sites to intervene on; use an encoder or fusion "
                                      "with attention (e.g. std.tokens, std.cross_attention)");
  if (patterns.empty()) throw std::invalid_argument(who + ": option 'sites' is empty; the model's sites: " + available);
  for (const auto& p : patterns) {
    bool any = false;
    for (const auto& s : model_sites) any = any || site_matches(p, s.name);
    if (!any)
      throw std::invalid_argument(who + ": option 'sites': '" + p + "' matches none of the model's attention sites (" +
                                  available + ")");
  }
  std::vector<std::string> out;
  for (const auto& s : model_sites)
    for (const auto& p : patterns)
      if (site_matches(p, s.name)) {
        out.push_back(s.name);
        break;
      }
  return out;
}

/// The component a site belongs to: its name without the last dotted part ("encoders.text.layer0" ->
/// "encoders.text", "fusion.layer1" -> "fusion"); a name without a dot is its own component.
inline std::string component_of(const std::string& site) {
  const auto dot = site.rfind('.');
  return dot == std::string::npos ? site : site.substr(0, dot);
}

/// Groups sites into levels: "component" (one level per encoder or fusion owning sites), "site" (one level
/// per site) or "all" (a single level). Levels keep the sites' order.
inline std::vector<Level> group_levels(const std::vector<std::string>& sites, const std::string& mode) {
  std::vector<Level> levels;
  if (mode == "all") {
    levels.push_back({"all", sites});
    return levels;
  }
  if (mode != "component" && mode != "site") throw std::invalid_argument("unknown level grouping '" + mode + "'");
  for (const auto& s : sites) {
    const std::string name = mode == "site" ? s : component_of(s);
    if (levels.empty() || levels.back().name != name) levels.push_back({name, {}});
    levels.back().sites.push_back(s);
  }
  return levels;
}

}  // namespace mmdebias::causalmm
