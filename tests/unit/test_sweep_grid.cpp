// The sweep's grid (words split into axes, seeds, configuration names, the baseline) and its statistics over
// seeds. The end-to-end cases (processes, kills, scipy's numbers) are tests/cli/sweep.sh.
#include <cmath>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/sweep.hpp"
#include "sweep/aggregate.hpp"
#include "sweep/stats.hpp"

#include <doctest/doctest.h>

using namespace mmdebias;

TEST_CASE("sweep words: commas split values, not inside brackets or quotes; one value is a fixed override") {
  const core::SweepGrid g =
      core::parse_sweep_words("m.yaml", {"train.lr=0.1,0.01", "model.hidden=[16,32],[8]", "data.name='a,b'", "train.epochs=3"}, "0-2,7");
  REQUIRE(g.axes.size() == 2);
  CHECK(g.axes[0].values == std::vector<std::string>{"0.1", "0.01"});
  CHECK(g.axes[1].values == std::vector<std::string>{"[16,32]", "[8]"});
  REQUIRE(g.fixed.size() == 2);
  CHECK(g.fixed[0].value == "'a,b'");
  CHECK(g.seeds == std::vector<int64_t>{0, 1, 2, 7});
  const std::vector<core::SweepConfig> configs = core::expand_grid(g);
  REQUIRE(configs.size() == 4);
  CHECK(configs[0].name == "train.lr=0.1,model.hidden=[16,32]");  // the first axis varies slowest
  CHECK(configs[1].name == "train.lr=0.1,model.hidden=[8]");
  CHECK(configs[0].dir == "train.lr=0.1,model.hidden=_16,32_");  // brackets are not safe in a path everywhere
  CHECK(configs[3].overrides.size() == 2);
  CHECK(configs[3].overrides[1].text == "model.hidden=[8]");
}

TEST_CASE("sweep words: refused with the word named") {
  auto refused = [](std::vector<std::string> words, const std::string& seeds, const std::string& message) {
    try {
      core::parse_sweep_words("m.yaml", words, seeds);
      FAIL("accepted");
    } catch (const core::InputError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(message) != std::string::npos, e.what());
    }
  };
  refused({"run.seed=1,2"}, "0", "seeds are given with --seeds");
  refused({"train.lr=0.1,,0.2"}, "0", "an empty value between commas");
  refused({"train.lr=[0.1,0.2"}, "0", "an unclosed bracket");
  refused({"train.lr=0.1,0.1"}, "0", "the value 0.1 is listed twice");
  refused({"train.lr=0.1", "train.lr=0.2"}, "0", "is given twice");
  refused({}, "3-1", "the range 3-1 is empty");
  refused({}, "0,x", "'x' is not a seed");
  refused({}, "1,0-2", "seed 1 is listed twice");
}

TEST_CASE("sweep: a long or unsafe configuration name becomes a short, distinct directory") {
  const core::SweepGrid g = core::parse_sweep_words("m.yaml", {"data.root=a/b,a_b," + std::string(200, 'x')}, "0");
  const std::vector<core::SweepConfig> configs = core::expand_grid(g);
  CHECK(configs[0].dir == "data.root=a_b");
  CHECK(configs[1].dir == "data.root=a_b-2");
  CHECK(configs[2].dir.size() <= 120);
  CHECK(configs[2].dir.find('/') == std::string::npos);
}

TEST_CASE("sweep: the baseline is named by swept values or by name, and must name exactly one configuration") {
  const core::SweepGrid g = core::parse_sweep_words("m.yaml", {"a=1,2", "b=x,y"}, "0");
  const std::vector<core::SweepConfig> configs = core::expand_grid(g);
  CHECK(core::find_baseline(configs, g.axes, "a=2,b=x") == 2);
  CHECK(core::find_baseline(configs, g.axes, "a=1,b=y") == 1);
  CHECK_THROWS_WITH_AS(core::find_baseline(configs, g.axes, "a=1"), doctest::Contains("names 2 configurations"), core::InputError);
  CHECK_THROWS_WITH_AS(core::find_baseline(configs, g.axes, "c=1"), doctest::Contains("c is not swept"), core::InputError);
  CHECK_THROWS_WITH_AS(core::find_baseline(configs, g.axes, "a=3"), doctest::Contains("names no configuration"), core::InputError);
}

TEST_CASE("stats over seeds: mean, sample std and the t interval (t(0.975, 4) = 2.7764451)") {
  const core::SeedSummary s = core::summarise({1, 2, 3, 4, 5});
  CHECK(s.mean == doctest::Approx(3));
  CHECK(*s.std == doctest::Approx(std::sqrt(2.5)));
  const double half = 2.7764451052 * std::sqrt(2.5) / std::sqrt(5.0);
  CHECK(*s.low == doctest::Approx(3 - half).epsilon(1e-9));
  CHECK(*s.high == doctest::Approx(3 + half).epsilon(1e-9));
  CHECK(s.excludes_zero());
  CHECK_FALSE(core::summarise({-1, 1, 0.5}).excludes_zero());
  const core::SeedSummary one = core::summarise({0.7});
  CHECK(one.n == 1);
  CHECK_FALSE(one.std.has_value());
  CHECK(core::to_json(one)["ci95"].is_null());
}

TEST_CASE("a summary's results: the evaluation's numeric leaves, without counts or arrays") {
  const nlohmann::json summary = {{"eval", {{"step", 9}, {"count", 100}, {"classification", {{"accuracy", 0.5}, {"confusion", {{1, 2}}}, {"num_classes", 4}}},
                                            {"ood", {{"msp", {{"auroc", 0.8}, {"num_id", 10}}}}}}},
                                  {"train", {{"seconds", 3.0}}}};
  const std::map<std::string, double> m = core::result_metrics(summary);
  CHECK(m == std::map<std::string, double>{{"eval.classification.accuracy", 0.5}, {"eval.ood.msp.auroc", 0.8}});
}
