#include "mmdebias/core/run.hpp"

// `mmdebias run`: a manifest turned into a trained, evaluated, reproducible run directory, or a killed run continued.
#include <ATen/ATen.h>

#include <chrono>

#include "common/activity.hpp"
#include "dist/distributed.hpp"
#include "eval/eval_samples.hpp"
#include "eval/evaluator.hpp"
#include "eval/scorer_state.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/stop_request.hpp"
#include "pipeline/build.hpp"
#include "run/checkpoint.hpp"
#include "run/checkpoint_choice.hpp"
#include "run/device.hpp"
#include "run/disk_space.hpp"
#include "run/logging.hpp"
#include "run/out_directory.hpp"
#include "run/resume_check.hpp"
#include "run/rng_state.hpp"
#include "run/run_directory.hpp"
#include "run/run_lock.hpp"
#include "run/session.hpp"
#include "run/sinks.hpp"
#include "train/skipped_samples.hpp"
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
    const RunDirectory run_dir(r.resume);
    if (fs::exists(run_dir.manifest())) return load_manifest(run_dir.manifest(), r.overrides);
    // A start stopped before it wrote manifest.yaml left the marker at most: there is nothing to continue.
    if (fs::exists(run_dir.marker()) || (fs::is_directory(r.resume) && inspect_out_directory(r.resume).kind == OutKind::Empty))
      throw InputError(r.resume.string() + " holds no run yet (a start stopped before it wrote manifest.yaml leaves it so): start it with "
                       "`mmdebias run MANIFEST --out " + r.resume.string() + "`");
    throw InputError(r.resume.string() + " is not a run directory (no manifest.yaml)");
  }
  if (!r.manifest_file.empty()) return load_manifest(r.manifest_file, r.overrides);
  return load_manifest_text(r.manifest_text, r.display_name, r.overrides);
}

// Rank 0's hold on the run directory: the lock, and what was done to take it (logged once the log exists).
struct DirectoryClaim {
  std::unique_ptr<RunLock> lock;
  std::vector<std::string> notes;
};

// Rank 0, before it writes anything: the directory is writable, no other process writes it, and a new run
// replaces neither a run nor files that are not a run's unless forced (then they are moved aside).
DirectoryClaim claim_run_directory(const RunRequest& request, const fs::path& dir) {
  const bool fresh = request.resume.empty();
  const RunDirectory run_dir(dir);
  // Files that are not a run's are refused before the lock file is made, so that such a directory is left
  // exactly as it was. A run of ours is judged under the lock: a process still writing it is named first.
  if (fresh) {
    const OutDirectory before = inspect_out_directory(dir);
    if (before.kind == OutKind::Foreign) check_fresh_start(dir, before, request.force);
  }
  run_dir.make_writable();
  DirectoryClaim claim;
  claim.lock = std::make_unique<RunLock>(dir, fresh ? "mmdebias run" : "mmdebias run --resume");
  if (fresh) {
    const OutDirectory found = inspect_out_directory(dir);  // again under the lock: another process may have written
    if (check_fresh_start(dir, found, request.force)) {
      const fs::path aside = set_aside_run_files(dir);
      claim.notes.push_back(aside.empty() ? "--force: nothing in " + dir.string() + " has the name of a run's file; all of it is left as it was"
                                          : "--force: moved the files a run writes that were in " + dir.string() + " to " + aside.string());
    } else if (found.kind == OutKind::Started) {
      claim.notes.push_back("an earlier start in " + dir.string() + " stopped before its first checkpoint: starting again");
    }
  }
  run_dir.require_real_subdirectories();
  run_dir.remove_unfinished_writes();  // under the lock: no live process writes them
  return claim;
}

// A new run's first files, the marker first and each written whole, so that a start killed at any point leaves
// a directory that is either empty or a run of ours that starts again (never one refused as foreign).
void write_start_files(const RunDirectory& run_dir, const Session& session) {
  run_dir.write_marker();
  write_file_atomically(run_dir.manifest(), session.config_text);
  write_file_atomically(run_dir.resolved(), session.resolved_text);
  write_file_atomically(run_dir.metrics(), "");  // a start that died before its first checkpoint logged lines
  fs::create_directories(run_dir.checkpoints());
  remove_unfinished_writes(run_dir.checkpoints());
}

// Rank 0 gets the run directory ready alone. Among peers its error is held until they can hear of it, so every
// rank ends at once with rank 0's message rather than after run.dist_timeout.
class RankZeroSetup {
 public:
  explicit RankZeroSetup(bool alone) : alone_(alone) {}

