// `mmdebias eval`: a run directory's checkpoint evaluated again, reusing the scorer statistics fitted at its end.
#include <set>

#include "eval/eval_samples.hpp"
#include "eval/evaluator.hpp"
#include "eval/scorer_state.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/run.hpp"
#include "run/checkpoint.hpp"
#include "run/logging.hpp"
#include "run/run_directory.hpp"
#include "run/run_lock.hpp"
#include "run/session.hpp"
#include "run/trained_run.hpp"
#include "train/skipped_samples.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;

nlohmann::json evaluate_run(const fs::path& run_dir_path, const std::vector<Override>& overrides, SearchPath search,
                            const std::string& checkpoint) {
  RunDirectory run_dir(run_dir_path);
  if (!fs::exists(run_dir.manifest())) throw InputError(run_dir_path.string() + " is not a run directory (no manifest.yaml)");
  run_dir.require_real_subdirectories();
  run_dir.make_writable();
  // It writes eval-<split>.json, the scores and scorers/: not while a run (or another eval) writes there.
  const RunLock lock(run_dir.dir(), "mmdebias eval");
  TrainedRun trained = open_trained_run(run_dir, run_dir_path.string(), overrides, std::move(search), checkpoint, "eval");
  Session* session = trained.session.get();
  const fs::path* latest = &trained.checkpoint;
  const CheckpointMeta& meta = trained.meta;
  RunState& state = session->state;
  state.logger = make_run_logger(run_dir, state.collective->rank());
  for (const std::string& note : session->notes) state.logger->warn(note);
  if (!lock.unavailable().empty()) state.logger->warn(lock.unavailable());
  log_libraries(*state.logger, session->resolved.libraries);
  const sdk::Options& eval = session->section("eval");
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
  if (state.skipped) result["skipped_samples"] = state.skipped->to_json(100);  // on_bad_sample: skip (one process)
  write_file_atomically(run_dir.dir() / ("eval-" + options.split + ".json"), result.dump(2) + "\n");
  return result;
}

}  // namespace mmdebias::core
