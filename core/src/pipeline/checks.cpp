// Checks that need the built model: capabilities (needs vs provides), exclusive hooks, attention sites;
// and the hook order the engine will follow.
#include <algorithm>
#include <set>

#include "common/text.hpp"
#include "pipeline/build.hpp"
#include "pipeline/independent_heads.hpp"

namespace mmdebias::core::detail {
namespace {

struct HookDef {
  const char* step;  // the design's number ("4a"); the list is in the order the engine calls them
  const char* name;
  uint32_t bit;  // 0: estimators (they declare no hook bits; each is offered both looks)
};

const std::vector<HookDef>& hook_defs() {
  static const std::vector<HookDef> defs = {
      {"1", "on_batch", sdk::kOnBatch},       {"3", "at_attention", sdk::kAtAttention}, {"2", "on_features", sdk::kOnFeatures},
      {"4a", "observe_fused", 0},             {"4", "on_fused", sdk::kOnFused},         {"5", "observe", 0},
      {"6", "loss", sdk::kLoss},              {"7", "after_backward", sdk::kAfterBackward},
      {"7", "on_step_end", sdk::kOnStepEnd},  {"8", "predict", sdk::kPredict},
  };
  return defs;
}

std::string hook_text(uint32_t bit) {
  for (const auto& h : hook_defs())
    if (h.bit == bit) return std::string(h.step) + " (" + h.name + ")";
  return "?";
}

// True when some component of the manifest declares it needs capability.
bool needed(const ParsedManifest& parsed, const std::string& capability) {
  for (const auto* c : parsed.all())
    if (c->entry)
      for (const auto& need : c->entry->decl.needs)
        if (need == capability) return true;
  return false;
}

// Capability -> instances that provide it: declared by components, or derived from the built model (independent
// modality heads only: a fusion's declaration of them is not taken on trust, and they are probed only when needed).
std::map<std::string, std::vector<std::string>> providers(const ParsedManifest& parsed, const BuiltPipeline& built) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto* c : parsed.all())
    if (c->entry)
      for (const auto& cap : c->entry->decl.provides)
        if (cap != sdk::capability::kIndependentModalityHeads) out[cap].push_back(c->instance);
  if (built.dataset_info.num_groups > 0) out[sdk::capability::kGroups].push_back("data");
  bool pooled = !built.encoders.empty();
  for (const auto& [m, f] : built.model.features) pooled = pooled && !f.tokens;
  if (pooled) out[sdk::capability::kPooledFeatures].push_back("model");
  if (!built.model.attention_sites.empty()) out[sdk::capability::kAttentionSites].push_back("model");
  if (built.fusion.object && built.fusion.object->has_modality_heads())
    out[sdk::capability::kModalityLogits].push_back("fusion");
  if (built.fusion.object && needed(parsed, sdk::capability::kIndependentModalityHeads) &&
      has_independent_modality_heads(*built.fusion.object, built.model))
    out[sdk::capability::kIndependentModalityHeads].push_back("fusion");
  return out;
}

void check_capabilities(const ParsedManifest& parsed, const BuiltPipeline& built, const Registry& registry,
                        Diagnostics& diag) {
  auto provided = providers(parsed, built);
  for (const auto* c : parsed.all()) {
    if (!c->entry) continue;
    for (const auto& need : c->entry->decl.needs) {
      bool met = false;
      for (const auto& who : provided[need]) met = met || who != c->instance;
      if (met) continue;
      std::vector<std::string> could;
      for (const auto* e : registry.entries())
        for (const auto& p : e->decl.provides)
          if (p == need && e->full_name != c->entry->full_name) could.push_back(e->full_name);
      std::string msg = c->entry->full_name + " needs '" + need + "', which no other component of this manifest provides";
      if (need == sdk::capability::kGroups) msg += "; a dataset with group ids provides it";
      if (need == sdk::capability::kAttentionSites) {
        std::vector<std::string> scripted;
        for (const auto& e : built.encoders)
          if (e.type == "std.torchscript") scripted.push_back(e.name);
        msg += "; the model has no attention site";
        if (!scripted.empty())
          msg += " (" + join(scripted) + " is a TorchScript encoder: its attention, if any, runs inside the scripted module, "
                 "where no intervention can reach it; an encoder that declares its sites, e.g. std.tokens, has them)";
      }
      if (need == sdk::capability::kIndependentModalityHeads && built.fusion.object)
        msg += "; the fusion " + built.fusion.type + " gives per-modality logits " +
               (built.fusion.object->has_modality_heads() ? "from parameters of its fused head" : "not at all") + ", and " +
               c->entry->full_name + " needs each modality's logits from a classifier of its own (`mmdebias describe " +
               built.fusion.type + "` shows the fusion's options)";
      if (!could.empty()) msg += "; registered components that provide it: " + join(could);
      diag.error(c->path, c->node, msg);
    }
  }
}

