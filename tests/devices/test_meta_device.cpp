// Every component of every shipped plugin is device-generic (DESIGN, "Distributed, devices and precision"): it
// creates tensors on its inputs' device and never reads values back to the host inside the step unless it must.
//
// A CPU-only machine has no second device, so the check runs on `meta`: each component the loaded plugins register
// (enumerated through the plugin host, as `mmdebias plugins` does) is built with its default options, its
// parameters and buffers are moved to meta, and every hook it implements runs on meta inputs through
// sdk::testing::DeviceCheck, in the order the engine calls them (a training step with backward, an evaluation
// pass with predict, a scorer's fit and score). A tensor made without its input's options lands on the CPU and is
// caught (returned, left in a buffer, or met by an op with a meta tensor); a value read back to the host throws on
// meta and fails the hook unless declared below with its reason. The last test shows the check failing.
//
// Exempt: datasets (std.gaussian, data.*) produce CPU batches by design; the host moves them to the device.
#include "mmdebias/sdk/testing.hpp"
#include "mmdebias/sdk/device_check.hpp"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>
#include <doctest/doctest.h>

#include "devices/meta_kernels.hpp"
#include "manifest/option_values.hpp"
#include "mmdebias/core/plugin_host.hpp"
#include "plugin/registry.hpp"

namespace {

namespace sdk = mmdebias::sdk;
namespace core = mmdebias::core;
using sdk::testing::DeviceCheck;

const c10::Device kMeta(c10::kMeta);
constexpr int64_t kRows = 12, kClasses = 3;  // 12 rows: infomin.backdoor fits 8 clusters on one step's

/// Host reads the shipped plugins make on purpose, each with its reason. A reviewer reads this list; a host read
/// not on it fails the test.
void declare_host_reads(DeviceCheck& check) {
  // Metrics are no reason: Context::metric(name, tensor) keeps a tensor unread until the host flushes metrics, so a
  // component that reads a metric's value back in the step fails here. (causalmm.counterfactual_attention's variant
  // sweep, off by default and so not run here, reads the groups present in the batch: they name its metrics.)
  check.allow_host_read("std.tokens", "*",
                        "one sync per batch on purpose: the token-id range check (an id out of range is otherwise a "
                        "fatal device-side assert on CUDA)");
  check.allow_host_read("arl.uncertainty", "*",
                        "Û and w are M-vectors computed on the host in double (normalisation branches on Σ U > 0)");
  check.allow_host_read("arl.reweight", "loss", "checks the published weights are finite before using them");
  check.allow_host_read("a2d.npmix", "loss", "per-class FIFO queues filled by a host loop over classes, as released");
  check.allow_host_read("mcr.competition", "loss",
                        "permutations redrawn by rejection on the labels (as released), kept pairs by masked_select");
  check.allow_host_read("infomin.confounder", "loss", "the dynamic κ and the coding rate's sample count are host scalars");
  for (const char* scorer : {"a2d.knn", "a2d.mahalanobis", "a2d.vim"})
    check.allow_host_read(scorer, "fit", "fitting pass, outside the step: keeps the in-distribution rows (boolean index)");
  for (const char* scorer : {"a2d.react", "a2d.ash"}) {
    check.allow_host_read(scorer, "fit", "checks the fused features are the modality features concatenated (at::equal)");
    check.allow_host_read(scorer, "score", "checks the fused features are the modality features concatenated (at::equal)");
  }
  check.allow_host_read("infomin.backdoor", "on_fused", "K-means (k-means++ draws) once, at the first step after fit_epoch");
}

/// The registry of a host that loaded every built plugin through the real loader.
const core::Registry& registry() {
  static core::PluginHost host;
  static bool loaded = [] {
    core::SearchPath sp;
    sp.builtin = {MMDEBIAS_PLUGIN_DIR};
    host.load(sp);
    return true;
  }();
  (void)loaded;
  return host.registry();
}

sdk::ModalitySpec dense(const std::string& name, std::vector<int64_t> shape) {
  sdk::ModalitySpec m;
  m.name = name;
  m.shape = std::move(shape);
  return m;
}

/// The modalities encoders are tried on: a vector, an image, token ids.
std::vector<sdk::ModalitySpec> encoder_modalities() {
  sdk::ModalitySpec t = dense("t", {5});
  t.kind = sdk::InputKind::Tokens;
  t.vocab_size = 11;
  return {dense("a", {6}), dense("b", {2, 4, 4}), t};
}

/// A batch [kRows, ...] of a modality on device: zeros (ids 1 for tokens: no padding).
at::Tensor input_for(const sdk::ModalitySpec& m, c10::Device device) {
  std::vector<int64_t> shape{kRows};
  shape.insert(shape.end(), m.shape.begin(), m.shape.end());
  if (m.kind == sdk::InputKind::Tokens) return at::ones(shape, at::TensorOptions().dtype(at::kLong).device(device));
  return at::zeros(shape, at::TensorOptions().device(device));
}

/// A TorchScript encoder for std.torchscript, written from C++ (torch.jit's define): any input -> [B, 8].
std::string scripted_encoder_file() {
  static const std::string file = [] {
    const std::string path = (std::filesystem::temp_directory_path() / ("mmdebias-meta-scripted-" + std::to_string(::getpid()) + ".pt")).string();
    torch::jit::Module m("__torch__.MetaCheck");
    m.register_parameter("w", at::randn({1, 8}), false);
    m.define("def forward(self, x):\n    return x.flatten(1).sum(1, keepdim=True).float() * self.w\n");
    m.save(path);
    return path;
  }();
  return file;
}

sdk::BuildArgs args_for(const core::ComponentEntry& entry, const std::string& path, const sdk::ModelSpec& model) {
  sdk::BuildArgs a;
  a.name = path;
  a.model = model;
  std::map<std::string, sdk::OptionValue> given;
  if (entry.full_name == "std.torchscript") given["path"] = scripted_encoder_file();  // its one required option
  a.options = core::complete_options(entry.decl.schema, given);
  return a;
}

/// The model the engine runs: encoders per modality, a fusion, its head and per-modality heads where it has them.
class ModuleModel : public sdk::Model {
 public:
  std::vector<std::string> names;
  std::map<std::string, std::shared_ptr<sdk::Encoder>> encoders;
  std::shared_ptr<sdk::Fusion> fusion_;
  sdk::ModelSpec spec;

