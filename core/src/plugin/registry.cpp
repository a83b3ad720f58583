#include "plugin/registry.hpp"

#include <array>
#include <cstdio>

#include "common/text.hpp"
#include "manifest/host_schema.hpp"
#include "mmdebias/core/errors.hpp"
#include "plugin/guard.hpp"

namespace mmdebias::core {
namespace {

const std::array<const char*, 4> kReservedOptionNames = {"type", "name", "lr", "weight_decay"};
// Reserved in trained components only (since 1.4's host): a dataset or scorer may still call an option "init".
const std::array<const char*, 3> kReservedTrainedNames = {"init", "trainable", "freeze"};
// Reserved in datasets only: skipping bad samples is the host's.
const std::array<const char*, 1> kReservedDatasetNames = {"on_bad_sample"};

std::string owner_text(const std::shared_ptr<PluginLibrary>& plugin) {
  return plugin ? plugin->path().string() : std::string("<built in>");
}

// Makes an instance through its factory and ties the plugin's lifetime to it.
template <class T, class Factory>
std::shared_ptr<T> make_instance(const ComponentEntry& entry, const sdk::BuildArgs& args) {
  const auto& factory = std::get<Factory>(entry.factory);
  ComponentLabel label{entry.plugin ? entry.plugin->info().name : "?", args.name.empty() ? entry.full_name : args.name + " (" + entry.full_name + ")"};
  std::shared_ptr<T> made = guarded(label, "construct", [&] { return factory(args); });
  if (!made) throw ComponentError(label.plugin, label.component, "construct", "the factory returned null");
  // The aliasing constructor: the object is reachable through the returned pointer, and both the object
  // and the plugin library stay alive until the last pointer is gone.
  struct Holder {
    std::shared_ptr<PluginLibrary> plugin;  // destroyed last
    std::shared_ptr<T> object;
  };
  auto holder = std::make_shared<Holder>(Holder{entry.plugin, made});
  return std::shared_ptr<T>(holder, made.get());
}

}  // namespace

void Registry::register_plugin(const std::shared_ptr<PluginLibrary>& plugin) {
  current_ = plugin;
  added_.clear();
  char error[1024] = {0};
  int rc = 0;
  // The SDK's trampoline catches everything (also our own InputError from add()) and reports it as a
  // code; a hand-written registration function may not, so nothing may escape past here either.
  try {
    rc = plugin->register_fn()(static_cast<sdk::Registrar*>(this), error, sizeof error);
  } catch (const std::exception& e) {
    rc = -1;
    std::snprintf(error, sizeof error, "%s (an exception escaped its registration function)", e.what());
  } catch (...) {
    rc = -1;
    std::snprintf(error, sizeof error, "an exception not derived from std::exception escaped its registration function");
  }
  error[sizeof error - 1] = '\0';  // a plugin may fill the buffer without terminating it
  current_.reset();
  if (rc != 0) {
    for (const auto& name : added_) entries_.erase(name);  // all or nothing
    added_.clear();
    std::string why = error[0] ? std::string(error) : "it returned " + std::to_string(rc) + " and gave no message";
    throw InputError("refused " + plugin->path().string() + " (plugin '" + plugin->info().name + "'): its registration failed: " + why);
  }
  added_.clear();
}

void Registry::add(sdk::ComponentKind kind, sdk::ComponentDecl decl, AnyFactory factory) {
  std::string plugin_name = current_ ? current_->info().name : "builtin";
  if (decl.name.empty() || decl.name.find('.') != std::string::npos)
    throw InputError("plugin '" + plugin_name + "' registers a component with an invalid name '" + decl.name + "' (non-empty, no '.')");
  for (const char* reserved : kReservedOptionNames)
    if (decl.schema.find(reserved))
      throw InputError("component " + plugin_name + "." + decl.name + " declares an option named '" + reserved + "', which the manifest reserves");
  if (kind == sdk::ComponentKind::Dataset)
    for (const char* reserved : kReservedDatasetNames)
      if (decl.schema.find(reserved))
        throw InputError("component " + plugin_name + "." + decl.name + " declares an option named '" + reserved +
                         "', which the manifest reserves in datasets (skipping bad samples is the host's)");
  if (component_kind_is_trained(kind))
    for (const char* reserved : kReservedTrainedNames)
      if (decl.schema.find(reserved))
        throw InputError("component " + plugin_name + "." + decl.name + " declares an option named '" + reserved +
                         "', which the manifest reserves in trained components (starting weights and freezing)");
  std::string full = plugin_name + "." + decl.name;
  auto it = entries_.find(full);
  if (it != entries_.end())
    throw InputError("component " + full + " is registered twice: by " + owner_text(it->second.plugin) + " and by " + owner_text(current_));
  entries_.emplace(full, ComponentEntry{full, kind, std::move(decl), std::move(factory), current_});
  added_.push_back(full);
}

void Registry::add_dataset(sdk::ComponentDecl d, sdk::DatasetFactory f) { add(sdk::ComponentKind::Dataset, std::move(d), std::move(f)); }
void Registry::add_encoder(sdk::ComponentDecl d, sdk::EncoderFactory f) { add(sdk::ComponentKind::Encoder, std::move(d), std::move(f)); }
void Registry::add_fusion(sdk::ComponentDecl d, sdk::FusionFactory f) { add(sdk::ComponentKind::Fusion, std::move(d), std::move(f)); }
void Registry::add_bias_estimator(sdk::ComponentDecl d, sdk::BiasEstimatorFactory f) { add(sdk::ComponentKind::BiasEstimator, std::move(d), std::move(f)); }
void Registry::add_intervention(sdk::ComponentDecl d, sdk::InterventionFactory f) { add(sdk::ComponentKind::Intervention, std::move(d), std::move(f)); }
void Registry::add_scorer(sdk::ComponentDecl d, sdk::ScorerFactory f) { add(sdk::ComponentKind::Scorer, std::move(d), std::move(f)); }
void Registry::add_sink(sdk::ComponentDecl d, sdk::SinkFactory f) { add(sdk::ComponentKind::Sink, std::move(d), std::move(f)); }

const ComponentEntry* Registry::find(const std::string& full_name) const {
  auto it = entries_.find(full_name);
  return it == entries_.end() ? nullptr : &it->second;
}

const ComponentEntry& Registry::get(const std::string& full_name, std::optional<sdk::ComponentKind> kind) const {
  const ComponentEntry* e = find(full_name);
  std::string kind_text = kind ? std::string(sdk::component_kind_name(*kind)) : "component";
  if (e && (!kind || e->kind == *kind)) return *e;
  if (e) throw InputError("'" + full_name + "' is a " + sdk::component_kind_name(e->kind) + ", not a " + kind_text);
  std::vector<std::string> known = names(kind);
  std::string message = "unknown " + kind_text + " '" + full_name + "'" + did_you_mean(full_name, known) +
                        " (registered: " + (known.empty() ? "none" : join(known)) + ")";
  if (full_name.find('.') == std::string::npos) message += "; component types are written <plugin>.<component>";
  throw InputError(message);
}

std::vector<const ComponentEntry*> Registry::entries(std::optional<sdk::ComponentKind> kind) const {
  std::vector<const ComponentEntry*> out;
  for (const auto& kv : entries_) if (!kind || kv.second.kind == *kind) out.push_back(&kv.second);
  return out;
}

std::vector<std::string> Registry::names(std::optional<sdk::ComponentKind> kind) const {
  std::vector<std::string> out;
  for (const auto* e : entries(kind)) out.push_back(e->full_name);
  return out;
}

std::shared_ptr<sdk::Dataset> Registry::make_dataset(const std::string& type, const sdk::BuildArgs& args) const {
  return make_instance<sdk::Dataset, sdk::DatasetFactory>(get(type, sdk::ComponentKind::Dataset), args);
}
std::shared_ptr<sdk::Encoder> Registry::make_encoder(const std::string& type, const sdk::BuildArgs& args) const {
  return make_instance<sdk::Encoder, sdk::EncoderFactory>(get(type, sdk::ComponentKind::Encoder), args);
}
std::shared_ptr<sdk::Fusion> Registry::make_fusion(const std::string& type, const sdk::BuildArgs& args) const {
  return make_instance<sdk::Fusion, sdk::FusionFactory>(get(type, sdk::ComponentKind::Fusion), args);
}
std::shared_ptr<sdk::BiasEstimator> Registry::make_bias_estimator(const std::string& type, const sdk::BuildArgs& args) const {
  return make_instance<sdk::BiasEstimator, sdk::BiasEstimatorFactory>(get(type, sdk::ComponentKind::BiasEstimator), args);
}
std::shared_ptr<sdk::Intervention> Registry::make_intervention(const std::string& type, const sdk::BuildArgs& args) const {
  return make_instance<sdk::Intervention, sdk::InterventionFactory>(get(type, sdk::ComponentKind::Intervention), args);
}
std::shared_ptr<sdk::Scorer> Registry::make_scorer(const std::string& type, const sdk::BuildArgs& args) const {
  return make_instance<sdk::Scorer, sdk::ScorerFactory>(get(type, sdk::ComponentKind::Scorer), args);
}
std::shared_ptr<sdk::MetricSink> Registry::make_sink(const std::string& type, const sdk::BuildArgs& args) const {
  return make_instance<sdk::MetricSink, sdk::SinkFactory>(get(type, sdk::ComponentKind::Sink), args);
}

}  // namespace mmdebias::core
