// std.msp, std.energy, std.maxlogit: agree with an independent Python/torch reference written from the formulas
// (tests/python/logit_scorers_reference.py), score the logits they are given, and handle extremes and ties.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include "support/null_context.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "mmdebias/core/errors.hpp"
#include "std_helpers.hpp"

using namespace stdtest;
namespace fs = std::filesystem;

namespace {

using NullContext = mmdebias::test::NullContext;

std::shared_ptr<sdk::Scorer> scorer(const std::string& type, std::map<std::string, sdk::OptionValue> given = {}) {
  sdk::BuildArgs a;
  a.name = "scorers." + type;
  a.model.num_classes = 5;
  a.options = options(type, std::move(given));
  return registry().make_scorer(type, a);
}

/// Scores of logits by a scorer; record.logits is deliberately different, so using it would be caught.
at::Tensor score(sdk::Scorer& s, const at::Tensor& logits) {
  NullContext ctx;
  sdk::ForwardRecord record;
  record.logits = at::zeros_like(logits);
  return s.score(record, logits, ctx);
}

/// Fixed logits [N, 5]: random rows, extremes (+-50), all-equal rows and ties at the maximum.
std::vector<std::vector<double>> fixed_logits() {
  std::vector<std::vector<double>> rows = {
      {50, -50, 0, 0, 0},      {-50, -50, -50, -50, -50}, {50, 50, 50, 50, 50}, {1, 3, 3, 0, -2},
      {50, 50, -50, -50, 0},   {-50, -49, -50, -50, -50}, {0, 0, 0, 0, 0},      {2.5, 2.5, 2.5, -1, 7},
      {-0.001, 0.001, 0, 0, 0}, {49.5, -50, 50, 12.25, -3}, {-7, -7, -7, -7, -6.5},
  };
  std::mt19937 rng(1234);
  std::normal_distribution<double> normal(0.0, 3.0);
  for (int i = 0; i < 20; ++i) {
    std::vector<double> r;
    for (int c = 0; c < 5; ++c) r.push_back(normal(rng));
    rows.push_back(r);
  }
  return rows;
}

/// Runs the Python reference on rows; FAILS (never skips) when the tests' Python (MMDEBIAS_PYTHON) or its torch is missing.
nlohmann::json python_reference(const std::vector<std::vector<double>>& rows) {
  const fs::path python = MMDEBIAS_PYTHON;
  const fs::path script = fs::path(MMDEBIAS_SOURCE_DIR) / "tests" / "python" / "logit_scorers_reference.py";
  REQUIRE_MESSAGE(fs::exists(script), "missing " << script.string());
  if (!fs::exists(python))
    FAIL(MMDEBIAS_PYTHON " is missing: install python3-torch (apt-get install python3-torch, or scripts/setup --tests)");
  const fs::path in = fs::temp_directory_path() / ("mmdebias-logit-scorers-" + std::to_string(::getpid()) + ".json");
  std::ofstream(in) << nlohmann::json{{"logits", rows}}.dump();  // doubles written with round-trip precision
  // -I: ignore PYTHONPATH and user site-packages, which may belong to the other python3 on PATH.
  const std::string cmd = python.string() + " -I " + script.string() + " " + in.string() + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, got);
  const int status = ::pclose(pipe);
  fs::remove(in);
  INFO("reference script output: " << output);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
    FAIL("torch is missing for " MMDEBIAS_PYTHON ": install python3-torch (apt-get install python3-torch, or "
         "scripts/setup --tests)");
  REQUIRE_MESSAGE(status == 0, "the torch reference script failed (is python3-torch installed?)");
  return nlohmann::json::parse(output);
}