  const std::vector<std::string>& modalities() const override { return names; }
  sdk::Encoder& encoder(const std::string& m) override { return *encoders.at(m); }
  sdk::Fusion& fusion() override { return *fusion_; }
  sdk::ForwardRecord forward(const sdk::Batch& batch, const sdk::AttentionSites& sites) override {
    sdk::ForwardRecord r;
    for (const auto& m : names) r.features[m] = encoders.at(m)->encode(batch.inputs.at(m), sites);
    r.fused_input = fusion_->fuse(r.features, sites);
    r.fused = r.fused_input;
    r.logits = fusion_->head(r.fused);
    if (fusion_->has_modality_heads())
      for (const auto& m : names) r.modality_logits[m] = fusion_->modality_head(m, r.features.at(m));
    r.attention = sites.recorded();
    return r;
  }
  void move(c10::Device device) {
    for (auto& [m, e] : encoders) sdk::testing::move_in_place(*e, device);
    sdk::testing::move_in_place(*fusion_, device);
  }
};

/// Two dense modalities through std.mlp and a fusion (std.cross_attention when attention sites are needed, which
/// gives no per-modality logits; std.concat otherwise), on meta.
std::unique_ptr<ModuleModel> make_model(bool attention_sites) {
  auto model = std::make_unique<ModuleModel>();
  model->names = {"a", "b"};
  model->spec.inputs = {dense("a", {6}), dense("b", {2, 4, 4})};
  model->spec.num_classes = kClasses;
  for (const auto& m : model->spec.inputs) {
    sdk::BuildArgs a = args_for(registry().get("std.mlp"), "encoders." + m.name, model->spec);
    a.modality = m.name;
    a.options = core::complete_options(registry().get("std.mlp").decl.schema, {{"hidden", std::vector<int64_t>{8}}, {"out_dim", int64_t{6}}});
    model->encoders[m.name] = registry().make_encoder("std.mlp", a);
    model->spec.features[m.name] = model->encoders[m.name]->output();
  }
  const std::string fusion = attention_sites ? "std.cross_attention" : "std.concat";
  model->fusion_ = registry().make_fusion(fusion, args_for(registry().get(fusion), "fusion", model->spec));
  model->spec.fused_dim = model->fusion_->fused_dim();
  model->spec.attention_sites = model->fusion_->attention_sites();
  model->move(kMeta);
  return model;
}

sdk::Batch meta_batch() {
  sdk::Batch b;
  const auto longs = at::TensorOptions().dtype(at::kLong).device(kMeta);
  b.inputs["a"] = input_for(dense("a", {6}), kMeta);
  b.inputs["b"] = input_for(dense("b", {2, 4, 4}), kMeta);
  b.label = at::zeros({kRows}, longs);
  b.group = at::zeros({kRows}, longs);
  b.environment = at::zeros({kRows}, longs);
  b.ood = at::zeros({kRows}, longs.dtype(at::kBool));
  b.index = at::zeros({kRows}, longs);
  return b;
}

std::vector<at::Tensor> values_of(const std::map<std::string, at::Tensor>& m) {
  std::vector<at::Tensor> out;
  for (const auto& kv : m) out.push_back(kv.second);
  return out;
}
std::vector<at::Tensor> batch_tensors(const sdk::Batch& b) {
  std::vector<at::Tensor> out = values_of(b.inputs);
  for (const auto* t : {&b.label, &b.group, &b.environment, &b.ood, &b.index}) out.push_back(*t);
  return out;
}
std::vector<at::Tensor> record_tensors(const sdk::ForwardRecord& r) {
  std::vector<at::Tensor> out = values_of(r.features);
  for (const auto* t : {&r.fused_input, &r.fused, &r.logits}) out.push_back(*t);
  for (const auto& t : values_of(r.modality_logits)) out.push_back(t);
  return out;
}

/// One estimator or intervention in the pipeline, by full name.
struct Member {
  std::string name;
  std::shared_ptr<sdk::BiasEstimator> estimator;
  std::shared_ptr<sdk::Intervention> intervention;
  torch::nn::Module& module() const { return estimator ? static_cast<torch::nn::Module&>(*estimator) : *intervention; }
  bool has(uint32_t hook) const { return intervention && (intervention->hooks() & hook); }
};

/// The components that provide the capabilities entry needs beyond the model's (e.g. arl.reweight needs
/// arl.uncertainty's weights), found through the registry as the manifest validator finds them.
std::vector<const core::ComponentEntry*> providers_of(const core::ComponentEntry& entry) {
  static const std::set<std::string> model_capabilities = {sdk::capability::kModalityLogits, sdk::capability::kAttentionSites,
                                                           sdk::capability::kPooledFeatures, sdk::capability::kGroups};
  std::vector<const core::ComponentEntry*> out;
  for (const auto& need : entry.decl.needs) {
    if (model_capabilities.count(need)) continue;
    for (const auto* other : registry().entries())
      for (const auto& p : other->decl.provides)
        if (p == need && other != &entry) out.push_back(other);
  }
  return out;
}

bool needs_sites(const core::ComponentEntry& entry) {
  for (const auto& n : entry.decl.needs)
    if (n == sdk::capability::kAttentionSites) return true;
  return false;
}

/// Builds entry (and its providers) on a meta model and runs every hook through a training step with backward and
/// an evaluation pass. Stops at the first hook that does not run to its end.
void check_step_component(const core::ComponentEntry& entry, DeviceCheck& check) {
  auto model = make_model(needs_sites(entry));
  std::vector<Member> members;
  for (const auto* e : providers_of(entry)) {
    const std::string path = (e->kind == sdk::ComponentKind::BiasEstimator ? "estimators." : "interventions.") + e->full_name;
    if (e->kind == sdk::ComponentKind::BiasEstimator)
      members.push_back({e->full_name, registry().make_bias_estimator(e->full_name, args_for(*e, path, model->spec)), nullptr});
    else
      members.push_back({e->full_name, nullptr, registry().make_intervention(e->full_name, args_for(*e, path, model->spec))});
  }
  if (entry.kind == sdk::ComponentKind::BiasEstimator)
    members.push_back({entry.full_name, registry().make_bias_estimator(entry.full_name, args_for(entry, "estimators.x", model->spec)), nullptr});
  else
    members.push_back({entry.full_name, nullptr, registry().make_intervention(entry.full_name, args_for(entry, "interventions.x", model->spec))});
  for (auto& m : members) sdk::testing::move_in_place(m.module(), kMeta);

  sdk::testing::FakeContext ctx;
  ctx.device_value = kMeta;
  ctx.model_value = model.get();

  // The engine's hooks 1-8 (docs/plugin-guide.md, "Every hook"); run(...) false stops this component's check.
  auto forward = [&](sdk::Batch& batch, sdk::Estimates& estimates, sdk::AttentionSites& sites, sdk::ForwardRecord& r) {
    for (auto& m : members)
      if (m.has(sdk::kAtAttention) && !check.run(m.name, "at_attention", [&] { m.intervention->at_attention(sites, ctx); return std::vector<at::Tensor>{}; }, &m.module()))
        return false;
    for (const auto& name : model->names) {
      at::Tensor z = model->encoders[name]->encode(batch.inputs.at(name), sites);
      for (auto& m : members)
        if (m.has(sdk::kOnFeatures) && !check.run(m.name, "on_features", [&] { z = m.intervention->on_features(name, z, ctx); return std::vector<at::Tensor>{z}; }, &m.module()))
          return false;
      r.features[name] = z;
    }
    r.fused_input = model->fusion_->fuse(r.features, sites);
    for (auto& m : members)
      if (m.estimator && !check.run(m.name, "observe_fused", [&] { m.estimator->observe_fused(r, estimates, ctx); return values_of(estimates.all()); }, &m.module()))
        return false;
    at::Tensor fused = r.fused_input;
    for (auto& m : members)
      if (m.has(sdk::kOnFused) && !check.run(m.name, "on_fused", [&] { fused = m.intervention->on_fused(fused, estimates, ctx); return std::vector<at::Tensor>{fused}; }, &m.module()))
        return false;
    r.fused = fused;
    r.logits = model->fusion_->head(fused);
    if (model->fusion_->has_modality_heads())
      for (const auto& name : model->names) r.modality_logits[name] = model->fusion_->modality_head(name, r.features.at(name));
    for (auto& m : members)
      if (m.estimator && !check.run(m.name, "observe", [&] { m.estimator->observe(r, estimates, ctx); return values_of(estimates.all()); }, &m.module()))
        return false;
    return true;
  };

  // Training steps: an epoch 0 step, then steps late enough for warm-ups (arl start, infomin fit_epoch, ...) to end.
  for (int64_t epoch : {0, 1, 2, 100}) {
    ctx.phase_value = sdk::Phase::Train;
    ctx.epoch_value = epoch;
    sdk::Batch batch = meta_batch();
    for (auto& m : members)
      if (m.has(sdk::kOnBatch) && !check.run(m.name, "on_batch", [&] { m.intervention->on_batch(batch, ctx); return batch_tensors(batch); }, &m.module()))
        return;
    sdk::Estimates estimates;
    sdk::AttentionSites sites;
    sdk::ForwardRecord r;
    if (!forward(batch, estimates, sites, r)) return;
    sdk::LossTerms terms;
    for (auto& m : members) {
      auto terms_of = [&] {
        std::vector<at::Tensor> out;
        for (const auto& t : terms.terms()) out.push_back(t.value);
        return out;
      };
      if (m.estimator && !check.run(m.name, "loss", [&] { m.estimator->loss(r, batch, estimates, terms, ctx); return terms_of(); }, &m.module()))
        return;
      if (m.has(sdk::kLoss) && !check.run(m.name, "loss", [&] { m.intervention->loss(r, batch, estimates, *model, terms, ctx); return terms_of(); }, &m.module()))
        return;
    }
    // The backward runs the members' autograd functions (e.g. ARL's deferred gradient scale) on meta too.
    if (!check.run(entry.full_name, "backward", [&] {
          at::Tensor total = at::cross_entropy_loss(r.logits, batch.label) * terms.task_weight();
          for (const auto& t : terms.terms()) total = total + t.value * t.weight;
          total.backward();
          return std::vector<at::Tensor>{total};
        }))
      return;
    const sdk::StepRecords step = sdk::testing::step_of({{batch, r}});
    for (auto& m : members)
      if (m.has(sdk::kAfterBackward) && !check.run(m.name, "after_backward", [&] { m.intervention->after_backward(step, *model, ctx); return std::vector<at::Tensor>{}; }, &m.module()))
        return;
    for (auto& m : members) {
      const bool ran = m.estimator ? check.run(m.name, "on_step_end", [&] { m.estimator->on_step_end(ctx); return std::vector<at::Tensor>{}; }, &m.module())
                                   : !m.has(sdk::kOnStepEnd) || check.run(m.name, "on_step_end", [&] { m.intervention->on_step_end(ctx); return std::vector<at::Tensor>{}; }, &m.module());
      if (!ran) return;
    }
    for (auto& p : model->fusion_->parameters()) p.mutable_grad() = at::Tensor();
  }

  // Evaluation: hooks 2-5 and predict (8).
  ctx.phase_value = sdk::Phase::Eval;
  sdk::Batch batch = meta_batch();
  sdk::Estimates estimates;
  sdk::AttentionSites sites;
  sdk::ForwardRecord r;
  if (!forward(batch, estimates, sites, r)) return;
  at::Tensor logits = r.logits;
  for (auto& m : members)
    if (m.has(sdk::kPredict) && !check.run(m.name, "predict", [&] { logits = m.intervention->predict(r, logits, batch, estimates, *model, ctx); return std::vector<at::Tensor>{logits}; }, &m.module()))
      return;
}

/// A scorer's fitting pass (two batches) and its score, on a meta model lent through the context.
void check_scorer(const core::ComponentEntry& entry, DeviceCheck& check) {
  auto model = make_model(false);
  auto scorer = registry().make_scorer(entry.full_name, args_for(entry, "scorers.x", model->spec));
  sdk::testing::move_in_place(*scorer, kMeta);
  sdk::testing::FakeContext ctx(sdk::Phase::Fit);
  ctx.device_value = kMeta;
  ctx.model_value = model.get();
  const sdk::Batch batch = meta_batch();
  const sdk::ForwardRecord r = model->forward(batch, {});
  if (scorer->needs_fit()) {
    for (int i = 0; i < 2; ++i)
      if (!check.run(entry.full_name, "fit", [&] { scorer->fit(r, batch, ctx); return std::vector<at::Tensor>{}; }, scorer.get())) return;
    if (!check.run(entry.full_name, "finish_fit", [&] { scorer->finish_fit(ctx); return std::vector<at::Tensor>{}; }, scorer.get())) return;
  }
  ctx.phase_value = sdk::Phase::Eval;
  check.run(entry.full_name, "score", [&] { return std::vector<at::Tensor>{scorer->score(r, r.logits, ctx)}; }, scorer.get());
}

void check_encoder(const core::ComponentEntry& entry, DeviceCheck& check) {
  // The first modality its factory accepts (encoders refuse the input kinds they do not handle).
  for (const auto& m : encoder_modalities()) {
    sdk::BuildArgs a = args_for(entry, "encoders." + m.name, {});
    a.model.inputs = encoder_modalities();
    a.model.num_classes = kClasses;
    a.modality = m.name;
    std::shared_ptr<sdk::Encoder> enc;
    try {
      enc = registry().make_encoder(entry.full_name, a);
    } catch (const std::exception&) {
      continue;
    }
    sdk::testing::move_in_place(*enc, kMeta);
    sdk::AttentionSites sites;
    check.run(entry.full_name, "encode (" + m.name + ")", [&] { return std::vector<at::Tensor>{enc->encode(input_for(m, kMeta), sites)}; }, enc.get());
    return;
  }
  FAIL_CHECK(entry.full_name << " accepted none of the test's modalities");
}

void check_fusion(const core::ComponentEntry& entry, DeviceCheck& check) {
  sdk::ModelSpec spec;
  spec.inputs = {dense("a", {6}), dense("b", {4})};
  spec.features = {{"a", {6, false, 0}}, {"b", {4, false, 0}}};
  spec.num_classes = kClasses;
  auto fusion = registry().make_fusion(entry.full_name, args_for(entry, "fusion", spec));
  sdk::testing::move_in_place(*fusion, kMeta);
  const sdk::Features features = {{"a", at::zeros({kRows, 6}, at::TensorOptions().device(kMeta))},
                                  {"b", at::zeros({kRows, 4}, at::TensorOptions().device(kMeta))}};
  sdk::AttentionSites sites;
  at::Tensor fused;
  if (!check.run(entry.full_name, "fuse", [&] { fused = fusion->fuse(features, sites); return std::vector<at::Tensor>{fused}; }, fusion.get())) return;
  if (!check.run(entry.full_name, "head", [&] { return std::vector<at::Tensor>{fusion->head(fused)}; }, fusion.get())) return;
  if (fusion->has_modality_heads())
    for (const auto& [m, z] : features)
      check.run(entry.full_name, "modality_head (" + m + ")", [&] { return std::vector<at::Tensor>{fusion->modality_head(m, z)}; }, fusion.get());
}

}  // namespace

