#include "mmdebias/core/run.hpp"

// `mmdebias run`: a manifest turned into a trained, evaluated, reproducible run directory, or a killed run continued.
#include <ATen/ATen.h>

#include <chrono>

#include "dist/distributed.hpp"
#include "eval/eval_samples.hpp"
#include "eval/evaluator.hpp"
#include "eval/scorer_state.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/stop_request.hpp"
#include "run/checkpoint.hpp"
#include "run/checkpoint_choice.hpp"
#include "run/disk_space.hpp"
#include "run/logging.hpp"
#include "run/resume_check.hpp"
#include "run/rng_state.hpp"
#include "run/run_directory.hpp"
#include "run/session.hpp"
#include "train/trainer.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

// What stopped training, with the step it stopped after and the checkpoint that is kept.
std::string stopped_training(const std::exception& e, const RunState& state, const fs::path& checkpoints) {
  std::optional<fs::path> kept = latest_checkpoint(checkpoints);
  return "training stopped after step " + std::to_string(state.step) + ": " + e.what() + "; " +
         (kept ? "the last checkpoint " + kept->string() + " is intact" : "no checkpoint was written yet");
}

// A plugin's exception during training, or a fault in the data (bad input: it stays an InputError), names the step it
// stopped after and the checkpoint that is kept.
TrainResult train_naming_step(Trainer& trainer, const RunState& state, const fs::path& checkpoints) {
  try {
    return trainer.run();
  } catch (const ComponentError& e) {
    throw RunError(stopped_training(e, state, checkpoints));
  } catch (const InputError& e) {
    throw InputError(stopped_training(e, state, checkpoints));
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


// Where a run goes and, when resuming, the checkpoint it continues from.
struct RunPlace {
  fs::path dir;
  std::optional<fs::path> checkpoint;
};

// Refuses a resume with nothing to resume or whose manifest changed, and a fresh run into a directory that holds one.
RunPlace place_run(const RunRequest& request, const Session& session, Collective& collective) {
  const sdk::Options& run = session.section("run");
  RunPlace place;
  place.dir = !request.resume.empty() ? request.resume
              : !request.out.empty()  ? request.out
                                      : RunDirectory::fresh(run.string("out"), run.string("name"));
  place.dir = collective.broadcast_string(place.dir.string());  // the timestamped name is rank 0's
  const fs::path& dir = place.dir;
  if (request.resume.empty()) {
    if (fs::exists(dir / "checkpoints" / "latest"))
      throw InputError(dir.string() + " already holds a run; continue it with `mmdebias run --resume " + dir.string() +
                       "` or choose another --out");
    return place;
  }
  place.checkpoint = choose_checkpoint(dir / "checkpoints", request.checkpoint, "mmdebias run --resume " + dir.string());
  if (!place.checkpoint)
    throw InputError("nothing to resume in " + dir.string() + ": it has no checkpoint yet; start it again with `mmdebias run " +
                     (dir / "manifest.yaml").string() + " --out " + dir.string() + "`");
  std::vector<std::string> differences =
      resume_differences(read_checkpoint_meta(*place.checkpoint).resolved_manifest, session.resolved_text);
  if (!differences.empty()) {
    differences.insert(differences.begin(), "cannot resume " + dir.string() + ": what the run was started with has changed:");
    throw InputErrors(differences);
  }
  return place;
}

// Rank 0's files before training: the manifests of a fresh run; when resuming from an earlier checkpoint than the
// latest, the later ones (and the summary of that discarded continuation) set aside.
void prepare_directory(const RunRequest& request, const RunPlace& place, const Session& session, RunDirectory& run_dir,
                       spdlog::logger& logger) {
  remove_unfinished_writes(run_dir.checkpoints());
  if (request.resume.empty()) {
    write_file_atomically(run_dir.manifest(), session.config_text);
    write_file_atomically(run_dir.resolved(), session.resolved_text);
    write_file_atomically(run_dir.metrics(), "");  // a start that died before its first checkpoint logged lines
    return;
  }
  if (request.checkpoint.empty()) return;
  for (const std::string& name : set_aside_later_checkpoints(run_dir.checkpoints(), *place.checkpoint))
    logger.info("moved {} (after the chosen checkpoint) to {}", name, (run_dir.checkpoints() / "discarded").string());
  if (fs::exists(run_dir.summary())) {
    fs::create_directories(run_dir.checkpoints() / "discarded");
    fs::rename(run_dir.summary(), run_dir.checkpoints() / "discarded" / "summary.json");
  }
}

// Every rank starts from rank 0's parameters (they were built alike; this makes it certain).
void broadcast_initial_state(PipelineModel& model, Collective& collective) {
  at::NoGradGuard no_grad;
  for (auto& t : model.root().parameters()) collective.broadcast(t);
  for (auto& t : model.root().buffers()) collective.broadcast(t);
}

EvalOptions eval_options_of(const Session& session) {
  const sdk::Options& eval = session.section("eval");
  return EvalOptions{eval.string("split"), eval.integer("batch_size"), 1};
}

// The trainer and what it reports to: metrics lines and checkpoints (rank 0 writes), periodic evaluations, progress.
std::unique_ptr<Trainer> make_trainer(Session& session, RunDirectory& run_dir, bool interactive) {
  RunState& state = session.state;
  PipelineModel& model = *session.model;
  const sdk::Options &run = session.section("run"), &train = session.section("train");
  const bool writer = state.collective->rank() == 0;
  TrainerCallbacks callbacks;
  if (writer) callbacks.log = [&run_dir](const nlohmann::json& line) { run_dir.append_metrics(line); };
  callbacks.checkpoint = [&session, &run_dir, writer](const RunPosition& position, torch::optim::Optimizer& optimizer) {
    CheckpointMeta meta{position, session.resolved_text, gather_rng(session.state)};
    if (writer) save_checkpoint(run_dir.checkpoints(), session.model->root(), optimizer, meta);
  };
  callbacks.evaluate = [&session, &run_dir, writer](int64_t step) {
    // Evaluation must not disturb training's random streams (dropout in eval is off, but scorers may sample).
    auto saved = rng_states(session.state);
    const EvalOptions options = eval_options_of(session);
    fit_scorers(*session.model, session.state, session.train_data, options);
    nlohmann::json result = evaluate(*session.model, session.state, session.eval_data, options);
    result["type"] = "eval";
    result["step"] = step;
    if (writer) run_dir.append_metrics(result);
    restore_rng(session.state, saved);
  };
  if (writer) callbacks.progress = Progress{interactive, std::max<int64_t>(1, train.integer("log_every")) * 10, state.logger};
  const int loader_threads = session.threads > 2 ? session.threads / 2 : 1;
  const size_t bucket_bytes = static_cast<size_t>(run.number("bucket_mb") * 1024 * 1024);
  return std::make_unique<Trainer>(model, state, train, session.train_data, loader_threads,
                                   static_cast<int>(run.integer("prefetch")), bucket_bytes, callbacks);
}

// Model, optimizer, position and this rank's random streams from a checkpoint; metrics.jsonl cut back to it.
void resume_trainer(Trainer& trainer, const fs::path& checkpoint, Session& session, RunDirectory& run_dir) {
  RunState& state = session.state;
  Collective& collective = *state.collective;
  CheckpointMeta meta = load_checkpoint(checkpoint, session.model->root(), trainer.optimizer());
  if (static_cast<size_t>(collective.rank()) < meta.rng_by_rank.size())
    restore_rng(state, unpack_rng(meta.rng_by_rank[collective.rank()]));
  if (static_cast<int>(meta.rng_by_rank.size()) != collective.world_size())
    state.logger->warn("the checkpoint was written by {} ranks and is resumed by {}: random streams of the new ranks start afresh, "
                       "so the run will not match an uninterrupted one bit for bit", meta.rng_by_rank.size(), collective.world_size());
  trainer.resume_from(meta.position);
  state.step = meta.position.step;
  if (collective.rank() == 0) run_dir.truncate_metrics_after(meta.position.step, meta.position.step >= trainer.total_steps());
  state.logger->info("resumed {} at step {} (epoch {}, batch {})", checkpoint.string(), meta.position.step, meta.position.epoch,
                     meta.position.next_batch);
}

// After training: scorers fitted (and kept with the run), the final evaluation, summary.json.
nlohmann::json finish_run(Session& session, RunDirectory& run_dir, const TrainResult& trained) {
  RunState& state = session.state;
  PipelineModel& model = *session.model;
  const bool writer = state.collective->rank() == 0;
  const EvalOptions eval_options = eval_options_of(session);
  const std::string digest = params_sha256(model.root());
  fit_scorers(model, state, session.train_data, eval_options);
  if (writer) save_scorer_state(model, run_dir.scorers(), {digest, session.train_data->fingerprint()});
  SampleScores samples;  // per-sample scores, for the report's ROC curves and histograms
  nlohmann::json final_eval = evaluate(model, state, session.eval_data, eval_options, &samples);
  final_eval["type"] = "eval";
  final_eval["step"] = trained.steps;
  nlohmann::json summary = {{"run", fs::absolute(run_dir.dir()).string()},
                            {"steps", trained.steps},
                            {"epochs", trained.epochs},
                            {"samples", trained.samples},
                            {"params_sha256", digest},
                            {"train", {{"seconds", trained.seconds},
                                       {"samples_per_s", trained.samples_per_second},
                                       {"data_wait_fraction", trained.data_wait_fraction},
                                       {"last_terms", trained.last}}},
                            {"eval", final_eval},
                            {"world_size", state.collective->world_size()},
                            {"threads", session.threads},
                            {"device", state.device.str()}};
  if (writer) {
    run_dir.append_metrics(final_eval);
    run_dir.write_summary(summary);
    write_sample_scores(run_dir.dir() / sample_scores_file(eval_options.split), samples);
    state.logger->info("done: {} (params_sha256 {})", run_dir.summary().string(), digest);
  }
  summary["rank"] = state.collective->rank();  // returned to the caller, not written: the file is rank 0's
  return summary;
}

}  // namespace

RunOutcome run_pipeline(const RunRequest& request) {
  // From setup to the last step, SIGTERM/SIGINT only ask the trainer to checkpoint and stop (every rank
  // at the same step, even when one rank alone was signalled); the final evaluation is not covered.
  auto stop_on_signal = std::make_unique<StopSignalScope>();
  const DistributedConfig dist = distributed_config_from_env();
  std::unique_ptr<Session> session = open_session(manifest_of(request), request.search, dist);
  RunState& state = session->state;
  const sdk::Options& run = session->section("run");
  state.collective = join_process_group(dist, std::chrono::milliseconds(static_cast<int64_t>(run.number("dist_timeout") * 1000)));
  Collective& collective = *state.collective;
  const bool writer = collective.rank() == 0;  // rank 0 writes; every rank reads

  const RunPlace place = place_run(request, *session, collective);
  RunDirectory run_dir(place.dir);
  if (writer) require_run_space(place.dir, session->model->root(), session->section("train"));  // exit 2 now, not at a checkpoint
  state.logger = make_logger(run_dir, collective.rank());
  if (writer) prepare_directory(request, place, *session, run_dir, *state.logger);
  if (writer)  // what the dataset says of its data (e.g. most classes empty), in the log and on the console
    for (const auto& w : session->model->pipeline().dataset_info.warnings) state.logger->warn("warning: {}", w);
  broadcast_initial_state(*session->model, collective);
  std::unique_ptr<Trainer> trainer = make_trainer(*session, run_dir, request.interactive);
  if (place.checkpoint)
    resume_trainer(*trainer, *place.checkpoint, *session, run_dir);
  else
    state.logger->info("run {}: {} steps, {} process(es) x {} threads, device {}", place.dir.string(), trainer->total_steps(),
                       collective.world_size(), session->threads, state.device.str());

  TrainResult trained = train_naming_step(*trainer, state, run_dir.checkpoints());
  stop_on_signal.reset();  // a signal during the final evaluation ends the process: resume evaluates again
  // A request that came after the last step's all-reduce finds that step checkpointed too (the last one is).
  if (const int signal = trained.stop_signal != 0 ? trained.stop_signal : stop_signal_received()) {
    std::optional<fs::path> saved = latest_checkpoint(run_dir.checkpoints());
    if (writer)
      state.logger->info("stopped by {} at step {}; checkpoint {} saved; continue with: mmdebias run --resume {}", signal_name(signal),
                         trained.steps, saved ? saved->filename().string() : "(none)", place.dir.string());
    RunOutcome stopped{place.dir, {{"steps", trained.steps}, {"rank", collective.rank()}}};
    stopped.stopped_by_signal = signal;
    return stopped;
  }
  return {place.dir, finish_run(*session, run_dir, trained)};
}

}  // namespace mmdebias::core