void check_interventions(const ParsedManifest& parsed, const BuiltPipeline& built, Diagnostics& diag) {
  const auto& ivs = built.interventions;
  std::vector<std::string> sites;
  for (const auto& s : built.model.attention_sites) sites.push_back(s.name);
  std::map<std::string, size_t> owner;  // site -> index of its first claimant
  for (size_t j = 0; j < ivs.size(); ++j) {
    const ParsedComponent* pj = parsed.by_instance(ivs[j].name);
    if (!pj) continue;
    const uint32_t hooks_j = ivs[j].object->hooks() | ivs[j].object->exclusive_hooks();
    const uint32_t excl_j = ivs[j].object->exclusive_hooks();
    for (size_t i = 0; i < j; ++i) {
      const uint32_t hooks_i = ivs[i].object->hooks() | ivs[i].object->exclusive_hooks();
      const uint32_t excl_i = ivs[i].object->exclusive_hooks();
      for (uint32_t bit = 1; bit != 0 && bit <= sdk::kPredict; bit <<= 1) {
        const std::string other = ivs[i].name + " (" + ivs[i].type + ")";
        if ((excl_i & bit) && (hooks_j & bit)) {
          diag.error(pj->path, pj->node, ivs[j].type + " runs at hook " + hook_text(bit) + ", which " + other +
                                             " must own alone");
        } else if ((excl_j & bit) && (hooks_i & bit)) {
          diag.error(pj->path, pj->node, ivs[j].type + " must own hook " + hook_text(bit) + " alone, but " + other +
                                             " also runs there");
        }
      }
    }
    for (const auto& site : ivs[j].object->claimed_sites()) {
      if (std::find(sites.begin(), sites.end(), site) == sites.end()) {
        std::string msg = ivs[j].type + " claims attention site '" + site + "', which the model does not have; ";
        msg += sites.empty() ? "the model has no attention sites" : "its sites: " + join(sites) + did_you_mean(site, sites);
        diag.error(pj->path, pj->node, msg);
        continue;
      }
      auto [it, fresh] = owner.emplace(site, j);
      if (!fresh)
        diag.error(pj->path, pj->node, ivs[j].type + " claims attention site '" + site + "', already claimed by " +
                                           ivs[it->second].name + " (" + ivs[it->second].type + "); a site has one owner");
    }
  }
}

}  // namespace

void check_pipeline(const ParsedManifest& parsed, const BuiltPipeline& built, const Registry& registry,
                    Diagnostics& diag) {
  if (parsed.all_types_resolved) check_capabilities(parsed, built, registry, diag);
  check_interventions(parsed, built, diag);
}

std::vector<HookSlot> hook_order(const BuiltPipeline& built) {
  std::vector<HookSlot> out;
  for (const auto& h : hook_defs()) {
    HookSlot slot{h.step, h.name, {}};
    if (h.bit == 0) {
      for (const auto& e : built.estimators) {
        slot.instances.push_back(e.name);
        slot.types.push_back(e.type);
      }
    } else {
      for (const auto& iv : built.interventions)
        if (iv.object->hooks() & h.bit) {
          slot.instances.push_back(iv.name);
          slot.types.push_back(iv.type);
        }
    }
    out.push_back(std::move(slot));
  }
  return out;
}

}  // namespace mmdebias::core::detail