TEST_CASE("every shipped component runs on the meta device with its host reads declared") {
  devtest::register_meta_kernels();
  DeviceCheck check(kMeta);
  declare_host_reads(check);
  std::vector<std::string> exempt;
  for (const auto* entry : registry().entries()) {
    CAPTURE(entry->full_name);
    switch (entry->kind) {
      case sdk::ComponentKind::Dataset:
      case sdk::ComponentKind::Sink: exempt.push_back(entry->full_name); break;  // sinks see numbers, never tensors
      case sdk::ComponentKind::Encoder: check_encoder(*entry, check); break;
      case sdk::ComponentKind::Fusion: check_fusion(*entry, check); break;
      case sdk::ComponentKind::Scorer: check_scorer(*entry, check); break;
      case sdk::ComponentKind::BiasEstimator:
      case sdk::ComponentKind::Intervention: check_step_component(*entry, check); break;
    }
  }
  std::string exempt_line;
  for (const auto& e : exempt) exempt_line += (exempt_line.empty() ? "" : ", ") + e;
  MESSAGE("device check on meta\n" << check.report() << "exempt (datasets make CPU batches, the host moves them; sinks get no tensor): " << exempt_line);
  for (const auto& f : check.failures()) FAIL_CHECK(f);

  // Every computing component was reached, and every plugin of the tree was loaded.
  std::set<std::string> reached;
  for (const auto& e : check.entries()) reached.insert(e.component);
  for (const auto* entry : registry().entries())
    if (entry->kind != sdk::ComponentKind::Dataset && entry->kind != sdk::ComponentKind::Sink) CHECK_MESSAGE(reached.count(entry->full_name), entry->full_name << " was not run");
  for (const char* plugin : {"std.mlp", "arl.reweight", "a2d.npmix", "mcr.competition", "causalmm.counterfactual_attention",
                             "infomin.debias", "data.files"})
    CHECK_MESSAGE(registry().find(plugin) != nullptr, plugin << " is not registered: a plugin was not built or not loaded");
}

