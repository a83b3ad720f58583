// `mmdebias export RUN --out DIR`: the trained pipeline traced (export/trace_pipeline), its weights and a
// description written beside it, all into a fresh directory that appears whole or not at all.
#include "mmdebias/core/export.hpp"

#include <unistd.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/version.h>

#include "common/atomic_file.hpp"
#include "export/trace_pipeline.hpp"
#include "mmdebias/core/errors.hpp"
#include "run/checkpoint.hpp"
#include "run/trained_run.hpp"
#include "train/batch.hpp"
#include "weights/safetensors.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kSamples = 64;  // evaluation samples kept with their logits in samples.pt

sdk::Batch first_samples(sdk::Dataset& data, int64_t n) {
  n = std::min(n, data.size());
  std::vector<sdk::Sample> samples;
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < n; ++i) {
    samples.push_back(data.get(i));
    indices.push_back(i);
  }
  return collate(samples, indices);
}

nlohmann::json component_json(const std::string& name, const std::string& type, const sdk::Options& options) {
  nlohmann::json o = nlohmann::json::object();
  for (const auto& [k, v] : options.values())
    std::visit([&](const auto& x) { o[k] = x; }, v);
  return {{"name", name}, {"type", type}, {"options", o}};
}

nlohmann::json describe(PipelineModel& model, const TracedPipeline& traced, const TrainedRun& run, const fs::path& run_dir) {
  const BuiltPipeline& p = model.pipeline();
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& m : p.model.inputs)
    inputs.push_back({{"name", m.name}, {"dtype", m.kind == sdk::InputKind::Tokens ? "int64" : "float32"},
                      {"shape", nlohmann::json(m.shape)}, {"vocab_size", m.vocab_size}});
  nlohmann::json encoders = nlohmann::json::array();
  for (const auto& e : p.encoders) {
    nlohmann::json j = component_json(e.name, e.type, e.options);
    const sdk::FeatureSpec f = p.model.features.at(e.name.substr(e.name.find('.') + 1));
    j["output"] = {{"dim", f.dim}, {"tokens", f.tokens}, {"length", f.length}};
    encoders.push_back(j);
  }
  nlohmann::json interventions = nlohmann::json::array();
  for (const auto& i : p.interventions) interventions.push_back(component_json(i.name, i.type, i.options));
  return {{"format", "mmdebias-export"},
          {"format_version", 1},
          {"run", fs::absolute(run_dir).lexically_normal().string()},
          {"checkpoint", run.checkpoint.filename().string()},
          {"step", run.meta.position.step},
          {"params_sha256", params_sha256(model.root())},
          {"inputs", inputs},
          {"num_classes", p.model.num_classes},
          {"encoders", encoders},
          {"fusion", component_json(p.fusion.name, p.fusion.type, p.fusion.options)},
          {"interventions", interventions},
          {"in_prediction", traced.in_prediction},
          {"batching", traced.batching},
          {"torch", TORCH_VERSION},
          {"usage", "logits = torch.jit.load('model.pt')({name: tensor [B, *shape] for each input})"}};
}

NamedTensors named_state(torch::nn::Module& root) {
  NamedTensors out;
  for (const auto& p : root.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : root.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

// {"split", "inputs": {modality: tensor}, "logits", "label"}: what torch.load reads in Python.
c10::IValue samples_dict(const sdk::Batch& samples, const at::Tensor& logits, const std::string& split) {
  c10::Dict<std::string, at::Tensor> inputs;
  for (const auto& [m, t] : samples.inputs) inputs.insert(m, t);
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("split", split);
  out.insert("inputs", inputs);
  out.insert("logits", logits);
  out.insert("label", samples.label);
  return out;
}

// What torch.save writes for value (LibTorch's pickler and archive writer), without torch::pickle_save's type tags
// on dicts: PyTorch >= 2.6 loads with weights_only=True, which refuses the tags' restore function.
std::vector<char> torch_load_bytes(const c10::IValue& value) {
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* bytes, size_t n) { pickle.insert(pickle.end(), bytes, bytes + n); }, nullptr,
                              nullptr, nullptr, nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> archive;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* bytes, size_t n) {
    archive.insert(archive.end(), static_cast<const char*>(bytes), static_cast<const char*>(bytes) + n);
    return n;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return archive;
}


// out_dir must be new (or empty): an export never mixes with or replaces another.
void check_out_dir(const fs::path& out_dir) {
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !(fs::is_directory(out_dir, ec) && fs::is_empty(out_dir, ec)))
    throw InputError("export: " + out_dir.string() + " exists and is not an empty directory; choose a new --out");
}

}  // namespace

nlohmann::json export_run(const fs::path& run_dir_path, const fs::path& out_dir, const std::vector<Override>& overrides,
                          SearchPath search, const std::string& checkpoint) {
  RunDirectory run_dir(run_dir_path);
  if (!fs::exists(run_dir.manifest())) throw InputError(run_dir_path.string() + " is not a run directory (no manifest.yaml)");
  check_out_dir(out_dir);
  // Traced on the CPU (a CUDA run's export loads anywhere; torch.jit.load(map_location=) moves it).
  std::vector<Override> with_cpu = parse_overrides({"run.device=cpu", "run.precision=fp32"});
  with_cpu.insert(with_cpu.end(), overrides.begin(), overrides.end());
  TrainedRun trained = open_trained_run(run_dir, run_dir_path.string(), with_cpu, std::move(search), checkpoint, "export");
  Session& session = *trained.session;
  PipelineModel& model = *session.model;

  const sdk::Batch samples = first_samples(*session.eval_data, kSamples);
  TracedPipeline traced = trace_pipeline(model, session.state, samples);
  at::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    c10::Dict<std::string, at::Tensor> inputs;
    for (const auto& [m, t] : samples.inputs) inputs.insert(m, t);
    logits = traced.module.forward({c10::IValue(inputs)}).toTensor();
  }
  const nlohmann::json description = describe(model, traced, trained, run_dir_path);

  const fs::path partial = out_dir.string() + ".partial-" + std::to_string(::getpid());
  fs::remove_all(partial);
  fs::create_directories(partial);
  try {
    traced.module.save((partial / "model.pt").string());
    write_safetensors(partial / "weights.safetensors", named_state(model.root()),
                      {{"format", "mmdebias-export"}, {"checkpoint", trained.checkpoint.filename().string()}});
    const std::vector<char> samples_pt = torch_load_bytes(samples_dict(samples, logits, session.section("eval").string("split")));
    write_file_atomically(partial / "samples.pt", std::string(samples_pt.begin(), samples_pt.end()));
    write_file_atomically(partial / "pipeline.json", description.dump(2) + "\n");
    std::error_code ec;
    if (fs::exists(out_dir, ec)) fs::remove(out_dir);  // empty (checked above)
    fs::rename(partial, out_dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(partial, ec);
    throw;
  }
  return description;
}

}  // namespace mmdebias::core
