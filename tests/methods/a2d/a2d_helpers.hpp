// Shared helpers for the a2d plugin's tests: a host context with RNG streams and a lent model, a model around
// a real std fusion, component factories through the real loader, and the Python reference runner.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "plugins/std_helpers.hpp"

namespace a2dtest {

namespace sdk = mmdebias::sdk;
using stdtest::contains;
using stdtest::error_of;
using stdtest::registry;

/// A model around one fusion: modalities in order, the fusion's parts; no encoders (tests give features).
class FusionModel : public sdk::Model {
 public:
  FusionModel(std::vector<std::string> modalities, std::shared_ptr<sdk::Fusion> fusion)
      : modalities_(std::move(modalities)), fusion_(std::move(fusion)) {}
  const std::vector<std::string>& modalities() const override { return modalities_; }
  sdk::Encoder& encoder(const std::string&) override { throw std::logic_error("FusionModel has no encoders"); }
  sdk::Fusion& fusion() override { return *fusion_; }
  sdk::ForwardRecord forward(const sdk::Batch&, const sdk::AttentionSites&) override { throw std::logic_error("FusionModel cannot run a batch"); }

 private:
  std::vector<std::string> modalities_;
  std::shared_ptr<sdk::Fusion> fusion_;
};

/// A world of one on the CPU with named RNG streams (seeded from the name), a settable epoch, recorded
/// metrics and an optional lent model.
class TestContext : public sdk::Context {
 public:
  explicit TestContext(sdk::Model* model = nullptr, sdk::Phase phase = sdk::Phase::Train) : model_(model), phase_(phase) {}
  void log(sdk::LogLevel, const std::string&) override {}
  at::Generator& rng(const std::string& stream) override {
    auto it = streams_.find(stream);
    if (it == streams_.end())
      it = streams_.emplace(stream, at::make_generator<at::CPUGeneratorImpl>(std::hash<std::string>{}(stream) & 0xFFFFFF)).first;
    return it->second;
  }
  at::Generator& shared_rng(const std::string& name) override { return rng("shared/" + name); }
  void metric(const std::string& name, double value) override { metrics[name] = value; }
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  sdk::Phase phase() const override { return phase_; }
  int64_t step() const override { return 0; }
  int64_t epoch() const override { return epoch_value; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(at::Tensor&) override {}
  at::Tensor all_gather(const at::Tensor& t) override { return t; }
  sdk::Model* model() override { return model_; }

  int64_t epoch_value = 0;                 ///< What epoch() answers.
  std::map<std::string, double> metrics;   ///< Metrics recorded so far (last value per name).

 private:
  sdk::Model* model_;
  sdk::Phase phase_;
  std::map<std::string, at::Generator> streams_;
};

/// Build arguments for a method component over modalities of the given pooled widths (in this order).
inline sdk::BuildArgs component_args(const std::string& type, const std::vector<std::pair<std::string, int64_t>>& widths,
                                     int64_t classes, std::map<std::string, sdk::OptionValue> given = {}) {
  sdk::BuildArgs a;
  a.name = type;
  for (const auto& [name, dim] : widths) {
    a.model.inputs.push_back(stdtest::dense(name, {dim}));
    a.model.features[name] = stdtest::pooled(dim);
    a.model.fused_dim += dim;
  }
  a.model.num_classes = classes;
  a.options = stdtest::options(type, std::move(given));
  return a;
}

/// A std.concat fusion over the modalities, with its parameters in float64; modality_heads as given (separate: what
/// a2d.disagree and a2d.npmix need, a classifier per modality apart from the fused head).
inline std::shared_ptr<sdk::Fusion> concat_fusion(const std::vector<std::pair<std::string, int64_t>>& widths, int64_t classes,
                                                  const std::string& heads = "separate") {
  std::vector<std::pair<std::string, sdk::FeatureSpec>> specs;
  for (const auto& [name, dim] : widths) specs.emplace_back(name, stdtest::pooled(dim));
  auto fusion = stdtest::make_fusion("std.concat", specs, classes, {{"modality_heads", heads}});
  fusion->to(at::kDouble);
  return fusion;
}

/// The weighted sum the host would form: task loss * task_weight + sum of weight * term.
inline at::Tensor total_loss(const sdk::LossTerms& terms, const at::Tensor& fused, const at::Tensor& labels) {
  at::Tensor total = at::cross_entropy_loss(fused, labels) * terms.task_weight();
  for (const auto& t : terms.terms()) total = total + t.value * t.weight;
  return total;
}

/// One training step of a model made of a std.concat fusion over given features: the forward record as the host makes
/// it, the intervention's terms and the host's total loss (not yet backpropagated).
struct ModelStep {
  std::vector<std::string> names;          ///< Modalities, in order.
  std::shared_ptr<sdk::Fusion> fusion;     ///< float64.
  sdk::Features features;                  ///< z_m, leaves requiring grad.
  sdk::ForwardRecord record;               ///< fused, logits, modality_logits as the host fills them.
  sdk::LossTerms terms;                    ///< What the intervention added.
  at::Tensor loss;                         ///< CE(logits) * task weight + sum of weight * term.
};

/// Runs a2d.disagree for one step on random features (B = labels' size) through a std.concat fusion whose
/// modality_heads is heads.
inline ModelStep disagree_step(const std::vector<std::pair<std::string, int64_t>>& widths, int64_t classes,
                               const at::Tensor& labels, std::map<std::string, sdk::OptionValue> options,
                               const std::string& heads = "separate") {
  ModelStep s;
  for (const auto& [name, dim] : widths) {
    s.names.push_back(name);
    s.features[name] = at::randn({labels.size(0), dim}, at::kDouble).requires_grad_(true);
  }
  s.fusion = concat_fusion(widths, classes, heads);
  s.record.features = s.features;
  s.record.fused = s.fusion->fuse(s.features, {});
  s.record.logits = s.fusion->head(s.record.fused);
  for (const auto& m : s.names) s.record.modality_logits[m] = s.fusion->modality_head(m, s.features.at(m));
  auto component = registry().make_intervention("a2d.disagree", component_args("a2d.disagree", widths, classes, std::move(options)));
  FusionModel model(s.names, s.fusion);
  TestContext ctx(&model);
  sdk::Batch batch;
  batch.label = labels;
  component->loss(s.record, batch, sdk::Estimates(), model, s.terms, ctx);
  s.loss = total_loss(s.terms, s.record.logits, labels);
  return s;
}

/// The parameter called name of a module ("head.weight").
inline at::Tensor parameter(torch::nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters(true))
    if (p.key() == name) return p.value();
  throw std::out_of_range("no parameter " + name);
}

/// The buffer called name of a module.
inline at::Tensor buffer(torch::nn::Module& m, const std::string& name) {
  for (const auto& b : m.named_buffers(true))
    if (b.key() == name) return b.value();
  throw std::out_of_range("no buffer " + name);
}

/// A tensor as nested JSON lists (float64).
inline nlohmann::json to_json(const at::Tensor& t) {
  at::Tensor d = t.detach().to(at::kDouble).contiguous();
  if (d.dim() == 0) return d.item<double>();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < d.size(0); ++i) out.push_back(to_json(d[i]));
  return out;
}

