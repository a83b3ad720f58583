#include "mmdebias/core/engine.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <tbb/global_control.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "mmdebias/core/checkpoint.hpp"
#include "mmdebias/core/checkpoint_choice.hpp"
#include "mmdebias/core/disk_space.hpp"
#include "mmdebias/core/distributed.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/eval_samples.hpp"
#include "mmdebias/core/evaluator.hpp"
#include "mmdebias/core/resume_check.hpp"
#include "mmdebias/core/run_directory.hpp"
#include "mmdebias/core/scorer_state.hpp"
#include "mmdebias/core/stop_request.hpp"
#include "mmdebias/core/trainer.hpp"
#include "session.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

// Rank 0 logs to the console and log.txt; other ranks to the console only (their lines carry their rank).
std::shared_ptr<spdlog::logger> make_logger(const RunDirectory& dir, int rank) {
  auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  console->set_level(rank == 0 ? spdlog::level::info : spdlog::level::warn);
  std::vector<spdlog::sink_ptr> sinks{console};
  if (rank == 0) sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(dir.log().string(), false));
  auto logger = std::make_shared<spdlog::logger>("mmdebias", sinks.begin(), sinks.end());
  logger->set_pattern("[%Y-%m-%d %H:%M:%S] [rank " + std::to_string(rank) + "] %v");
  logger->flush_on(spdlog::level::info);
  return logger;
}

std::map<std::string, at::Tensor> rng_states(const RunState& state) {
  std::map<std::string, at::Tensor> states = state.rngs.states();
  states["default"] = at::detail::getDefaultCPUGenerator().get_state();
  return states;
}

// Every rank's streams, packed, in rank order (each rank's blob may differ in size).
std::vector<std::string> gather_rng(RunState& state) {
  std::string mine = pack_rng(rng_states(state));
  Collective& c = *state.collective;
  if (c.world_size() == 1) return {mine};
  at::Tensor size = c.all_gather(at::full({1}, static_cast<int64_t>(mine.size()), at::kLong));
  at::Tensor bytes = at::empty({static_cast<int64_t>(mine.size())}, at::kByte);
  std::memcpy(bytes.data_ptr(), mine.data(), mine.size());
  at::Tensor all = c.all_gather(bytes);
  std::vector<std::string> out;
  int64_t offset = 0;
  for (int r = 0; r < c.world_size(); ++r) {
    int64_t n = size[r].item<int64_t>();
    out.emplace_back(static_cast<const char*>(all.data_ptr()) + offset, static_cast<size_t>(n));
    offset += n;
  }
  return out;
}

void restore_rng(RunState& state, std::map<std::string, at::Tensor> states) {
  if (auto it = states.find("default"); it != states.end()) {
    at::Generator global = at::detail::getDefaultCPUGenerator();  // a handle to the same generator
    global.set_state(it->second);
    states.erase(it);
  }
  state.rngs.restore(states);
}

// A plugin's exception during training names the step it stopped after and the checkpoint that is kept.
TrainResult train_naming_step(Trainer& trainer, const RunState& state, const fs::path& checkpoints) {
  try {
    return trainer.run();
  } catch (const ComponentError& e) {
    std::optional<fs::path> kept = latest_checkpoint(checkpoints);
    throw RunError("training stopped after step " + std::to_string(state.step) + ": " + e.what() + "; " +
                   (kept ? "the last checkpoint " + kept->string() + " is intact" : "no checkpoint was written yet"));
  }
}

Manifest manifest_of(const RunRequest& r) {
  if (!r.resume.empty()) {
    fs::path file = RunDirectory(r.resume).manifest();
    if (!fs::exists(file)) throw InputError(r.resume.string() + " is not a run directory (no manifest.yaml)");
    return load_manifest(file, r.overrides);
  }
  if (!r.manifest_file.empty()) return load_manifest(r.manifest_file, r.overrides);
  return load_manifest_text(r.manifest_text, r.display_name, r.overrides);
}

// One line of progress: a bar redrawn in place on a terminal, a plain line every so often otherwise.
struct Progress {
  bool interactive;
  int64_t every;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<std::pair<std::chrono::steady_clock::time_point, int64_t>> start =
      std::make_shared<std::pair<std::chrono::steady_clock::time_point, int64_t>>(std::chrono::steady_clock::now(), -1);

