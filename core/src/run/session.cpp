#include "run/session.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <yaml-cpp/yaml.h>

#include "common/activity.hpp"
#include "common/cache_dir.hpp"
#include "mmdebias/core/errors.hpp"
#include "plugin/guard.hpp"
#include "plugin/registry.hpp"
#include "run/device.hpp"
#include "run/threads.hpp"
#include "train/skipped_samples.hpp"

namespace mmdebias::core {
namespace {

// run.seed read before validation: components initialise their parameters while validation builds them.
int64_t lenient_seed(const Manifest& manifest) {
  try {
    YAML::Node run = manifest.root()["run"];
    if (run && run.IsMap() && run["seed"] && run["seed"].IsScalar()) return run["seed"].as<int64_t>();
  } catch (const YAML::Exception&) {
  }
  return 0;  // validation reports a malformed seed
}

std::shared_ptr<sdk::Dataset> make_split(const Registry& registry, const Instance<sdk::Dataset>& data, const std::string& split,
                                         uint64_t seed, const sdk::DatasetInfo& info) {
  bool known = info.splits.empty();
  for (const auto& s : info.splits) known = known || s == split;
  if (!known) {
    std::string list;
    for (const auto& s : info.splits) list += (list.empty() ? "" : ", ") + s;
    throw InputError("eval.split: dataset " + data.type + " has no split '" + split + "' (it has: " + list + ")");
  }
  sdk::BuildArgs args;
  args.name = data.name;
  args.options = data.options;
  args.split = split;
  args.cache_dir = data_cache_dir().string();
  args.seed = seed;
  return registry.make_dataset(data.type, args);
}

void prepare(const std::shared_ptr<sdk::Dataset>& data, const std::string& type, const std::string& split) {
  ComponentLabel label{type.substr(0, type.find('.')), "data (" + type + ", split " + split + ")"};
  ActivityNote activity("preparing the " + split + " split of " + type);
  guarded(label, "prepare", [&] { data->prepare(); });
}

}  // namespace

std::unique_ptr<Session> open_session(const Manifest& manifest, SearchPath search, const DistributedConfig& dist) {
  auto session = std::make_unique<Session>();
  search.manifest = manifest_plugin_paths(manifest);
  session->host.load(search, manifest_sha256_pins(manifest));
  for (const auto& skip : session->host.skips()) session->notes.push_back("note: " + skip);  // chosen, so no warning

  const int64_t seed = lenient_seed(manifest);
  at::manual_seed(static_cast<uint64_t>(seed));
  ValidatedPipeline validated;
  try {
    validated = validate_and_build(manifest, session->host.registry());
  } catch (const InputErrors& e) {
    std::vector<std::string> lines = e.messages();
    for (const auto& r : session->host.refusals()) lines.push_back("note: " + r);
    throw InputErrors(lines);
  }
  session->resolved = std::move(validated.resolved);
  session->resolved.libraries = library_provenance(session->host);
  const sdk::Options& run = session->section("run");
  const int cores = usable_cores();
  int threads = static_cast<int>(run.integer("threads"));
  if (threads == 0 && dist.local_world_size > 1)  // the machine's cores are shared by its processes
    threads = std::max(1, cores / dist.local_world_size);
  if (threads > cores) {  // more compute threads than cores only contend (100000 once spawned until killed)
    session->notes.push_back("run.threads " + std::to_string(threads) + " is more than the " + std::to_string(cores) +
                             " cores this process may use: using " + std::to_string(cores));
    threads = cores;
  }
  session->threads = set_thread_count(threads);
  keep_freed_step_buffers();

  RunState& state = session->state;
  state.seed = static_cast<uint64_t>(seed);
  state.device = resolve_device(run.string("device"), dist);
  state.precision = resolve_precision(run.string("precision"), state.device);
  set_deterministic(run.boolean("deterministic"));
  if (const YAML::Node policy = session->resolved.config["data"]["on_bad_sample"]; policy && policy.Scalar() == "skip")
    state.skipped = std::make_shared<SkippedSamples>([&state](const std::string& message) {
      if (state.logger) state.logger->warn(message);
    });
  use_device(state.device);

  const Instance<sdk::Dataset> data = validated.pipeline.dataset;
  const sdk::DatasetInfo info = validated.pipeline.dataset_info;
  session->train_data = data.object;
  session->model = std::make_unique<PipelineModel>(std::move(validated.pipeline), state);
  session->model->root().to(state.device);
  // Parameters are built alike on every rank (seeded above); from here on, dropout and the like differ per rank.
  if (dist.rank > 0) at::manual_seed(static_cast<uint64_t>(seed) + 1000003ull * static_cast<uint64_t>(dist.rank));
  state.rngs = RngStreams(static_cast<uint64_t>(seed) + 1000003ull * static_cast<uint64_t>(dist.rank));
  state.shared_rngs = RngStreams(stable_hash("shared streams", static_cast<uint64_t>(seed)));  // no rank in it

  prepare(session->train_data, data.type, "train");
  const std::string split = session->section("eval").string("split");
  session->eval_data = split == "train" ? session->train_data : make_split(session->host.registry(), data, split, state.seed, info);
  if (session->eval_data != session->train_data) prepare(session->eval_data, data.type, split);

  YAML::Node doc = YAML::Load(emit_yaml(session->resolved));
  doc["provenance"]["data"]["train"] = session->train_data->fingerprint();
  doc["provenance"]["data"][split] = session->eval_data->fingerprint();
  YAML::Emitter out;
  out << doc;
  session->resolved_text = std::string(out.c_str()) + "\n";
  YAML::Emitter config;
  config << session->resolved.config;
  session->config_text = std::string(config.c_str()) + "\n";
  return session;
}

}  // namespace mmdebias::core
