// MCR's terms agree with an independent float64 torch reference (tests/python/mcr_reference.py) to 1e-5 on
// fixed tensors and fixed permutations: J, R of each game with the gradients of each encoder and the
// head, the supervised contrastive term and the CEB term with their gradients.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mcr_helpers.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace mcrtest;
namespace fs = std::filesystem;

namespace {

nlohmann::json to_json(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kDouble).contiguous();
  if (c.dim() == 1) return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) rows.push_back(to_json(c[i]));
  return rows;
}

at::Tensor from_json(const nlohmann::json& j) {
  if (!j.is_array() || j.empty() || !j[0].is_array()) return at::tensor(j.get<std::vector<double>>(), at::kDouble);
  std::vector<at::Tensor> rows;
  for (const auto& r : j) rows.push_back(from_json(r));
  return at::stack(rows);
}

/// Runs the Python reference; FAILS (never skips) when the tests' Python (MMDEBIAS_PYTHON) or its torch is missing.
nlohmann::json python_reference(const nlohmann::json& input) {
  const fs::path python = MMDEBIAS_PYTHON;
  const fs::path script = fs::path(MMDEBIAS_SOURCE_DIR) / "tests" / "python" / "mcr_reference.py";
  REQUIRE_MESSAGE(fs::exists(script), "missing " << script.string());
  if (!fs::exists(python)) FAIL(MMDEBIAS_PYTHON " is missing: install python3-torch (scripts/setup --tests)");
  const fs::path in = fs::temp_directory_path() / ("mmdebias-mcr-" + std::to_string(::getpid()) + ".json");
  std::ofstream(in) << input.dump();
  const std::string cmd = python.string() + " -I " + script.string() + " " + in.string() + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, got);
  const int status = ::pclose(pipe);
  fs::remove(in);
  INFO("reference script output: " << output);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) FAIL("torch is missing for " MMDEBIAS_PYTHON ": install python3-torch");
  REQUIRE_MESSAGE(status == 0, "the torch reference script failed");
  return nlohmann::json::parse(output);
}

void check_close(const at::Tensor& got, const nlohmann::json& want, const std::string& what) {
  const at::Tensor ref = from_json(want);
  INFO(what << ": got " << got << "\nreference " << ref);
  REQUIRE(got.sizes() == ref.sizes());
  const double scale = std::max(1.0, ref.abs().max().item<double>());
  CHECK((got.to(at::kDouble) - ref).abs().max().item<double>() <= 1e-5 * scale);
  CHECK(ref.abs().max().item<double>() > 0);  // a reference of zeros would compare nothing
}

void check_value(double got, const nlohmann::json& want, const std::string& what) {
  INFO(what << ": got " << got << ", reference " << want.get<double>());
  CHECK(std::abs(got - want.get<double>()) <= 1e-5 * std::max(1.0, std::abs(want.get<double>())));
}

}  // namespace

