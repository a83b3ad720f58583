// `mmdebias sweep`: what each run of the grid needs (nothing, a resume, a start), the runs started N at a time
// with the cores split between them, and the aggregate written once all are done.
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <thread>

#include "common/atomic_file.hpp"
#include "common/sha256.hpp"
#include "common/small_file.hpp"
#include "mmdebias/core/errors.hpp"
#include "run/out_directory.hpp"
#include "run/run_lock.hpp"
#include "run/threads.hpp"
#include "sweep/aggregate.hpp"
#include "sweep/launch.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPlanFile = "sweep-plan.json";

// What every run of the sweep shares: a restart with another manifest or other fixed overrides would mix runs
// of two experiments in one aggregate. Axes and seeds may grow (more values, more seeds): those runs are added.
nlohmann::json plan_of(const SweepGrid& grid) {
  nlohmann::json fixed = nlohmann::json::array();
  for (const Override& o : grid.fixed) fixed.push_back(o.text);
  nlohmann::json arms = nlohmann::json::object();
  for (const SweepAxis& axis : grid.axes)
    if (axis.key == "arm")
      for (size_t i = 0; i < axis.values.size(); ++i) {
        arms[axis.values[i]] = nlohmann::json::array();
        for (const Override& o : axis.sets[i]) arms[axis.values[i]].push_back(o.text);
      }
  return {{"manifest", fs::absolute(grid.manifest).lexically_normal().string()}, {"manifest_sha256", sha256_file(grid.manifest)}, {"fixed", fixed}, {"arms", arms}};
}

// An arm of the same name must set the same keys to the same values (new arms may be added).
void check_arms(const fs::path& out, const nlohmann::json& found, const nlohmann::json& wanted) {
  for (const auto& [name, set] : wanted.items())
    if (found.contains(name) && found[name] != set)
      throw InputError("--out " + out.string() + " holds runs of the arm " + name + " as " + found[name].dump() + "; the arms file now makes it " +
                       set.dump() + ": its finished runs would be mixed with these; choose another --out or another arm name");
}

void check_plan(const fs::path& out, const SweepGrid& grid) {
  const nlohmann::json plan = plan_of(grid);
  const fs::path file = out / kPlanFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    for (fs::directory_iterator it(out, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename() != RunLock::kFileName)
        throw InputError("--out " + out.string() + " is not empty and holds no sweep (no " + kPlanFile + "): choose a new or empty directory");
    write_file_atomically(file, plan.dump(2) + "\n");
    return;
  }
  nlohmann::json found;
  try {
    found = nlohmann::json::parse(read_small_file(file, 1 << 20));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file.string() + " is not valid JSON (" + e.what() + "): choose another --out");
  }
  for (const char* key : {"manifest_sha256", "fixed"})
    if (found.value(key, nlohmann::json()) != plan[key])
      throw InputError("--out " + out.string() + " holds a sweep of " + found.value("manifest", std::string("another manifest")) +
                       " with the fixed overrides " + found.value("fixed", nlohmann::json::array()).dump() + " (" + file.string() +
                       "); this one is of " + plan["manifest"].get<std::string>() + (std::string(key) == "fixed" ? " with " + plan["fixed"].dump() : " as it is now (its contents differ)") +
                       ": its finished runs would be mixed with these; choose another --out");
  check_arms(out, found.value("arms", nlohmann::json::object()), plan["arms"]);
  if (found.value("arms", nlohmann::json::object()) != plan["arms"]) {
    nlohmann::json merged = found;  // arms added: the plan records every arm run here
    for (const auto& [name, set] : plan["arms"].items()) merged["arms"][name] = set;
    write_file_atomically(file, merged.dump(2) + "\n");
  }
}

std::vector<SweepRun> plan_runs(const SweepRequest& request, const std::vector<SweepConfig>& configs) {
  // Seed by seed, every configuration of a seed together: pairs complete early (a stopped sweep's aggregate is
  // paired), and a change of load over the sweep falls on every configuration alike.
  std::vector<SweepRun> runs;
  for (int64_t seed : request.grid.seeds)
    for (size_t c = 0; c < configs.size(); ++c)
      runs.push_back({c, seed, request.out / configs[c].dir / ("seed-" + std::to_string(seed)), "missing"});
  return runs;
}

// The command that brings a run to its end: nothing (finished), `run --resume`, or `run --out`.
std::optional<std::vector<std::string>> command_for(const SweepRequest& request, const SweepConfig& config, SweepRun& run, int threads) {
  const OutDirectory found = inspect_out_directory(run.dir);
  if (found.kind == OutKind::Finished) {
    run.status = "finished";
    return std::nullopt;
  }
  std::vector<std::string> argv = {request.executable.string(), "run"};
  if (found.kind == OutKind::Unfinished) {
    argv.insert(argv.end(), {"--resume", run.dir.string()});
  } else {
    argv.push_back(fs::absolute(request.grid.manifest).string());
    for (const Override& o : request.grid.fixed) argv.push_back(o.text);
    for (const Override& o : config.overrides) argv.push_back(o.text);
    argv.push_back("run.seed=" + std::to_string(run.seed));
    argv.insert(argv.end(), {"--out", run.dir.string()});  // a Foreign directory is refused by the run, which says why
  }
  if (threads > 0) argv.push_back("run.threads=" + std::to_string(threads));
  argv.insert(argv.end(), request.run_options.begin(), request.run_options.end());
  return argv;
}