namespace {

/// Wrong on purpose: its score is made with default options, on the CPU, whatever the logits' device.
class CpuScorer : public sdk::Scorer {
 public:
  at::Tensor score(const sdk::ForwardRecord&, const at::Tensor& logits, sdk::Context&) override { return at::zeros({logits.size(0)}); }
};

/// Wrong on purpose: adds a CPU tensor to the device's logits.
class MixingScorer : public sdk::Scorer {
 public:
  at::Tensor score(const sdk::ForwardRecord&, const at::Tensor& logits, sdk::Context&) override {
    return (logits + at::ones(logits.sizes())).amax(1);
  }
};

/// Wrong on purpose: replaces its buffer with a CPU tensor when fitting (the host would not move it back).
class CpuBufferScorer : public sdk::Scorer {
 public:
  CpuBufferScorer() { mean_ = register_buffer("mean", at::zeros({3})); }
  bool needs_fit() const override { return true; }
  void fit(const sdk::ForwardRecord& r, const sdk::Batch&, sdk::Context&) override { mean_.set_(at::ones({r.logits.size(1)})); }
  at::Tensor score(const sdk::ForwardRecord&, const at::Tensor& logits, sdk::Context&) override { return logits.amax(1); }

 private:
  at::Tensor mean_;
};

/// Wrong on purpose: reads a value back to the host without declaring it.
class ReadingScorer : public sdk::Scorer {
 public:
  at::Tensor score(const sdk::ForwardRecord&, const at::Tensor& logits, sdk::Context&) override {
    return logits.amax(1) * logits.max().item<double>();
  }
};

}  // namespace

