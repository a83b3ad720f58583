#include "manifest/host_schema.hpp"

#include <sstream>
#include <stdexcept>

#include "manifest/option_values.hpp"
#include "manifest/yaml_options.hpp"

namespace mmdebias::core {
namespace {

using sdk::ComponentKind;

/// The largest train.batch_size and eval.batch_size (2^24).
constexpr double kMaxBatchSize = 16777216;

StructuredKey section_key(std::string name, std::string doc, bool required = false) {
  return {std::move(name), KeyShape::Section, ComponentKind::Dataset, required, "see below", std::move(doc)};
}

StructuredKey component_key(std::string name, KeyShape shape, ComponentKind kind, bool required, std::string def,
                            std::string doc) {
  return {std::move(name), shape, kind, required, std::move(def), std::move(doc)};
}

HostSection top_level() {
  HostSection s{"", "The top level of a manifest.", {}, {}};
  s.options.add_int("mmdebias", kManifestVersion, "Manifest format version; this host reads version 1.")
      .range(1, 1).required();
  s.structured = {
      section_key("plugins", "Where to find plugins and which binaries to accept."),
      component_key("data", KeyShape::Component, ComponentKind::Dataset, true, "required",
                    "The dataset: a dataset component map."),
      section_key("model", "The encoders and the fusion.", true),
      component_key("estimators", KeyShape::ComponentList, ComponentKind::BiasEstimator, false, "[]",
                    "Bias estimators: a list of bias estimator component maps, run in this order."),
      component_key("interventions", KeyShape::ComponentList, ComponentKind::Intervention, false, "[]",
                    "Interventions: a list of intervention component maps; within a hook they run in this order."),
      section_key("train", "The optimizer, schedule and training loop."),
      section_key("eval", "Evaluation: split, batch size and OOD scorers."),
      section_key("run", "The run: name, seed, threads, device, output directory, metric sinks."),
      {"provenance", KeyShape::Section, ComponentKind::Dataset, false, "",
       "Written by the host into resolved manifests (plugins, binaries, hook order); ignored when read."},
  };
  return s;
}

HostSection plugins() {
  HostSection s{"plugins", "Searched after --plugin-path and MMDEBIAS_PLUGIN_PATH, before the install directory "
                           "(not at all under --trusted-plugins-only). Read before any plugin is loaded.", {}, {}};
  s.options.add_string_list("paths", {}, "Directories or mmdebias-NAME.so files; relative paths are resolved against the "
                                         "manifest's directory and written absolute into the resolved manifest.");
  s.structured = {component_key("sha256", KeyShape::StringMap, ComponentKind::Dataset, false, "{}",
                                "Pins: NAME -> SHA-256 (64 hex digits, either case) of the file mmdebias-NAME.so, "
                                "checked before it is opened.")};
  return s;
}

HostSection model() {
  HostSection s{"model", "The model: one encoder per dataset modality and one fusion.", {}, {}};
  s.structured = {
      component_key("encoders", KeyShape::ComponentMap, ComponentKind::Encoder, false, "{}",
                    "Modality name -> encoder component map; every dataset modality needs exactly one."),
      component_key("fusion", KeyShape::Component, ComponentKind::Fusion, true, "required",
                    "The fusion component map (fuse, head and, where it can, per-modality heads)."),
  };
  return s;
}

HostSection train() {
  HostSection s{"train", "The training loop. Every key is optional.", {}, {}};
  auto& o = s.options;
  o.add_int("epochs", 5, "Passes over the training split (ignored when steps > 0).").at_least(0);
  o.add_int("steps", 0, "Optimizer steps to run; 0 = use epochs.").at_least(0);
  // Bounded so that batch_size times the world size, the heads' rows (cost) and the like cannot overflow int64; a
  // batch of 2^24 samples is already beyond any memory.
  o.add_int("batch_size", 64, "Samples per batch (per process), at most 2^24.").range(1, kMaxBatchSize);
  o.add_bool("drop_last", true, "Drop the last incomplete batch of an epoch.");
  o.add_bool("shuffle", true, "Shuffle the training split every epoch.");
  o.add_enum("optimizer", "adam", {"sgd", "adam", "adamw"}, "Optimizer.");
  o.add_float("lr", 1e-3, "Learning rate (components may set their own lr).").at_least(0);
  o.add_float("momentum", 0.9, "SGD momentum.").range(0, 1);
  o.add_bool("nesterov", false, "SGD Nesterov momentum.");
  o.add_float("weight_decay", 0.0, "Weight decay (decoupled for adamw; components may set their own).").at_least(0);
  o.add_float_list("betas", {0.9, 0.999}, "Adam/AdamW betas: two values in [0, 1].").range(0, 1);
  o.add_enum("scheduler", "none", {"none", "step", "multistep", "cosine"}, "Learning-rate schedule.");
  o.add_int("step_size", 1000, "step scheduler: steps between decays.").at_least(1);
  o.add_int_list("milestones", {}, "multistep scheduler: steps at which the lr decays.").at_least(0);
  o.add_float("gamma", 0.1, "step/multistep scheduler: decay factor.").at_least(0);
  o.add_int("warmup_steps", 0, "Linear warmup from 0 over this many steps.").at_least(0);
  o.add_float("grad_clip", 0.0, "Clip the global gradient norm to this value; 0 = off.").at_least(0);
  o.add_int("accumulate", 1, "Batches whose gradients are accumulated per optimizer step.").at_least(1);
  o.add_int("eval_every", 0, "Evaluate every this many steps; 0 = at the end of every epoch.").at_least(0);
  o.add_int("log_every", 10, "Write a progress line and metrics every this many steps.").at_least(1);
  o.add_int("checkpoint_every", 0, "Checkpoint every this many steps; 0 = at the end of every epoch.").at_least(0);
  return s;
}

HostSection eval() {
  HostSection s{"eval", "Evaluation after (and, with train.eval_every, during) training.", {}, {}};
  s.options.add_string("split", "test", "Split to evaluate; must be one the dataset serves.");
  s.options.add_int("batch_size", 256, "Samples per evaluation batch, at most 2^24.").range(1, kMaxBatchSize);
  s.structured = {component_key("scorers", KeyShape::ComponentList, ComponentKind::Scorer, false, "[]",
                                "OOD scorers: a list of scorer component maps.")};
  return s;
}

HostSection run() {
  HostSection s{"run", "The run as a whole.", {}, {}};
  s.options.add_string("name", "run", "Run name; the run directory is <out>/<name>.");
  s.options.add_int("seed", 0, "Seed of every random stream (data, initialisation, components).").at_least(0);
  s.options.add_int("threads", 0, "CPU threads for compute; 0 = all cores, shared among the processes of a machine; "
                   "more than the cores are capped to the cores.").range(0, 4096);
  s.options.add_string("device", "cpu", "Device: cpu; cuda (each process the GPU of its local rank: LOCAL_RANK, "
                      "SLURM_LOCALID); cuda:N (GPU N, whatever the rank).");
  s.options.add_enum("backend", "auto", {"auto", "gloo", "nccl"}, "What ranks reduce through: auto = nccl on GPUs, gloo on the CPU.");
  s.options.add_enum("precision", "fp32", {"fp32", "bf16", "fp16"}, "What the forward and the loss hooks compute in "
                    "(autocast): fp32; bf16 (CPU and GPU); fp16 (GPU only, with a dynamic loss scale). Parameters, "
                    "gradients and optimizer state stay fp32.");
  s.options.add_enum("loss_scale", "auto", {"auto", "dynamic", "none"}, "Loss scaling: auto = dynamic under fp16, none "
                    "otherwise; dynamic: scale the loss, skip steps whose gradients overflow (halving the scale), "
                    "double it after 2000 good steps (PyTorch's GradScaler).");
  s.options.add_bool("deterministic", false, "Deterministic algorithms only: cuDNN deterministic, no TF32, cuBLAS's fixed "
                    "workspace; what a bitwise-exact resume on a GPU needs (slower).");
  s.options.add_string("out", "runs", "Directory that holds run directories.");
  s.options.add_int("prefetch", 4, "Batches a loader thread prepares ahead of the training step; 0 = no loader thread, the step reads each batch itself.").at_least(0);
  s.options.add_float("dist_timeout", 300, "Seconds a collective may wait for a peer before the run ends naming the rank that stopped.").range(1, 86400);
  s.options.add_bool("check_replicas", false, "After each after_backward hook, check that every rank's gradients are still "
                    "identical (one all_gather per hook and step); on in plugins' tests, off for speed.");
  s.options.add_bool("overlap_reduce", true, "Start each gradient bucket's reduction as soon as its gradients are ready, "
                    "during backward; false: all after backward (the same sums; for measuring the overlap).");
  s.options.add_float("bucket_mb", 25, "Size of the gradient buckets reduced together in data-parallel training (MiB).").range(0.01, 4096);
  s.structured = {component_key("sinks", KeyShape::ComponentList, ComponentKind::Sink, false, "[]",
                                "Metric sinks: a list of sink component maps, each fed every metrics.jsonl line by rank 0 "
                                "(e.g. `[{type: tensorboard.events}]`); a sink that fails is warned of once and dropped.")};
  return s;
}

std::string cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

std::string shape_type_text(const StructuredKey& k) {
  std::string kind = sdk::component_kind_name(k.kind);
  switch (k.shape) {
    case KeyShape::Section: return "section";
    case KeyShape::Component: return kind + " component";
    case KeyShape::ComponentList: return "list of " + kind + " components";
    case KeyShape::ComponentMap: return "map of " + kind + " components";
    case KeyShape::StringMap: return "map of string";
  }
  return "?";
}

void section_table(std::ostringstream& md, const HostSection& s) {
  md << "### " << (s.name.empty() ? "Top level" : "`" + s.name + "`") << "\n\n" << s.doc << "\n\n";
  md << "| key | type | default | range / choices | description |\n";
  md << "|---|---|---|---|---|\n";
  for (const auto& o : s.options.specs()) {
    std::string type = sdk::option_type_name(o.type);
    if (o.type == sdk::OptionType::Enum) type = "enum";
    std::string def = o.value ? "`" + format_option_value(*o.value) + "`" : "required";
    std::string range = option_range_text(o);
    md << "| `" << o.name << "` | " << type << " | " << cell(def) << " | " << cell(range) << " | " << cell(o.doc)
       << " |\n";
  }
  for (const auto& k : s.structured) {
    std::string def = k.required                      ? "required"
                      : k.default_text.empty()          ? ""
                      : k.default_text == "see below"   ? k.default_text
                                                        : "`" + k.default_text + "`";
    md << "| `" << k.name << "` | " << shape_type_text(k) << " | " << cell(def) << " |  | " << cell(k.doc) << " |\n";
  }
  md << "\n";
}

}  // namespace

std::vector<std::string> HostSection::key_names() const {
  std::vector<std::string> names;
  for (const auto& o : options.specs()) names.push_back(o.name);
  for (const auto& k : structured) names.push_back(k.name);
  return names;
}

const StructuredKey* HostSection::find_structured(const std::string& key) const {
  for (const auto& k : structured)
    if (k.name == key) return &k;
  return nullptr;
}

const std::vector<HostSection>& host_sections() {
  static const std::vector<HostSection> sections = {top_level(), plugins(), model(), train(), eval(), run()};
  return sections;
}

const HostSection& host_section(const std::string& path) {
  for (const auto& s : host_sections())
    if (s.name == path) return s;
  throw std::out_of_range("no host section '" + path + "'");
}

const std::vector<ReservedKey>& reserved_component_keys() {
  static const std::vector<ReservedKey> keys = {
      {"type", "string", "Required. The component, as `<plugin>.<component>` (as `mmdebias plugins` lists them)."},
      {"name", "string",
       "List entries only (estimators, interventions, scorers, sinks): the instance name, unique within its list; "
       "letters, digits, `_` and `-`. Defaults to the component's name without the plugin."},
      {"lr", "float >= 0",
       "Encoders, fusion, estimators, interventions: this component's learning rate (its own parameter group). "
       "Defaults to train.lr."},
      {"weight_decay", "float >= 0",
       "Encoders, fusion, estimators, interventions: this component's weight decay. Defaults to train.weight_decay."},
      {"init", "path or map",
       "Encoders, fusion, estimators, interventions: starting weights loaded by name after the component is built, "
       "from safetensors or a state dict saved with torch.save: `init: FILE` or `init: {path, key, prefix, rename, "
       "ignore, strict}` (see docs/bring-your-model.md). Its sha256 is recorded; a resume refuses a changed file."},
      {"on_bad_sample", "stop or skip",
       "The dataset only: what a sample the dataset refuses as bad data (a corrupt or unreadable file) does. stop (the "
       "default): the run ends, naming the sample, its index row and file. skip: it is left out of its batch, warned of "
       "once, and listed with its error in summary.json (`skipped_samples`, per split); a resume keeps the list."},
      {"trainable", "bool",
       "Encoders, fusion, estimators, interventions: false freezes every parameter of the component. Default true."},
      {"freeze", "list of string",
       "Encoders, fusion, estimators, interventions: glob patterns of the component's parameter names to freeze "
       "(e.g. [conv1.*, bn1.*, layer1.*]); a pattern that matches nothing is an error."},
  };
  return keys;
}

bool component_kind_is_trained(sdk::ComponentKind kind) {
  return kind != sdk::ComponentKind::Dataset && kind != sdk::ComponentKind::Scorer && kind != sdk::ComponentKind::Sink;
}

std::string option_range_text(const sdk::OptionSpec& spec) {
  if (!spec.choices.empty()) {
    std::string out;
    for (size_t i = 0; i < spec.choices.size(); ++i) out += (i ? ", " : "") + spec.choices[i];
    return out;
  }
  if (spec.min && spec.max) return "[" + format_double(*spec.min) + ", " + format_double(*spec.max) + "]";
  if (spec.min) return ">= " + format_double(*spec.min);
  if (spec.max) return "<= " + format_double(*spec.max);
  return "";
}

std::string manifest_reference_markdown() {
  std::ostringstream md;
  for (const auto& s : host_sections()) section_table(md, s);
  md << "### Reserved keys of a component map\n\n";
  md << "| key | type | description |\n|---|---|---|\n";
  for (const auto& k : reserved_component_keys())
    md << "| `" << k.name << "` | " << cell(k.type) << " | " << cell(k.doc) << " |\n";
  return md.str();
}

}  // namespace mmdebias::core
