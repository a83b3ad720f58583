// Agreement to 1e-5 with an independent Python/torch reference written from shared/methods.md, the paper and the
// released code (tests/python/causalmm_reference.py), not from our docs or this code: each edit under each mask
// (values and gradients), with the random draws injected, and the contrastive prediction (the paper's -inf cut-off
// against our finite one) with its training term (value and gradients).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "../../../plugins/causalmm/contrast.hpp"
#include "../../../plugins/causalmm/counterfactual_edits.hpp"
#include "causalmm_support.hpp"

using namespace cmmtest;
namespace cmm = mmdebias::causalmm;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Nested lists of a float64 tensor (any rank), written with round-trip precision by nlohmann.
json to_json(const at::Tensor& t) {
  at::Tensor c = t.to(at::kDouble).contiguous();
  if (c.dim() == 0) return c.item<double>();
  json out = json::array();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(to_json(c[i]));
  return out;
}

/// A tensor from nested JSON lists.
at::Tensor from_json(const json& j) {
  if (j.is_number()) return at::scalar_tensor(j.get<double>(), at::kDouble);
  std::vector<at::Tensor> rows;
  for (const auto& e : j) rows.push_back(from_json(e));
  return at::stack(rows);
}

/// Runs the Python reference; FAILS (never skips) when the tests' Python (MMDEBIAS_PYTHON) or its torch is missing.
json python_reference(const json& cases) {
  const fs::path python = MMDEBIAS_PYTHON;
  const fs::path script = fs::path(MMDEBIAS_SOURCE_DIR) / "tests" / "python" / "causalmm_reference.py";
  REQUIRE_MESSAGE(fs::exists(script), "missing " << script.string());
  if (!fs::exists(python)) FAIL(MMDEBIAS_PYTHON " is missing: install python3-torch (apt-get install python3-torch)");
  const fs::path in = fs::temp_directory_path() / ("mmdebias-causalmm-" + std::to_string(::getpid()) + ".json");
  std::ofstream(in) << cases.dump();
  // stderr apart: a library's warning there (PyTorch 2.x warns where 1.13 did not) must not corrupt the JSON.
  const fs::path err = fs::path(in).replace_extension(".err");
  const std::string cmd = python.string() + " -I " + script.string() + " " + in.string() + " 2>" + err.string();
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, got);
  const int status = ::pclose(pipe);
  fs::remove(in);
  std::ifstream err_in(err);
  const std::string errors((std::istreambuf_iterator<char>(err_in)), std::istreambuf_iterator<char>());
  fs::remove(err);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) FAIL("python3-torch is missing: " << errors << output);
  REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "reference failed: " << errors << output);
  return json::parse(output);
}

void check_close(const at::Tensor& ours, const json& reference, const std::string& what) {
  at::Tensor ref = from_json(reference);
  INFO(what);
  REQUIRE(ours.sizes() == ref.sizes());
  const double diff = (ours.to(at::kDouble) - ref).abs().max().item<double>();
  CHECK_MESSAGE(diff <= 1e-5, what << ": largest difference " << diff);
}

/// Our prediction against the paper's: where the reference keeps a class, the same contrast (1e-5); where it sets
/// -inf, ours lies at least kCutOffset below the row's lowest kept score, so the probabilities are the paper's.
/// Returns the number of cut classes.
int64_t check_prediction(const at::Tensor& ours, const json& reference, const std::string& what) {
  const at::Tensor s = from_json(reference["s"]);
  const at::Tensor cut = from_json(reference["cut"]).gt(0.5);
  INFO(what);
  REQUIRE(ours.sizes() == s.sizes());
  const at::Tensor o = ours.to(at::kDouble);
  const at::Tensor kept_diff = (o - s).abs().masked_fill(cut, 0.0).max();
  CHECK_MESSAGE(kept_diff.item<double>() <= 1e-5, what << ": kept classes differ by " << kept_diff.item<double>());
  const at::Tensor lowest_kept = o.masked_fill(cut, std::numeric_limits<double>::infinity()).amin(-1, true);
  CHECK((o - (lowest_kept - cmm::kCutOffset)).masked_fill(cut.logical_not(), 0.0).max().item<double>() <= 1e-6);
  const at::Tensor paper = s.masked_fill(cut, -std::numeric_limits<double>::infinity());
  CHECK(at::allclose(at::softmax(o, -1), at::softmax(paper, -1), 0, 1e-5));
  return cut.sum().item<int64_t>();
}

struct EditCase {
  std::string edit, mask_name;
  at::Tensor weights, mask, draw, probe;
};