/// Integer tensor as a JSON list.
inline nlohmann::json to_json_long(const at::Tensor& t) {
  nlohmann::json out = nlohmann::json::array();
  at::Tensor l = t.to(at::kLong).contiguous();
  for (int64_t i = 0; i < l.size(0); ++i) out.push_back(l[i].item<int64_t>());
  return out;
}

/// A JSON (nested) list as a float64 tensor.
inline at::Tensor from_json(const nlohmann::json& j) {
  if (j.is_number()) return at::scalar_tensor(j.get<double>(), at::kDouble);
  std::vector<at::Tensor> rows;
  for (const auto& r : j) rows.push_back(from_json(r));
  return at::stack(rows);
}

/// A Linear submodule's parameters as the reference reads them: {"weight": [C, D], "bias": [C]}.
inline nlohmann::json linear_json(torch::nn::Module& m, const std::string& prefix) {
  return {{"weight", to_json(parameter(m, prefix + ".weight"))}, {"bias", to_json(parameter(m, prefix + ".bias"))}};
}

/// Runs tests/python/a2d_reference.py on a case; FAILS (never skips) when the tests' Python (MMDEBIAS_PYTHON) or torch is missing.
inline nlohmann::json python_reference(const nlohmann::json& input) {
  namespace fs = std::filesystem;
  const fs::path python = MMDEBIAS_PYTHON;
  const fs::path script = fs::path(MMDEBIAS_SOURCE_DIR) / "tests" / "python" / "a2d_reference.py";
  REQUIRE_MESSAGE(fs::exists(script), "missing " << script.string());
  if (!fs::exists(python)) FAIL(MMDEBIAS_PYTHON " is missing: install python3-torch (apt-get install python3-torch)");
  static int counter = 0;
  const fs::path in = fs::temp_directory_path() / ("mmdebias-a2d-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".json");
  std::ofstream(in) << input.dump();
  const std::string cmd = python.string() + " -I " + script.string() + " " + in.string() + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, got);
  const int status = ::pclose(pipe);
  fs::remove(in);
  INFO("reference script output: " << output.substr(0, 2000));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) FAIL("torch is missing for " MMDEBIAS_PYTHON ": install python3-torch");
  REQUIRE_MESSAGE(status == 0, "the torch reference script failed");
  return nlohmann::json::parse(output);
}

/// True when a gradient is exactly zero: undefined (the parameter is not in the graph) or all 0.
inline bool exactly_zero(const at::Tensor& grad) { return !grad.defined() || (grad == 0).all().item<bool>(); }

/// Checks |got - want| <= tol * max(1, |want|) elementwise.
inline void check_close(const at::Tensor& got, const at::Tensor& want, double tol, const std::string& what) {
  REQUIRE_MESSAGE(got.sizes().equals(want.sizes()), what << ": shape " << got.sizes() << " vs " << want.sizes());
  at::Tensor g = got.detach().to(at::kDouble), w = want.to(at::kDouble);
  at::Tensor excess = (g - w).abs() - tol * w.abs().clamp_min(1.0);
  INFO(what << ": largest excess over tolerance " << excess.max().item<double>() << "\ngot  " << g << "\nwant " << w);
  CHECK(excess.max().item<double>() <= 0.0);
}

}  // namespace a2dtest