  template <class Work>
  void run(Work&& work) {
    if (error_) return;
    if (alone_) return work();
    try {
      work();
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  // Every rank throws rank 0's error, if any (InputError stays InputError: exit 2 on every rank).
  void share(Collective& collective) {
    if (collective.world_size() == 1) return;
    std::string verdict;  // "" (ready), or the exit code's digit and rank 0's message
    if (error_) {
      try {
        std::rethrow_exception(error_);
      } catch (const InputError& e) {
        verdict = std::string("2") + e.what();
      } catch (const std::exception& e) {
        verdict = std::string("1") + e.what();
      } catch (...) {
        verdict = "1an unknown error";
      }
    }
    verdict = collective.broadcast_string(verdict);
    if (error_) std::rethrow_exception(error_);
    if (verdict.empty()) return;
    const std::string message = "rank 0 could not prepare the run directory: " + verdict.substr(1);
    if (verdict[0] == '2') throw InputError(message);
    throw RunError(message);
  }

 private:
  bool alone_;
  std::exception_ptr error_;
};

// A resume's checkpoint and the resolved manifest it recorded (read once: the archive is the size of the model).
struct ResumeFrom {
  fs::path file;
  std::string recorded_resolved;
};

// The checkpoint a resume continues from, chosen before any plugin is loaded: the run directory's manifest.yaml must
// be the one that checkpoint recorded, or an edited manifest would have its plugins' code run before the refusal.
// (manifest_of has already refused a directory without manifest.yaml.)
std::optional<ResumeFrom> checkpoint_to_resume(const RunRequest& request) {
  if (request.resume.empty()) return std::nullopt;
  const fs::path& dir = request.resume;
  const fs::path manifest = RunDirectory(dir).manifest();
  std::optional<fs::path> checkpoint = choose_checkpoint(dir / "checkpoints", request.checkpoint, "mmdebias run --resume " + dir.string());
  if (!checkpoint)
    throw InputError("nothing to resume in " + dir.string() + ": it has no checkpoint yet; start it again with `mmdebias run " +
                     manifest.string() + " --out " + dir.string() + "`");
  ResumeFrom from{*checkpoint, read_checkpoint_meta(*checkpoint).resolved_manifest};
  refuse_edited_manifest(manifest, from.recorded_resolved, checkpoint->filename().string(), /*for_eval=*/false, "resume " + dir.string());
  return from;
}

// A resume's checkpoint, checked on every rank against the pipeline it built.
void check_resume(const ResumeFrom& from, const fs::path& dir, const Session& session) {
  std::vector<std::string> differences = resume_differences(from.recorded_resolved, session.resolved_text);
  if (!differences.empty()) {
    differences.insert(differences.begin(), "cannot resume " + dir.string() + ": what the run was started with has changed:");
    throw InputErrors(differences);
  }
}

// Rank 0's files of a resume before training: the marker of a run an older mmdebias started, unfinished
// writes removed, and when resuming from an earlier checkpoint than the latest, the later ones (and the summary
// of that discarded continuation) set aside.
void prepare_resume(const RunRequest& request, const fs::path& checkpoint, RunDirectory& run_dir, Logger& logger) {
  if (!fs::exists(run_dir.marker())) run_dir.write_marker();
  remove_unfinished_writes(run_dir.checkpoints());
  if (request.checkpoint.empty()) return;
  for (const std::string& name : set_aside_later_checkpoints(run_dir.checkpoints(), checkpoint))
    logger.info("moved " + name + " (after the chosen checkpoint) to " + (run_dir.checkpoints() / "discarded").string());
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
std::unique_ptr<Trainer> make_trainer(Session& session, RunDirectory& run_dir, RunSinks& sinks, bool interactive) {
  RunState& state = session.state;
  PipelineModel& model = *session.model;
  const sdk::Options &run = session.section("run"), &train = session.section("train");
  const bool writer = state.collective->rank() == 0;
  TrainerCallbacks callbacks;
  if (writer) callbacks.log = [&run_dir, &sinks](const nlohmann::json& line) { append_metrics_line(run_dir, sinks, line); };
  callbacks.checkpoint = [&session, &run_dir, &sinks, writer](const RunPosition& position, torch::optim::Optimizer& optimizer,
                                                              const std::optional<LossScaleState>& loss_scale) {
    CheckpointMeta meta{position, session.resolved_text, gather_rng(session.state), loss_scale};
    if (session.state.skipped) meta.skipped_samples = session.state.skipped->share(*session.state.collective);
    if (!writer) return;
    save_checkpoint(run_dir.checkpoints(), session.model->root(), optimizer, meta);
    sinks.flush();
  };
  callbacks.evaluate = [&session, &run_dir, &sinks, writer](int64_t step) {
    // Evaluation must not disturb training's random streams (dropout in eval is off, but scorers may sample).
    auto saved = rng_states(session.state);
    const EvalOptions options = eval_options_of(session);
    fit_scorers(*session.model, session.state, session.train_data, options);
    nlohmann::json result = evaluate(*session.model, session.state, session.eval_data, options);
    result["type"] = "eval";
    result["step"] = step;
    if (writer) append_metrics_line(run_dir, sinks, result);
    restore_rng(session.state, saved);
  };
  if (writer) callbacks.progress = Progress{interactive, std::max<int64_t>(1, train.integer("log_every")) * 10, state.logger};
  const int loader_threads = session.threads > 2 ? session.threads / 2 : 1;
  StepSettings ranks;
  ranks.bucket_bytes = static_cast<size_t>(run.number("bucket_mb") * 1024 * 1024);
  ranks.overlap_reduce = run.boolean("overlap_reduce");
  ranks.check_replicas = run.boolean("check_replicas");
  ranks.loss_scale = loss_scale_enabled(run.string("loss_scale"), state.precision == Precision::fp16);
  return std::make_unique<Trainer>(model, state, train, session.train_data, loader_threads,
                                   static_cast<int>(run.integer("prefetch")), ranks, callbacks);
}

// Model, optimizer, position and this rank's random streams from a checkpoint; metrics.jsonl cut back to it.
void resume_trainer(Trainer& trainer, const fs::path& checkpoint, Session& session, RunDirectory& run_dir) {
  RunState& state = session.state;
  Collective& collective = *state.collective;
  CheckpointMeta meta = load_checkpoint(checkpoint, session.model->root(), trainer.optimizer());
  if (static_cast<size_t>(collective.rank()) < meta.rng_by_rank.size())
    restore_rng(state, unpack_rng(meta.rng_by_rank[collective.rank()]));
  if (static_cast<int>(meta.rng_by_rank.size()) != collective.world_size())
    state.logger->warn("the checkpoint was written by " + std::to_string(meta.rng_by_rank.size()) + " ranks and is resumed by " +
                       std::to_string(collective.world_size()) +
                       ": random streams of the new ranks start afresh, so the run will not match an uninterrupted one bit for bit");
  trainer.resume_from(meta.position, meta.loss_scale);
  if (state.skipped && !meta.skipped_samples.empty()) state.skipped->merge(nlohmann::json::parse(meta.skipped_samples));
  state.step = meta.position.step;
  if (collective.rank() == 0) run_dir.truncate_metrics_after(meta.position.step, meta.position.step >= trainer.total_steps());
  state.logger->info("resumed " + checkpoint.string() + " at step " + std::to_string(meta.position.step) + " (epoch " +
                     std::to_string(meta.position.epoch) + ", batch " + std::to_string(meta.position.next_batch) + ")");
}

// After training: scorers fitted (and kept with the run), the final evaluation, summary.json.
nlohmann::json finish_run(Session& session, RunDirectory& run_dir, RunSinks& sinks, const TrainResult& trained) {
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
                                       {"precision", precision_name(state.precision)},
                                       {"last_terms", trained.last}}},
                            {"eval", final_eval},
                            {"world_size", state.collective->world_size()},
                            {"threads", session.threads},
                            {"device", state.device.str()}};
  if (state.skipped) {  // every rank's, the first 100 of each split listed
    state.skipped->share(*state.collective);
    summary["skipped_samples"] = state.skipped->to_json(100);
  }
  if (trained.loss_scale) {
    summary["train"]["loss_scale"] = trained.loss_scale->scale;
    summary["train"]["skipped_steps"] = trained.loss_scale->skipped;
  }
  if (writer) {
    append_metrics_line(run_dir, sinks, final_eval);
    run_dir.write_summary(summary);
    write_sample_scores(run_dir.dir() / sample_scores_file(eval_options.split), samples);
    state.logger->info("done: " + run_dir.summary().string() + " (params_sha256 " + digest + ")");
  }
  summary["rank"] = state.collective->rank();  // returned to the caller, not written: the file is rank 0's
  return summary;
}