  void operator()(int64_t step, int64_t total, double loss, double rate) const {
    if (start->second < 0) *start = {std::chrono::steady_clock::now(), step - 1};
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start->first).count();
    double per_step = elapsed / static_cast<double>(std::max<int64_t>(1, step - start->second));
    long eta = static_cast<long>(per_step * static_cast<double>(total - step));
    char eta_text[32];
    std::snprintf(eta_text, sizeof eta_text, "%ld:%02ld", eta / 60, eta % 60);
    if (interactive) {
      int width = 30, filled = static_cast<int>(width * step / std::max<int64_t>(1, total));
      std::fprintf(stderr, "\r[%s%s] step %lld/%lld  loss %.4f  %.0f samples/s  ETA %s ", std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), static_cast<long long>(step), static_cast<long long>(total), loss,
                   rate, eta_text);
      if (step == total) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    } else if (step % every == 0 || step == total) {
      logger->info("step {}/{}  loss {:.4f}  {:.0f} samples/s  ETA {}", step, total, loss, rate, eta_text);
    }
  }
};

}  // namespace

int set_thread_count(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  // One cap for oneTBB too, so the loader's arena and LibTorch's pool do not oversubscribe the cores.
  static std::unique_ptr<tbb::global_control> tbb_cap;
  tbb_cap = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(n));
  return n;
}