TEST_CASE("the device check fails a component that makes tensors on the CPU or reads the host undeclared") {
  devtest::register_meta_kernels();
  DeviceCheck check(kMeta);
  sdk::testing::FakeContext ctx(sdk::Phase::Eval);
  ctx.device_value = kMeta;
  sdk::ForwardRecord r;
  r.logits = at::zeros({kRows, kClasses}, at::TensorOptions().device(kMeta));
  const sdk::Batch batch = meta_batch();
  auto score = [&](const std::string& name, sdk::Scorer& s) {
    sdk::testing::move_in_place(s, kMeta);
    if (s.needs_fit() && !check.run(name, "fit", [&] { s.fit(r, batch, ctx); return std::vector<at::Tensor>{}; }, &s)) return;
    check.run(name, "score", [&] { return std::vector<at::Tensor>{s.score(r, r.logits, ctx)}; }, &s);
  };
  CpuScorer cpu;
  MixingScorer mixing;
  CpuBufferScorer buffer;
  ReadingScorer reading;
  auto energy = registry().make_scorer("std.energy", args_for(registry().get("std.energy"), "scorers.energy", {}));
  score("cpu", cpu);
  score("mixing", mixing);
  score("buffer", buffer);
  score("reading", reading);
  score("std.energy", *energy);
  MESSAGE(check.report());
  const auto failures = check.failures();
  REQUIRE(failures.size() == 4);
  CHECK(failures[0] == "cpu score: returned tensor 0 on cpu");
  CHECK(failures[1].rfind("mixing score: ", 0) == 0);
  CHECK(failures[1].find("device") != std::string::npos);
  CHECK(failures[2].rfind("buffer fit: ", 0) == 0);  // "left buffer mean on cpu", or set_'s own refusal (2.x)
  CHECK(failures[3].rfind("reading score: reads a value back to the host (aten::_local_scalar_dense)", 0) == 0);
  CHECK(check.entries().back().outcome == DeviceCheck::Outcome::Ok);  // std.energy passes

  // Declared, the same read is listed with its reason instead of failing.
  DeviceCheck declared(kMeta);
  declared.allow_host_read("reading", "score", "on purpose");
  declared.run("reading", "score", [&] { return std::vector<at::Tensor>{reading.score(r, r.logits, ctx)}; });
  CHECK(declared.failures().empty());
  CHECK(declared.entries().front().outcome == DeviceCheck::Outcome::HostRead);
}

TEST_CASE("move_in_place moves parameters and buffers and every handle to them") {
  torch::nn::Linear linear(3, 2);
  at::Tensor handle = linear->weight;
  sdk::testing::move_in_place(*linear, kMeta);
  CHECK(handle.device() == kMeta);
  CHECK(linear->bias.device() == kMeta);
  CHECK(linear->weight.requires_grad());
  CHECK(linear->forward(at::zeros({4, 3}, at::TensorOptions().device(kMeta))).device() == kMeta);
}
