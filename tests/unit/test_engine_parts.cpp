// Engine building blocks: learning-rate schedules, RNG streams, parameter digests, resume checks, atomic files.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "run/checkpoint.hpp"
#include "pipeline/context.hpp"
#include "train/optimization.hpp"
#include "run/resume_check.hpp"

#include <doctest/doctest.h>  // after LibTorch, whose glog defines another CHECK

using namespace mmdebias;

namespace {

sdk::Options train_options(const std::string& scheduler, int64_t warmup, std::vector<int64_t> milestones = {}) {
  std::map<std::string, sdk::OptionValue> v = {
      {"scheduler", scheduler}, {"warmup_steps", warmup}, {"step_size", int64_t{10}},
      {"milestones", std::move(milestones)}, {"gamma", 0.5}};
  return sdk::Options(v);
}

}  // namespace

TEST_CASE("learning-rate schedules follow their formulas") {
  core::LrSchedule none(train_options("none", 0), 100);
  CHECK(none.factor(0) == 1.0);
  CHECK(none.factor(99) == 1.0);

  core::LrSchedule warm(train_options("none", 4), 100);
  CHECK(warm.factor(0) == doctest::Approx(0.25));
  CHECK(warm.factor(3) == doctest::Approx(1.0));
  CHECK(warm.factor(50) == 1.0);

  core::LrSchedule step(train_options("step", 0), 100);
  CHECK(step.factor(9) == 1.0);
  CHECK(step.factor(10) == 0.5);
  CHECK(step.factor(25) == 0.25);

  core::LrSchedule multi(train_options("multistep", 0, {5, 20}), 100);
  CHECK(multi.factor(4) == 1.0);
  CHECK(multi.factor(5) == 0.5);
  CHECK(multi.factor(20) == 0.25);

  core::LrSchedule cosine(train_options("cosine", 10), 110);
  CHECK(cosine.factor(10) == doctest::Approx(1.0));
  CHECK(cosine.factor(60) == doctest::Approx(0.5));
  CHECK(cosine.factor(110) == doctest::Approx(0.0));
  CHECK(cosine.factor(35) == doctest::Approx(0.5 * (1 + std::cos(M_PI * 0.25))));
}

TEST_CASE("named RNG streams are reproducible, independent, and restorable") {
  core::RngStreams a(3), b(3), c(4);
  at::Tensor x = at::rand({4}, a.get("comp/noise"));
  CHECK(at::equal(x, at::rand({4}, b.get("comp/noise"))));
  CHECK_FALSE(at::equal(x, at::rand({4}, c.get("comp/noise"))));
  auto saved = a.states();
  at::Tensor next = at::rand({4}, a.get("comp/noise"));
  core::RngStreams restored(3);
  restored.restore(saved);
  CHECK(at::equal(next, at::rand({4}, restored.get("comp/noise"))));
  CHECK(core::stable_hash("abc") == core::stable_hash("abc"));
  CHECK(core::stable_hash("abc") != core::stable_hash("abd"));
}

TEST_CASE("params_sha256 is stable and sees every parameter and buffer") {
  at::manual_seed(0);
  torch::nn::Linear a(3, 2);
  at::manual_seed(0);
  torch::nn::Linear b(3, 2);
  CHECK(core::params_sha256(*a) == core::params_sha256(*b));
  {
    at::NoGradGuard no_grad;
    b->bias[0] += 1e-7;
  }
  CHECK(core::params_sha256(*a) != core::params_sha256(*b));
}

TEST_CASE("resume checks name what changed and let watching settings change") {
  std::string saved = "train: {lr: 0.1, epochs: 5, log_every: 10}\nmodel: {fusion: {type: std.concat}}\n"
                      "provenance: {plugins: {std: {sha256: aaa, path: /x}}, data: {train: f1, test: t1}}\n";
  CHECK(core::resume_differences(saved, saved).empty());
  std::string longer = "train: {lr: 0.1, epochs: 9, log_every: 1}\nmodel: {fusion: {type: std.concat}}\n"
                       "provenance: {plugins: {std: {sha256: aaa, path: /y}}, data: {train: f1, val: v1}}\n";
  CHECK(core::resume_differences(saved, longer).empty());
  std::string changed = "train: {lr: 0.2, epochs: 5, log_every: 10}\nmodel: {fusion: {type: std.late}}\n"
                        "provenance: {plugins: {std: {sha256: bbb, path: /x}}, data: {train: f2, test: t1}}\n";
  auto d = core::resume_differences(saved, changed);
  REQUIRE(d.size() == 4);
  CHECK(d[0] == "  model.fusion.type: std.concat -> std.late");
  CHECK(d[1] == "  provenance.data.train: f1 -> f2");
  CHECK(d[2] == "  provenance.plugins.std.sha256: aaa -> bbb");
  CHECK(d[3] == "  train.lr: 0.1 -> 0.2");
  CHECK(core::resume_differences(saved, changed, /*for_eval=*/true).size() == 3);
  // What was opened is a record (the plugins used are compared above); where plugins are searched is not.
  std::string other_libraries = std::string(saved) + "plugins: {paths: [/p]}\n";
  other_libraries.replace(other_libraries.find("provenance: {"), 13, "provenance: {libraries: [{path: /e, sha256: e, loaded: false}], ");
  auto p = core::resume_differences(saved, other_libraries);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "  plugins.paths.0: (absent) -> /p");
}

TEST_CASE("files are replaced atomically: the old content or the new, never a mix") {
  auto dir = std::filesystem::temp_directory_path() / ("mmdebias-atomic-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "f.txt";
  core::write_file_atomically(file, "first");
  core::write_file_atomically(file, "second");
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text == "second");
  int leftovers = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) leftovers += e.path().filename() != "f.txt";
  CHECK(leftovers == 0);
  CHECK_THROWS(core::write_file_atomically(dir / "missing" / "f.txt", "x"));
  std::filesystem::remove_all(dir);
}
