// The report's number formatting (report/format) and sweep.json's reader: what a reader sees for each unit, and
// the refusals that name the field.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "mmdebias/core/errors.hpp"
#include "report/format.hpp"
#include "report/sweep.hpp"

using namespace mmdebias::core::report;

TEST_CASE("report format: percentages, separators, significant digits, units") {
  CHECK(format_value(0.8125, Unit::Fraction) == "81.25%");
  CHECK(format_value(0.0728, Unit::Fraction) == "7.28%");
  CHECK(format_value(1.0, Unit::Fraction) == "100.00%");
  CHECK(format_value(55327.7613, Unit::Rate) == "55,328 samples/s");
  CHECK(format_value(42.123, Unit::Rate) == "42.1 samples/s");
  CHECK(format_value(3.7141, Unit::Seconds) == "3.71 s");
  CHECK(format_value(75.3, Unit::Seconds) == "1 min 15 s");
  CHECK(format_value(7384, Unit::Seconds) == "2 h 03 min");
  CHECK(format_value(1536.0 * 1024, Unit::Bytes) == "1.5 MiB");
  CHECK(format_value(2048, Unit::Bytes) == "2 KiB");
  CHECK(format_value(1234567, Unit::Count) == "1,234,567");
  CHECK(significant(0.123456) == "0.1235");
  CHECK(significant(12.5) == "12.5");
  CHECK(significant(-1234.6) == "-1,235");
  CHECK(significant(0.0000123456) == "1.235e-5");
  CHECK(significant(0) == "0");
  CHECK(format_value(std::nan(""), Unit::Fraction) == "n/a");
  CHECK(thousands(-1000) == "-1,000");
  CHECK(thousands(999) == "999");
}

TEST_CASE("report format: signed differences and their direction") {
  CHECK(format_delta(0.0125, Unit::Fraction) == "+1.25 pp");
  CHECK(format_delta(-0.0534, Unit::Fraction) == "-5.34 pp");
  CHECK(format_delta(0, Unit::Fraction) == "±0");
  CHECK(format_delta(-0.52, Unit::Seconds) == "-0.52 s");
  CHECK(format_delta(1234.4, Unit::Rate) == "+1,234 samples/s");
  CHECK(delta_class(0.01, metric_kind("eval.classification.accuracy").better) == "better");
  CHECK(delta_class(0.01, metric_kind("eval.ood.msp.fpr_at_95tpr").better) == "worse");
  CHECK(delta_class(0.01, metric_kind("some.unknown").better) == "");
}

TEST_CASE("report format: metric kinds and labels from their paths") {
  CHECK(metric_kind("eval.classification.accuracy").unit == Unit::Fraction);
  CHECK(metric_kind("classification/macro_f1").unit == Unit::Fraction);
  CHECK(metric_kind("eval.per_modality_accuracy.m0").unit == Unit::Fraction);
  CHECK(metric_kind("train.samples_per_s").unit == Unit::Rate);
  CHECK(metric_kind("train.seconds").unit == Unit::Seconds);
  CHECK(metric_kind("eval.count").unit == Unit::Count);
  CHECK(metric_kind("train.loss").unit == Unit::Plain);
  CHECK(metric_label("eval.ood.energy.fpr_at_95tpr") == "FPR@95TPR");
  CHECK(metric_label("eval.per_modality_accuracy.audio") == "audio alone");
  CHECK(metric_label("eval.something_new") == "something_new");
}

namespace {
// Removes the test's sweep directories when the process ends.
struct Scratch {
  std::filesystem::path root = std::filesystem::temp_directory_path() / ("mmdebias-sweep-test-" + std::to_string(::getpid()));
  ~Scratch() {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
};

std::filesystem::path sweep_dir(const std::string& text) {
  static Scratch scratch;
  static int n = 0;
  auto dir = scratch.root / std::to_string(n++);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "sweep.json") << text;
  return dir;
}
const char* kMinimal = R"({"sweep": 1, "axes": [{"key": "train.lr", "values": [0.1, "0.2"]}], "seeds": [0, 1], "baseline": "a",
  "configs": [{"name": "a", "dir": "a", "runs": [{"seed": 0, "dir": "a/seed-0", "status": "finished"}],
               "metrics": {"eval.count": {"n": 1, "mean": 10}, "train.seconds": {"n": 1, "mean": 2.0, "std": null, "ci95": null},
                           "eval.classification.accuracy": {"n": 2, "mean": 0.5, "std": 0.1, "ci95": [0.4, 0.6], "values": [0.4, 0.6]}}},
              {"name": "b", "dir": "b", "runs": [], "metrics": {"eval.ood.msp.auroc": {"n": 0, "mean": null}},
               "vs_baseline": {"eval.classification.accuracy": {"n": 1, "mean": 0.1, "diffs": [0.1]}}}]})";
}  // namespace

TEST_CASE("sweep.json: read, counts left out, metrics grouped in reading order") {
  const Sweep s = load_sweep(sweep_dir(kMinimal));
  CHECK(s.axes.at(0).values == std::vector<std::string>{"0.1", "0.2"});
  CHECK(s.baseline == std::optional<std::string>("a"));
  CHECK(s.metrics == std::vector<std::string>{"eval.classification.accuracy", "eval.ood.msp.auroc", "train.seconds"});
  CHECK(s.configs.at(0).metrics.at("eval.classification.accuracy").ci95->second == doctest::Approx(0.6));
  CHECK_FALSE(s.configs.at(0).metrics.at("train.seconds").std.has_value());
  CHECK(s.configs.at(1).vs_baseline.at("eval.classification.accuracy").values == std::vector<double>{0.1});
  CHECK(sweep_figure_id("eval.ood.msp.auroc") == "sweep-eval-ood-msp-auroc");
  CHECK(group_heading(metric_group("eval.ood.msp.auroc")) == "OOD detection: msp");
}

TEST_CASE("sweep.json: refusals name the file and the field") {
  auto refused = [](const std::string& from, const std::string& to) {
    std::string text = kMinimal;
    text.replace(text.find(from), from.size(), to);
    const auto dir = sweep_dir(text);
    try {
      load_sweep(dir);
    } catch (const mmdebias::core::InputError& e) {
      CHECK(std::string(e.what()).find((dir / "sweep.json").string()) != std::string::npos);
      return std::string(e.what());
    }
    FAIL("accepted: " << to);
    return std::string();
  };
  CHECK(refused(R"("sweep": 1)", R"("sweep": 3)").find("format version 3") != std::string::npos);
  CHECK(refused(R"("mean": 0.5)", R"("mean": "x")").find("configs[0].metrics.eval.classification.accuracy.mean should be a number") != std::string::npos);
  CHECK(refused(R"("status": "finished")", R"("status": "ok")").find("configs[0].runs[0].status") != std::string::npos);
  CHECK(refused(R"("baseline": "a")", R"("baseline": "z")").find("baseline \"z\" names no configuration") != std::string::npos);
  CHECK(refused(R"("seeds": [0, 1])", R"("seeds": [0, 1.5])").find("seeds[1] should be an integer") != std::string::npos);
  CHECK(refused(R"({"sweep")", R"([{"sweep")").find("not valid JSON") != std::string::npos);
  CHECK_THROWS_AS(load_sweep(std::filesystem::temp_directory_path() / "no-such-sweep-dir"), mmdebias::core::InputError);
}