TEST_CASE("J, R of each game, the contrastive and CEB terms and their gradients agree with the torch reference") {
  TinyModel m;
  const double lambda = 0.7, tau = 0.5;
  const int64_t hidden = 4, width = 2 * TinyModel::kDim;
  mcr::CebDecoder decoder(TinyModel::kClasses, hidden, width);
  decoder.to(at::kDouble);
  {
    at::NoGradGuard g;
    decoder.first()->weight.copy_(fixed({hidden, TinyModel::kClasses}, 7));
    decoder.second()->weight.copy_(fixed({width, hidden}, 8));
  }
  const at::Tensor js_x = fixed({7, 4}, 9, 5.0), js_y = fixed({7, 4}, 10, 5.0);
  nlohmann::json input = {
      {"xa", to_json(m.xa)}, {"xv", to_json(m.xv)}, {"Wa", to_json(m.wa)}, {"Wv", to_json(m.wv)},
      {"W", to_json(m.head_weight())}, {"b", to_json(m.head_bias())}, {"dec1", to_json(decoder.first()->weight)},
      {"dec2", to_json(decoder.second()->weight)}, {"labels", std::vector<int64_t>{0, 1, 0, 2, 1, 0}},
      {"perms", {{1, 0, 2, 5, 3, 4}, {5, 4, 3, 2, 1, 0}, {2, 3, 4, 5, 0, 1}}}, {"shuffle", "rsl"},
      {"lambda", lambda}, {"tau", tau}, {"js_x", to_json(js_x)}, {"js_y", to_json(js_y)}};
  const nlohmann::json ref = python_reference(input);

  check_value(mcr::jensen_shannon(js_x, js_y).item<double>(), ref["js"], "J");
  for (int64_t i = 0; i < js_x.size(0); ++i)
    check_value(mcr::jensen_shannon(js_x.narrow(0, i, 1), js_y.narrow(0, i, 1)).item<double>(), ref["js_rows"][i], "J row");

  const auto rows = mcr::pair_rows(fixed_permutations(), m.labels, mcr::Shuffle::Rsl);
  REQUIRE(rows.rows() > 0);
  REQUIRE(rows.rows() < 3 * TinyModel::kBatch);  // rsl dropped some rows: the reference must drop the same
  for (const auto& [name, game] : std::vector<std::pair<std::string, mcr::Game>>{
           {"greedy", mcr::Game::Greedy}, {"independent", mcr::Game::Independent}, {"collaborative", mcr::Game::Collaborative}}) {
    CAPTURE(name);
    m.zero_grad();
    auto f = m.features();
    const auto result = mcr::play(*m.fusion, f, m.base(f), rows, game);
    (lambda * result.value).backward();
    check_value(lambda * result.value.item<double>(), ref[name]["value"], name + " R");
    check_value(result.divergence.at("a").item<double>(), ref[name]["js_a"], name + " J(a permuted)");
    check_value(result.divergence.at("v").item<double>(), ref[name]["js_v"], name + " J(v permuted)");
    check_close(grad_or_zero(m.wa), ref[name]["grad"]["Wa"], name + " dR/dW_a (encoder a)");
    check_close(grad_or_zero(m.wv), ref[name]["grad"]["Wv"], name + " dR/dW_v (encoder v)");
    if (name != "greedy") {  // greedy's head gradient is exactly 0 (its terms cancel); checked by the properties
      check_close(grad_or_zero(m.head_weight()), ref[name]["grad"]["W"], name + " dR/dW (head)");
      check_close(grad_or_zero(m.head_bias()), ref[name]["grad"]["b"], name + " dR/db (head)");
    }
  }

  m.zero_grad();
  auto f = m.features();
  const at::Tensor con = mcr::supervised_nt_xent({f.at("a"), f.at("v")}, m.labels, tau);
  con.backward();
  check_value(con.item<double>(), ref["contrastive"]["value"], "NT-Xent");
  check_close(grad_or_zero(m.wa), ref["contrastive"]["grad"]["Wa"], "NT-Xent dW_a");
  check_close(grad_or_zero(m.wv), ref["contrastive"]["grad"]["Wv"], "NT-Xent dW_v");

  m.zero_grad();
  f = m.features();
  const at::Tensor ceb = mcr::ceb_loss(decoder, m.base(f), at::cat({f.at("a"), f.at("v")}, 1));
  ceb.backward();
  check_value(ceb.item<double>(), ref["ceb"]["value"], "CEB");
  check_close(grad_or_zero(m.wa), ref["ceb"]["grad"]["Wa"], "CEB dW_a");
  check_close(grad_or_zero(m.wv), ref["ceb"]["grad"]["Wv"], "CEB dW_v");
  check_close(grad_or_zero(decoder.first()->weight), ref["ceb"]["grad"]["dec1"], "CEB d(decoder layer 1)");
  check_close(grad_or_zero(decoder.second()->weight), ref["ceb"]["grad"]["dec2"], "CEB d(decoder layer 2)");
  CHECK(grad_or_zero(m.head_weight()).abs().sum().item<double>() == 0.0);  // sg(pred): the head learns nothing here
}
