#include "run/trained_run.hpp"

#include "mmdebias/core/errors.hpp"
#include "run/checkpoint_choice.hpp"
#include "run/resume_check.hpp"
#include "train/optimization.hpp"

namespace mmdebias::core {

TrainedRun open_trained_run(const RunDirectory& run_dir, const std::string& shown, const std::vector<Override>& overrides,
                            SearchPath search, const std::string& checkpoint, const std::string& command) {
  const std::string verb = command == "eval" ? "evaluate" : command, action = verb + " " + shown;
  std::optional<std::filesystem::path> chosen = choose_checkpoint(run_dir.checkpoints(), checkpoint, "mmdebias " + command + " " + shown);
  if (!chosen) throw InputError(shown + " has no checkpoint to " + verb);
  refuse_edited_manifest(run_dir.manifest(), read_checkpoint_meta(*chosen).resolved_manifest, chosen->filename().string(),
                         /*for_eval=*/true, action);
  Manifest manifest = load_manifest(run_dir.manifest(), overrides);
  TrainedRun out;
  out.checkpoint = *chosen;
  out.session = open_session(manifest, std::move(search));
  std::vector<double> unused_lrs;
  auto optimizer = make_optimizer(out.session->model->parameter_groups(), out.session->section("train"), unused_lrs);
  out.meta = load_checkpoint(*chosen, out.session->model->root(), *optimizer);  // one process: rank 0's view
  std::vector<std::string> differences = resume_differences(out.meta.resolved_manifest, out.session->resolved_text, /*for_eval=*/true);
  if (!differences.empty()) {
    differences.insert(differences.begin(), "cannot " + action + ": the pipeline differs from the one trained:");
    throw InputErrors(differences);
  }
  return out;
}

}  // namespace mmdebias::core