std::vector<EditCase> edit_cases() {
  constexpr int64_t B = 2, H = 2, Q = 3, K = 5;
  std::vector<EditCase> cases;
  uint64_t seed = 100;
  for (const auto& [mask_name, mask] : test_masks(B, Q, K))
    for (const auto& name : cmm::edit_names()) {
      EditCase c{name, mask_name};
      c.weights = stochastic_weights({B, H, Q, K}, mask, ++seed);
      c.mask = cmm::full_mask(c.weights, mask);
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(++seed);
      c.draw = cmm::draw_for_edit(cmm::parse_edit(name), c.weights.sizes(), gen);  // injected into both sides
      c.probe = at::randn({B, H, Q, K}, gen, at::TensorOptions().dtype(at::kDouble));
      cases.push_back(c);
    }
  return cases;
}

}  // namespace

TEST_CASE("edits and the contrast agree with the Python reference (values and gradients, 1e-5)") {
  auto cases = edit_cases();
  json input = {{"edits", json::array()}, {"contrasts", json::array()}};
  for (const auto& c : cases)
    input["edits"].push_back({{"edit", c.edit}, {"weights", to_json(c.weights)}, {"mask", to_json(c.mask.to(at::kDouble))},
                              {"draw", c.draw.defined() ? to_json(c.draw) : json::array()}, {"probe", to_json(c.probe)}});

  struct ContrastCase { at::Tensor l, cf0, cf1, label; double gamma, epsilon; int levels; };
  std::vector<ContrastCase> contrasts;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(42);
  auto randn = [&](std::vector<int64_t> s) { return at::randn(s, gen, at::TensorOptions().dtype(at::kDouble)) * 2.0; };
  for (double gamma : {0.0, 0.5, 1.0})
    for (double epsilon : {0.0, 0.1, 0.6, 1.0})
      for (int levels : {1, 2})
        contrasts.push_back({randn({6, 5}), randn({6, 5}), randn({6, 5}), at::arange(6, at::kLong) % 5, gamma, epsilon, levels});
  for (const auto& c : contrasts) {
    json cf = json::array({to_json(c.cf0)});
    if (c.levels == 2) cf.push_back(to_json(c.cf1));
    input["contrasts"].push_back({{"l", to_json(c.l)}, {"cf", cf}, {"gamma", c.gamma}, {"epsilon", c.epsilon},
                                  {"label", to_json(c.label)}});
  }
  json ref = python_reference(input);
  REQUIRE(ref["edits"].size() == cases.size());
  REQUIRE(ref["contrasts"].size() == contrasts.size());

  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::string what = c.edit + " under mask " + c.mask_name;
    at::Tensor w = c.weights.clone().requires_grad_(true);
    at::Tensor out = cmm::edit_attention(w, c.mask, cmm::parse_edit(c.edit), c.draw);
    (out * c.probe).sum().backward();
    check_close(out.detach(), ref["edits"][i]["out"], what + " (values)");
    check_close(w.grad(), ref["edits"][i]["grad"], what + " (gradient)");
  }
  int64_t cut_classes = 0;
  for (size_t i = 0; i < contrasts.size(); ++i) {
    const auto& c = contrasts[i];
    const std::string what = "contrast gamma " + std::to_string(c.gamma) + " epsilon " + std::to_string(c.epsilon) +
                             " levels " + std::to_string(c.levels);
    std::vector<at::Tensor> cf = {c.cf0.clone().requires_grad_(true)};
    if (c.levels == 2) cf.push_back(c.cf1.clone().requires_grad_(true));
    cut_classes += check_prediction(cmm::contrastive_prediction(c.l, c.l, {cf.begin(), cf.end()}, c.gamma, c.epsilon).detach(),
                                    ref["contrasts"][i], what);
    // The training term: CE of the uncut contrast with l_f = l, gradients to l and to each counterfactual.
    at::Tensor l = c.l.clone().requires_grad_(true);
    at::Tensor ce = at::cross_entropy_loss(cmm::contrast(l, l, cf, c.gamma), c.label);
    ce.backward();
    CHECK(std::abs(ce.item<double>() - ref["contrasts"][i]["ce"].get<double>()) <= 1e-5);
    check_close(l.grad(), ref["contrasts"][i]["grad_l"], what + " (gradient to l)");
    for (size_t k = 0; k < cf.size(); ++k) check_close(cf[k].grad(), ref["contrasts"][i]["grad_cf"][k], what + " (gradient to l_cf)");
  }
  CHECK(cut_classes > 0);  // the cut-off was exercised
}