RunOutcome run_pipeline(const RunRequest& request) {
  // From setup to the last step, SIGTERM/SIGINT only ask the trainer to checkpoint and stop (every rank
  // at the same step, even when one rank alone was signalled); the final evaluation is not covered.
  auto stop_on_signal = std::make_unique<StopSignalScope>();
  const bool resuming = !request.resume.empty();
  const DistributedConfig dist = distributed_config_from_env();
  Manifest manifest = manifest_of(request);
  std::unique_ptr<Session> session = open_session(manifest, request.search, dist);
  RunState& state = session->state;
  const sdk::Options &run = session->section("run"), &train = session->section("train"), &eval = session->section("eval");
  state.collective = join_process_group(dist, std::chrono::milliseconds(static_cast<int64_t>(run.number("dist_timeout") * 1000)));
  Collective& collective = *state.collective;
  const bool writer = collective.rank() == 0;  // rank 0 writes; every rank reads

  fs::path dir = resuming ? request.resume
                 : !request.out.empty() ? request.out
                                        : RunDirectory::fresh(run.string("out"), run.string("name"));
  dir = collective.broadcast_string(dir.string());  // the timestamped name is rank 0's
  std::optional<fs::path> latest;
  if (resuming) {
    latest = choose_checkpoint(dir / "checkpoints", request.checkpoint, "mmdebias run --resume " + dir.string());
    if (!latest)
      throw InputError("nothing to resume in " + dir.string() + ": it has no checkpoint yet; start it again with `mmdebias run " +
                       (dir / "manifest.yaml").string() + " --out " + dir.string() + "`");
    std::vector<std::string> differences = resume_differences(read_checkpoint_meta(*latest).resolved_manifest, session->resolved_text);
    if (!differences.empty()) {
      differences.insert(differences.begin(), "cannot resume " + dir.string() + ": what the run was started with has changed:");
      throw InputErrors(differences);
    }
  } else if (fs::exists(dir / "checkpoints" / "latest")) {
    throw InputError(dir.string() + " already holds a run; continue it with `mmdebias run --resume " + dir.string() + "` or choose another --out");
  }
  RunDirectory run_dir(dir);
  if (writer) require_run_space(dir, session->model->root(), train);  // exit 2 now rather than a failed checkpoint later
  state.logger = make_logger(run_dir, collective.rank());
  if (writer) remove_unfinished_writes(run_dir.checkpoints());
  if (writer && !resuming) {
    write_file_atomically(run_dir.manifest(), session->config_text);
    write_file_atomically(run_dir.resolved(), session->resolved_text);
    write_file_atomically(run_dir.metrics(), "");  // a start that died before its first checkpoint logged lines
  }
  if (writer && resuming && !request.checkpoint.empty()) {  // continuing from an earlier checkpoint: later ones go aside
    for (const std::string& name : set_aside_later_checkpoints(run_dir.checkpoints(), *latest))
      state.logger->info("moved {} (after the chosen checkpoint) to {}", name, (run_dir.checkpoints() / "discarded").string());
    if (fs::exists(run_dir.summary())) {  // it described the end of the discarded continuation
      fs::create_directories(run_dir.checkpoints() / "discarded");
      fs::rename(run_dir.summary(), run_dir.checkpoints() / "discarded" / "summary.json");
    }
  }

  PipelineModel& model = *session->model;
  {  // every rank starts from rank 0's parameters (they were built alike; this makes it certain)
    at::NoGradGuard no_grad;
    for (auto& t : model.root().parameters()) collective.broadcast(t);
    for (auto& t : model.root().buffers()) collective.broadcast(t);
  }
  EvalOptions eval_options{eval.string("split"), eval.integer("batch_size"), 1};
  const int loader_threads = session->threads > 2 ? session->threads / 2 : 1;
  TrainerCallbacks callbacks;
  std::unique_ptr<Trainer> trainer;
  if (writer) callbacks.log = [&](const nlohmann::json& line) { run_dir.append_metrics(line); };
  callbacks.checkpoint = [&](const RunPosition& position) {
    CheckpointMeta meta{position, session->resolved_text, gather_rng(state)};
    if (writer) save_checkpoint(run_dir.checkpoints(), model.root(), trainer->optimizer(), meta);
  };
  callbacks.evaluate = [&](int64_t step) {
    // Evaluation must not disturb training's random streams (dropout in eval is off, but scorers may sample).
    auto saved = rng_states(state);
    fit_scorers(model, state, session->train_data, eval_options);
    nlohmann::json result = evaluate(model, state, session->eval_data, eval_options);
    result["type"] = "eval";
    result["step"] = step;
    if (writer) run_dir.append_metrics(result);
    restore_rng(state, saved);
  };
  if (writer) callbacks.progress = Progress{request.interactive, std::max<int64_t>(1, train.integer("log_every")) * 10, state.logger};
  const size_t bucket_bytes = static_cast<size_t>(run.number("bucket_mb") * 1024 * 1024);
  trainer = std::make_unique<Trainer>(model, state, train, session->train_data, loader_threads,
                                      static_cast<int>(run.integer("prefetch")), bucket_bytes, callbacks);
  if (resuming) {
    CheckpointMeta meta = load_checkpoint(*latest, model.root(), trainer->optimizer());
    if (static_cast<size_t>(collective.rank()) < meta.rng_by_rank.size())
      restore_rng(state, unpack_rng(meta.rng_by_rank[collective.rank()]));
    if (static_cast<int>(meta.rng_by_rank.size()) != collective.world_size())
      state.logger->warn("the checkpoint was written by {} ranks and is resumed by {}: random streams of the new ranks start afresh, "
                         "so the run will not match an uninterrupted one bit for bit", meta.rng_by_rank.size(), collective.world_size());
    trainer->resume_from(meta.position);
    state.step = meta.position.step;
    if (writer) run_dir.truncate_metrics_after(meta.position.step, meta.position.step >= trainer->total_steps());
    state.logger->info("resumed {} at step {} (epoch {}, batch {})", latest->string(), meta.position.step, meta.position.epoch,
                       meta.position.next_batch);
  } else {
    state.logger->info("run {}: {} steps, {} process(es) x {} threads, device {}", dir.string(), trainer->total_steps(),
                       collective.world_size(), session->threads, state.device.str());
  }

  TrainResult trained = train_naming_step(*trainer, state, run_dir.checkpoints());
  stop_on_signal.reset();  // a signal during the final evaluation ends the process: resume evaluates again
  // A request that came after the last step's all-reduce finds that step checkpointed too (the last one is).
  if (const int signal = trained.stop_signal != 0 ? trained.stop_signal : stop_signal_received()) {
    std::optional<fs::path> saved = latest_checkpoint(run_dir.checkpoints());
    if (writer)
      state.logger->info("stopped by {} at step {}; checkpoint {} saved; continue with: mmdebias run --resume {}", signal_name(signal),
                         trained.steps, saved ? saved->filename().string() : "(none)", dir.string());
    RunOutcome stopped{dir, {{"steps", trained.steps}, {"rank", collective.rank()}}};
    stopped.stopped_by_signal = signal;
    return stopped;
  }
  const std::string digest = params_sha256(model.root());
  fit_scorers(model, state, session->train_data, eval_options);
  if (writer) save_scorer_state(model, run_dir.scorers(), {digest, session->train_data->fingerprint()});
  SampleScores samples;  // per-sample scores, for the report's ROC curves and histograms
  nlohmann::json final_eval = evaluate(model, state, session->eval_data, eval_options, &samples);
  final_eval["type"] = "eval";
  final_eval["step"] = trained.steps;

  nlohmann::json summary = {{"run", fs::absolute(dir).string()},
                            {"steps", trained.steps},
                            {"epochs", trained.epochs},
                            {"samples", trained.samples},
                            {"params_sha256", digest},
                            {"train", {{"seconds", trained.seconds},
                                       {"samples_per_s", trained.samples_per_second},
                                       {"data_wait_fraction", trained.data_wait_fraction},
                                       {"last_terms", trained.last}}},
                            {"eval", final_eval},
                            {"world_size", collective.world_size()},
                            {"threads", session->threads},
                            {"device", state.device.str()}};
  if (writer) {
    run_dir.append_metrics(final_eval);
    run_dir.write_summary(summary);
    write_sample_scores(run_dir.dir() / sample_scores_file(eval_options.split), samples);
    state.logger->info("done: {} (params_sha256 {})", run_dir.summary().string(), digest);
  }
  summary["rank"] = collective.rank();  // returned to the caller, not written: the file is rank 0's
  return {dir, summary};
}