// Cores per run: all of them split between the runs at once, unless the manifest's run.threads is overridden.
int threads_per_run(const SweepRequest& request) {
  for (const Override& o : request.grid.fixed)
    if (o.path == "run.threads") return 0;
  return request.jobs > 1 ? std::max(1, usable_cores() / request.jobs) : 0;
}

// A run directory whose lock a process still holds (a run of a sweep killed a moment ago, checkpointing): wait.
bool wait_for_lock(const fs::path& dir, const std::function<void(const std::string&)>& say) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return true;
  constexpr int kTries = 1200;  // 10 minutes: a checkpoint of a large model on a slow disk
  for (int i = 0; i < kTries; ++i) {
    try {
      RunLock probe(dir, "mmdebias sweep (waiting to start a run)");
      return true;
    } catch (const InputError& e) {
      if (i == 0 && say) say("waiting: " + std::string(e.what()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return false;
}

std::string log_tail(const fs::path& log) {
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::string tail;
  for (size_t i = lines.size() > 3 ? lines.size() - 3 : 0; i < lines.size(); ++i) tail += "\n    " + lines[i];
  return tail;
}

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", s);
  return text;
}

}  // namespace

SweepOutcome run_sweep(const SweepRequest& request) {
  const std::vector<SweepConfig> configs = expand_grid(request.grid);
  std::optional<size_t> baseline;
  if (!request.baseline.empty()) baseline = find_baseline(configs, request.grid.axes, request.baseline);
  std::vector<SweepRun> runs = plan_runs(request, configs);
  if (request.task && (*request.task < 0 || *request.task >= static_cast<int64_t>(runs.size())))
    throw InputError("--task " + std::to_string(*request.task) + ": the grid has " + std::to_string(runs.size()) + " runs (tasks 0 to " + std::to_string(runs.size() - 1) + ")");
  std::error_code ec;
  fs::create_directories(request.out, ec);
  if (ec) throw InputError("cannot create the sweep directory " + request.out.string() + ": " + ec.message());
  // Tasks of a job array run at once, each its own run (whose lock guards it); a whole sweep is one process.
  std::unique_ptr<RunLock> lock;
  if (!request.task) lock = std::make_unique<RunLock>(request.out, "mmdebias sweep");
  check_plan(request.out, request.grid);

  const int threads = threads_per_run(request);
  std::vector<ChildJob> jobs;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (request.task && static_cast<int64_t>(i) != *request.task) continue;
    SweepRun& run = runs[i];
    if (inspect_out_directory(run.dir).kind == OutKind::Finished) {
      run.status = "finished";
      continue;
    }
    fs::create_directories(run.dir.parent_path());
    jobs.push_back({{}, run.dir.string() + ".log", i});
  }
  SweepOutcome outcome;
  for (const SweepRun& run : runs) outcome.finished += run.status == "finished";
  auto say = [&](const std::string& line) { if (request.progress) request.progress(line); };
  if (outcome.finished > 0) say(std::to_string(outcome.finished) + " of " + std::to_string(runs.size()) + " runs already finished: skipped");
  auto label = [&](size_t i) { return configs[runs[i].config].name + " seed " + std::to_string(runs[i].seed); };
  size_t started = 0;
  auto ready = [&](ChildJob& job) {
    SweepRun& run = runs[job.index];
    if (!wait_for_lock(run.dir, say)) {
      run.status = "failed";
      ++outcome.failed;
      say("failed: " + label(job.index) + ": its directory stayed locked by another process for 10 minutes");
      return false;
    }
    // Decided only now: a run a killed sweep left checkpointing may have finished or checkpointed meanwhile.
    std::optional<std::vector<std::string>> argv = command_for(request, configs[run.config], run, threads);
    if (!argv) {
      ++outcome.finished;
      return false;
    }
    job.argv = std::move(*argv);
    std::ofstream(job.log, std::ios::app) << "\n=== mmdebias sweep: " << (job.argv[2] == "--resume" ? "resuming" : "starting") << " " << label(job.index) << "\n";
    say("[" + std::to_string(++started) + "/" + std::to_string(jobs.size()) + "] " + (job.argv[2] == "--resume" ? "resuming " : "starting ") + label(job.index));
    return true;
  };
  auto done = [&](const ChildEnd& end) {
    SweepRun& run = runs[end.index];
    if (end.code == 0 && fs::exists(run.dir / "summary.json", ec)) {
      run.status = "finished";
      ++outcome.finished;
      say("finished " + label(end.index) + " in " + seconds_text(end.seconds));
    } else if (end.code == 128 + SIGTERM || end.code == 128 + SIGINT) {
      say("stopped " + label(end.index) + " (checkpointed; the same command continues it)");
    } else {
      run.status = "failed";
      ++outcome.failed;
      say("failed " + label(end.index) + " (exit " + std::to_string(end.code) + "; its output: " + run.dir.string() + ".log):" + log_tail(run.dir.string() + ".log"));
    }
  };
  outcome.stopped_by_signal = run_children(jobs, std::max(1, request.jobs), ready, done);
  if (outcome.stopped_by_signal || request.task) return outcome;
  const nlohmann::json sweep = aggregate_sweep(request, configs, runs, baseline);
  write_file_atomically(request.out / "sweep.json", sweep.dump(2) + "\n");
  write_file_atomically(request.out / "sweep.csv", sweep_csv(sweep));
  outcome.table = sweep_table(sweep);
  return outcome;
}

}  // namespace mmdebias::core