/// Checks got against the reference list within tol * max(1, |ref|).
void check_against(const at::Tensor& got, const nlohmann::json& ref, double tol, const std::string& what) {
  REQUIRE(got.dim() == 1);
  REQUIRE(static_cast<size_t>(got.size(0)) == ref.size());
  const at::Tensor g = got.to(at::kDouble).contiguous();
  for (size_t i = 0; i < ref.size(); ++i) {
    const double want = ref[i].get<double>(), have = g[static_cast<int64_t>(i)].item<double>();
    INFO(what << " row " << i << ": got " << have << ", reference " << want);
    CHECK(std::isfinite(have));
    CHECK(std::abs(have - want) <= tol * std::max(1.0, std::abs(want)));
  }
}

}  // namespace

TEST_CASE("logit scorers agree with the independent torch reference") {
  const auto rows = fixed_logits();
  const nlohmann::json ref = python_reference(rows);
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  const at::Tensor logits64 = at::tensor(flat, at::kDouble).reshape({static_cast<int64_t>(rows.size()), 5});

  auto msp = scorer("std.msp"), maxlogit = scorer("std.maxlogit");
  auto energy1 = scorer("std.energy"), energy2 = scorer("std.energy", {{"temperature", 2.0}});
  for (const auto dtype : {at::kDouble, at::kFloat}) {
    CAPTURE(dtype);
    const at::Tensor logits = logits64.to(dtype);
    // Absolute 1e-5 (relative for |score| > 1, where float32 cannot hold 1e-5 absolute at 50).
    check_against(score(*msp, logits), ref["msp"], 1e-5, "msp");
    check_against(score(*energy1, logits), ref["energy_t1"], 1e-5, "energy T=1");
    check_against(score(*energy2, logits), ref["energy_t2"], 1e-5, "energy T=2");
    check_against(score(*maxlogit, logits), ref["maxlogit"], 1e-5, "maxlogit");
    CHECK((score(*msp, logits).scalar_type() == dtype));
  }
}

TEST_CASE("uniform logits give MSP = 1/C and energy = max logit + T log C") {
  auto msp = scorer("std.msp");
  auto energy = scorer("std.energy", {{"temperature", 2.0}});
  for (int64_t c : {2, 5, 10, 1000}) {
    CAPTURE(c);
    const at::Tensor logits = at::full({3, c}, 7.0, at::kDouble);
    CHECK(at::allclose(score(*msp, logits), at::full({3}, 1.0 / c, at::kDouble), 0, 1e-12));
    CHECK(at::allclose(score(*energy, logits), at::full({3}, 7.0 + 2.0 * std::log(double(c)), at::kDouble), 0, 1e-9));
  }
}

TEST_CASE("logit scorers score the logits argument, higher = more in-distribution") {
  // A confident row must score higher than a flat one under every scorer.
  const at::Tensor logits = at::tensor({9.0, 0.0, 0.0, 0.5, 0.4, 0.6}, at::kDouble).reshape({2, 3});
  for (const std::string type : {"std.msp", "std.energy", "std.maxlogit"}) {
    CAPTURE(type);
    auto s = scorer(type);
    CHECK_FALSE(s->needs_fit());
    const at::Tensor got = score(*s, logits);  // record.logits are zeros: a scorer reading them would tie
    REQUIRE((got.dim() == 1 && got.size(0) == 2));
    CHECK(got[0].item<double>() > got[1].item<double>());
    CHECK(contains(error_of([&] { score(*s, at::zeros({4})); }), type + " scores floating-point logits [B, C]"));
  }
  CHECK(score(*scorer("std.maxlogit"), logits)[0].item<double>() == 9.0);
}

TEST_CASE("std.energy refuses a non-positive temperature") {
  CHECK_THROWS_AS(options("std.energy", {{"temperature", 0.0}}), mmdebias::core::InputError);
  CHECK_THROWS_AS(options("std.energy", {{"temperature", -1.0}}), mmdebias::core::InputError);
  CHECK(registry().get("std.energy").decl.schema.find("temperature") != nullptr);
  CHECK(registry().get("std.msp").decl.schema.specs().empty());
}