// What a rank does while it joins the others, for a stop that cannot wait (StopSignalScope's setup deadline).
std::string rendezvous_activity(const DistributedConfig& dist) {
  if (dist.world_size <= 1) return "setting up";
  return "waiting for the other ranks (rank " + std::to_string(dist.rank) + " of " + std::to_string(dist.world_size) +
         (dist.store_file.empty() ? ", at " + dist.master_addr + ":" + std::to_string(dist.master_port) : ", through " + dist.store_file) +
         ")";
}

}  // namespace

RunOutcome run_pipeline(const RunRequest& request) {
  // From setup to the last step, SIGTERM/SIGINT only ask the trainer to checkpoint and stop (every rank
  // at the same step, even when one rank alone was signalled); the final evaluation is not covered.
  auto stop_on_signal = std::make_unique<StopSignalScope>();
  const DistributedConfig dist = distributed_config_from_env();
  const bool writer = dist.rank == 0;  // rank 0 writes; every rank reads
  const Manifest manifest = manifest_of(request);
  RankZeroSetup setup(dist.world_size <= 1);
  DirectoryClaim claim;
  fs::path dir = !request.resume.empty() ? request.resume : request.out;
  // An existing directory is claimed before the setup, which may take minutes: a second writer is refused at
  // once. One still to be made is made after it, so that a pipeline that cannot be built leaves nothing behind.
  if (writer && !dir.empty() && fs::is_directory(dir)) setup.run([&] { claim = claim_run_directory(request, dir); });

  // Before any plugin is loaded: an edited manifest.yaml is refused without running its plugins' code.
  const std::optional<ResumeFrom> resume = checkpoint_to_resume(request);
  std::unique_ptr<Session> session = open_session(manifest, request.search, dist);
  RunState& state = session->state;
  const sdk::Options& run = session->section("run");
  {
    ActivityNote activity(rendezvous_activity(dist));
    state.collective = join_process_group(dist, std::chrono::milliseconds(static_cast<int64_t>(run.number("dist_timeout") * 1000)),
                                          resolve_backend(run.string("backend"), state.device), state.device);
  }
  Collective& collective = *state.collective;
  if (writer) setup.run([&] {
    if (!claim.lock) {
      if (dir.empty()) dir = RunDirectory::fresh(run.string("out"), run.string("name"));
      claim = claim_run_directory(request, dir);
    }
    require_run_space(dir, session->model->root(), session->section("train"));  // exit 2 now, not at a checkpoint
    if (request.resume.empty()) write_start_files(RunDirectory(dir), *session);
  });
  setup.share(collective);
  dir = collective.broadcast_string(dir.string());  // the timestamped name is rank 0's

  RunDirectory run_dir(dir);
  if (resume) check_resume(*resume, dir, *session);
  state.logger = make_run_logger(run_dir, collective.rank());
  for (const std::string& note : session->notes) state.logger->warn(note);
  for (const std::string& note : claim.notes) state.logger->info(note);
  if (claim.lock && !claim.lock->unavailable().empty()) state.logger->warn(claim.lock->unavailable());
  if (writer && resume) prepare_resume(request, resume->file, run_dir, *state.logger);
  log_libraries(*state.logger, session->resolved.libraries);
  if (writer)  // what the dataset says of its data (e.g. most classes empty), in the log and on the console
    for (const auto& w : session->model->pipeline().dataset_info.warnings) state.logger->warn("warning: " + w);
  for (const auto& note : detail::weight_notes(session->model->pipeline())) state.logger->info("init " + note);
  broadcast_initial_state(*session->model, collective);
  // Made before the trainer, whose callbacks write to them; closed on every way out (the destructor on an exception).
  // Only rank 0 feeds sinks: the other ranks' stay constructed and unopened.
  RunSinks sinks(writer ? session->model->pipeline().sinks : std::vector<Instance<sdk::MetricSink>>{}, state.logger);
  std::unique_ptr<Trainer> trainer = make_trainer(*session, run_dir, sinks, request.interactive);
  if (resume)
    resume_trainer(*trainer, resume->file, *session, run_dir);
  else
    state.logger->info("run " + dir.string() + ": " + std::to_string(trainer->total_steps()) + " steps, " +
                       std::to_string(collective.world_size()) + " process(es) x " + std::to_string(session->threads) +
                       " threads, device " + state.device.str());
  sinks.open(sink_start(*session, run_dir));

  stop_on_signal->setup_done();
  TrainResult trained = train_naming_step(*trainer, state, run_dir.checkpoints());
  stop_on_signal.reset();  // a signal during the final evaluation ends the process: resume evaluates again
  // A request that came after the last step's all-reduce finds that step checkpointed too (the last one is).
  if (const int signal = trained.stop_signal != 0 ? trained.stop_signal : stop_signal_received()) {
    std::optional<fs::path> saved = latest_checkpoint(run_dir.checkpoints());
    if (writer)
      state.logger->info(std::string("stopped by ") + signal_name(signal) + " at step " + std::to_string(trained.steps) +
                         "; checkpoint " + (saved ? saved->filename().string() : "(none)") +
                         " saved; continue with: mmdebias run --resume " + dir.string());
    RunOutcome stopped{dir, {{"steps", trained.steps}, {"rank", collective.rank()}}};
    stopped.stopped_by_signal = signal;
    sinks.close();
    return stopped;
  }
  RunOutcome finished{dir, finish_run(*session, run_dir, sinks, trained)};
  sinks.close();
  return finished;
}

}  // namespace mmdebias::core