nlohmann::json evaluate_run(const fs::path& run_dir_path, const std::vector<Override>& overrides, SearchPath search,
                            const std::string& checkpoint) {
  RunDirectory run_dir(run_dir_path);
  if (!fs::exists(run_dir.manifest())) throw InputError(run_dir_path.string() + " is not a run directory (no manifest.yaml)");
  std::optional<fs::path> latest = choose_checkpoint(run_dir.checkpoints(), checkpoint, "mmdebias eval " + run_dir_path.string());
  if (!latest) throw InputError(run_dir_path.string() + " has no checkpoint to evaluate");
  Manifest manifest = load_manifest(run_dir.manifest(), overrides);
  std::unique_ptr<Session> session = open_session(manifest, std::move(search));
  RunState& state = session->state;
  state.logger = make_logger(run_dir, state.collective->rank());
  const sdk::Options& eval = session->section("eval");
  std::vector<double> unused_lrs;
  auto optimizer = make_optimizer(session->model->parameter_groups(), session->section("train"), unused_lrs);
  CheckpointMeta meta = load_checkpoint(*latest, session->model->root(), *optimizer);  // one process: rank 0's view
  std::vector<std::string> differences = resume_differences(meta.resolved_manifest, session->resolved_text, /*for_eval=*/true);
  if (!differences.empty()) {
    differences.insert(differences.begin(), "cannot evaluate " + run_dir_path.string() + ": the pipeline differs from the one trained:");
    throw InputErrors(differences);
  }
  EvalOptions options{eval.string("split"), eval.integer("batch_size"), 1};
  // Statistics fitted at the end of the run are reused when nothing they depend on changed.
  const ScorerBasis basis{params_sha256(session->model->root()), session->train_data->fingerprint()};
  const std::set<std::string> restored = load_scorer_state(*session->model, run_dir.scorers(), basis);
  fit_scorers(*session->model, state, session->train_data, options, restored);
  save_scorer_state(*session->model, run_dir.scorers(), basis);
  SampleScores samples;
  nlohmann::json result = evaluate(*session->model, state, session->eval_data, options, &samples);
  write_sample_scores(run_dir.dir() / sample_scores_file(options.split), samples);
  result["step"] = meta.position.step;
  result["checkpoint"] = latest->string();
  result["scorer_statistics_reused"] = restored;
  write_file_atomically(run_dir.dir() / ("eval-" + options.split + ".json"), result.dump(2) + "\n");
  return result;
}

}  // namespace mmdebias::core
