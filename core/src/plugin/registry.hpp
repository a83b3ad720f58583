// The registry: every component the loaded plugins declared, by full name, with its factory and owner.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mmdebias/sdk/registrar.hpp"
#include "plugin/library.hpp"

namespace mmdebias::core {

/// Any of the seven factory types.
using AnyFactory = std::variant<sdk::DatasetFactory, sdk::EncoderFactory, sdk::FusionFactory,
                                sdk::BiasEstimatorFactory, sdk::InterventionFactory, sdk::ScorerFactory, sdk::SinkFactory>;

/// One registered component.
struct ComponentEntry {
  std::string full_name;                   ///< "<plugin>.<name>".
  sdk::ComponentKind kind;                 ///< Its kind.
  sdk::ComponentDecl decl;                 ///< Doc, schema, needs, provides.
  AnyFactory factory;                      ///< Makes instances.
  std::shared_ptr<PluginLibrary> plugin;   ///< Owning plugin (kept alive by every instance).
};

/// Collects components during registration and makes instances that keep their plugin loaded.
class Registry : public sdk::Registrar {
 public:
  /// Registers a plugin's components by calling its registration function; throws InputError on a
  /// duplicate name (naming both files) or when the function reports an error.
  void register_plugin(const std::shared_ptr<PluginLibrary>& plugin);

  void add_dataset(sdk::ComponentDecl decl, sdk::DatasetFactory make) override;
  void add_encoder(sdk::ComponentDecl decl, sdk::EncoderFactory make) override;
  void add_fusion(sdk::ComponentDecl decl, sdk::FusionFactory make) override;
  void add_bias_estimator(sdk::ComponentDecl decl, sdk::BiasEstimatorFactory make) override;
  void add_intervention(sdk::ComponentDecl decl, sdk::InterventionFactory make) override;
  void add_scorer(sdk::ComponentDecl decl, sdk::ScorerFactory make) override;
  void add_sink(sdk::ComponentDecl decl, sdk::SinkFactory make) override;

  /// The entry called full_name, or nullptr.
  const ComponentEntry* find(const std::string& full_name) const;
  /// The entry called full_name of the given kind (any kind when empty); throws InputError listing
  /// the registered names of that kind and the nearest match.
  const ComponentEntry& get(const std::string& full_name, std::optional<sdk::ComponentKind> kind = {}) const;
  /// Every entry (of kind, when given), sorted by name.
  std::vector<const ComponentEntry*> entries(std::optional<sdk::ComponentKind> kind = {}) const;
  /// Full names of the entries of kind (any when empty).
  std::vector<std::string> names(std::optional<sdk::ComponentKind> kind = {}) const;

  /// Makes a dataset; the returned object keeps its plugin loaded. Exceptions become ComponentError.
  std::shared_ptr<sdk::Dataset> make_dataset(const std::string& type, const sdk::BuildArgs& args) const;
  /// Makes an encoder (see make_dataset).
  std::shared_ptr<sdk::Encoder> make_encoder(const std::string& type, const sdk::BuildArgs& args) const;
  /// Makes a fusion (see make_dataset).
  std::shared_ptr<sdk::Fusion> make_fusion(const std::string& type, const sdk::BuildArgs& args) const;
  /// Makes a bias estimator (see make_dataset).
  std::shared_ptr<sdk::BiasEstimator> make_bias_estimator(const std::string& type, const sdk::BuildArgs& args) const;
  /// Makes an intervention (see make_dataset).
  std::shared_ptr<sdk::Intervention> make_intervention(const std::string& type, const sdk::BuildArgs& args) const;
  /// Makes a scorer (see make_dataset).
  std::shared_ptr<sdk::Scorer> make_scorer(const std::string& type, const sdk::BuildArgs& args) const;
  /// Makes a metric sink (see make_dataset).
  std::shared_ptr<sdk::MetricSink> make_sink(const std::string& type, const sdk::BuildArgs& args) const;

 private:
  void add(sdk::ComponentKind kind, sdk::ComponentDecl decl, AnyFactory factory);
  std::map<std::string, ComponentEntry> entries_;
  std::shared_ptr<PluginLibrary> current_;  // plugin whose registration function is running
  std::vector<std::string> added_;          // names it added so far (removed again if it fails)
};

}  // namespace mmdebias::core
