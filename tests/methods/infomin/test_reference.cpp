// infomin.confounder + infomin.debias agree with an independent float64 torch implementation written from the
// formulas (tests/python/infomin_reference.py): r, b_logit, x̃, R, κ, CE_b, the contrastive term, and the
// gradients of κR + CE_b + contrastive with respect to x, the remap weight and the debias direction.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "../../../plugins/infomin/objectives.hpp"
#include "infomin_helpers.hpp"

namespace fs = std::filesystem;
using namespace infomintest;

namespace {

nlohmann::json to_json(const at::Tensor& t) {
  at::Tensor c = t.detach().to(at::kDouble).contiguous();
  if (c.dim() == 0) return c.item<double>();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(to_json(c[i]));
  return out;
}

at::Tensor from_json(const nlohmann::json& j) {
  if (j.is_number()) return at::scalar_tensor(j.get<double>(), at::kDouble);
  std::vector<at::Tensor> rows;
  for (const auto& e : j) rows.push_back(from_json(e));
  return at::stack(rows);
}

nlohmann::json params_json(torch::nn::Module& m) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& p : m.named_parameters(true)) out[p.key()] = to_json(p.value());
  return out;
}

/// Runs the Python reference; FAILS (never skips) when the tests' Python (MMDEBIAS_PYTHON) or its torch is missing.
nlohmann::json python_reference(const nlohmann::json& input) {
  const fs::path python = MMDEBIAS_PYTHON;
  const fs::path script = fs::path(MMDEBIAS_SOURCE_DIR) / "tests" / "python" / "infomin_reference.py";
  if (!fs::exists(python)) FAIL(MMDEBIAS_PYTHON " is missing: install python3-torch (apt-get install python3-torch)");
  const fs::path in = fs::temp_directory_path() / ("infomin_reference_" + std::to_string(::getpid()) + ".json");
  std::ofstream(in) << input.dump();
  // -I: ignore PYTHONPATH and user site-packages, which may belong to another python3.
  const std::string cmd = python.string() + " -I " + script.string() + " " + in.string() + " 2>&1";
  std::string output;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = pclose(pipe);
  fs::remove(in);
  INFO("reference script output: " << output);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
    FAIL("torch is missing for " MMDEBIAS_PYTHON ": install python3-torch (apt-get install python3-torch)");
  REQUIRE_MESSAGE(status == 0, "the torch reference script failed");
  return nlohmann::json::parse(output);
}

void check_close(const std::string& what, const at::Tensor& got, const nlohmann::json& want, double tol = 1e-5) {
  at::Tensor ref = from_json(want);
  REQUIRE_MESSAGE(got.sizes() == ref.sizes(), what);
  double diff = max_rel_diff(got, ref);
  INFO(what << ": largest relative difference " << diff);
  CHECK(diff < tol);
}

}  // namespace

TEST_CASE("confounder and debias agree with the independent torch reference (values and gradients)") {
  for (double temperature : {1.0, 0.5}) {
    CAPTURE(temperature);
    at::manual_seed(21);
    const int64_t B = 6, d = 8, C = 3;
    auto est = make_confounder(d, C, {{"temperature", temperature}});
    auto deb = make_intervention("infomin.debias", d, C);
    est->to(at::kDouble);
    deb->to(at::kDouble);
    {  // layer norms away from their identity initialisation, so their parameters are exercised too
      at::NoGradGuard g;
      for (auto& p : est->named_parameters(true))
        if (p.key().find("norm") != std::string::npos) p.value().add_(0.3 * at::randn_like(p.value()));
      parameter(*deb, "scale").mul_(1.7);
    }
    at::Tensor x = at::randn({B, d}, at::kDouble).requires_grad_(true);
    at::Tensor y = at::tensor({0, 1, 2, 0, 1, 2}, at::kLong);

    TestContext ctx;
    sdk::ForwardRecord record;
    record.fused_input = x;
    sdk::Estimates estimates;
    est->observe_fused(record, estimates, ctx);
    record.fused = deb->on_fused(x, estimates, ctx);
    sdk::Batch batch;
    batch.label = y;
    sdk::LossTerms terms;
    est->loss(record, batch, estimates, terms, ctx);
    REQUIRE(terms.terms().size() == 3);
    std::map<std::string, sdk::LossTerm> by_name;
    at::Tensor total = at::zeros({}, at::kDouble);
    for (const auto& t : terms.terms()) {
      by_name[t.name] = t;
      total = total + t.value * t.weight;
    }
    total.backward();

    at::manual_seed(5);
    std::vector<at::Tensor> rates = {at::randn({10, 4}, at::kDouble), at::randn({3, 6}, at::kDouble), 0.01 * at::randn({7, 7}, at::kDouble)};
    nlohmann::json input = {{"x", to_json(x)}, {"y", {0, 1, 2, 0, 1, 2}}, {"confounder", params_json(*est)},
                            {"debias", params_json(*deb)}, {"eps_sq", 0.01}, {"kappa_coeff", 0.25},
                            {"temperature", temperature}, {"rates", nlohmann::json::array()}};
    for (const auto& z : rates) input["rates"].push_back(to_json(z));
    const nlohmann::json ref = python_reference(input);

    check_close("r", estimates.get("infomin.confounder"), ref["r"]);
    check_close("b_logit", estimates.get("infomin.bias_logits"), ref["bias_logits"]);
    check_close("x_tilde", record.fused, ref["x_tilde"]);
    CHECK(by_name["rate"].value.item<double>() == doctest::Approx(ref["rate"].get<double>()).epsilon(1e-5));
    CHECK(by_name["rate"].weight == doctest::Approx(ref["kappa"].get<double>()).epsilon(1e-5));
    CHECK(by_name["rate"].weight <= 1.0);
    CHECK(ctx.metrics.at("kappa") == by_name["rate"].weight);
    CHECK(by_name["bias_ce"].value.item<double>() == doctest::Approx(ref["bias_ce"].get<double>()).epsilon(1e-5));
    CHECK(by_name["contrastive"].value.item<double>() == doctest::Approx(ref["contrastive"].get<double>()).epsilon(1e-5));
    CHECK(total.item<double>() == doctest::Approx(ref["total"].get<double>()).epsilon(1e-5));
    check_close("dL/dx", x.grad(), ref["grad_x"]);
    check_close("dL/d remap.weight", parameter(*est, "remap.weight").grad(), ref["grad_remap_weight"]);
    check_close("dL/d debias.direction", parameter(*deb, "direction").grad(), ref["grad_debias_direction"]);
    for (size_t i = 0; i < rates.size(); ++i)
      CHECK(mmdebias::infomin::coding_rate(rates[i], 0.01).item<double>() == doctest::Approx(ref["rates"][i].get<double>()).epsilon(1e-5));
  }
}
