// Manifest loading, overrides, the lenient plugins reads, and the resolved manifest of a valid pipeline.
#include <doctest/doctest.h>

#include "manifest/host_schema.hpp"
#include "manifest/yaml_options.hpp"
#include "test_manifest_support.hpp"

namespace fs = std::filesystem;
using namespace mmdebias;
using manifest_test::errors_of;
using manifest_test::host;

namespace {

const char* kValid = R"(mmdebias: 1
data: {type: fixture.toy}
model:
  encoders:
    a: {type: fixture.linear}
    b: {type: fixture.linear, dim: 2}
  fusion: {type: fixture.mean}
interventions:
  - type: fixture.claimer
    sites: []
train:
  epochs: 2
)";

std::string what_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("parse_overrides splits key.path=value and refuses malformed arguments") {
  auto ovs = core::parse_overrides({"train.epochs=10", "interventions.0.gamma=5", "run.name=a=b", "eval.split="});
  REQUIRE(ovs.size() == 4);
  CHECK(ovs[0].path == "train.epochs");
  CHECK(ovs[0].value == "10");
  CHECK(ovs[1].path == "interventions.0.gamma");
  CHECK(ovs[2].value == "a=b");
  CHECK(ovs[3].value == "");
  CHECK(ovs[0].text == "train.epochs=10");
  CHECK(what_of([] { core::parse_overrides({"train.epochs"}); }) ==
        "override 'train.epochs': expected key.path=value (e.g. train.epochs=10)");
  CHECK(what_of([] { core::parse_overrides({"=5"}); }) == "override '=5': the key before '=' is empty");
  CHECK(what_of([] { core::parse_overrides({"train..lr=5"}); }) ==
        "override 'train..lr=5': the key 'train..lr' has an empty part");
  CHECK_THROWS_AS(core::parse_overrides({"x"}), core::InputError);
}

TEST_CASE("a YAML syntax error names file:line:col") {
  std::string msg = what_of([] { core::load_manifest_text("a: [1, 2\nb: 3\n", "m.yaml"); });
  CHECK(msg.rfind("m.yaml:", 0) == 0);
  CHECK(msg.find(": YAML syntax error: ") != std::string::npos);
  CHECK(what_of([] { core::load_manifest("/nonexistent/m.yaml"); }) == "/nonexistent/m.yaml: no such manifest file");
}

TEST_CASE("overrides change values, create keys and index lists") {
  auto m = core::load_manifest_text(kValid, "m.yaml",
                                    core::parse_overrides({"train.epochs=7", "train.optimizer=sgd", "run.seed=3",
                                                           "interventions.0.exclusive=true",
                                                           "model.encoders.b.dim=5", "train.betas=[0.8, 0.9]"}));
  core::ResolvedManifest r = core::validate_manifest(m, host().registry());
  CHECK(r.sections.at("train").integer("epochs") == 7);
  CHECK(r.sections.at("train").string("optimizer") == "sgd");
  CHECK(r.sections.at("train").numbers("betas") == std::vector<double>{0.8, 0.9});
  CHECK(r.sections.at("run").integer("seed") == 3);  // run did not exist: created
  CHECK(r.config["model"]["encoders"]["b"]["dim"].as<int>() == 5);
  CHECK(r.config["interventions"][0]["exclusive"].as<std::string>() == "true");
}

TEST_CASE("training computes per-modality logits only when an estimator or intervention needs them") {
  // std.concat has per-modality heads; fixture.needy declares it needs them, fixture.claimer does not.
  auto build = [](const std::string& interventions) {
    auto m = core::load_manifest_text(kValid, "test.yaml",
                                      core::parse_overrides({"model.fusion={type: std.concat}", "interventions=" + interventions}));
    return core::validate_and_build(m, host().registry()).pipeline.training_needs_modality_logits;
  };
  CHECK_FALSE(build("[{type: fixture.claimer, sites: []}]"));
  CHECK_FALSE(build("[]"));
  CHECK(build("[{type: fixture.needy}]"));
  CHECK(build("[{type: fixture.claimer, sites: []}, {type: fixture.needy}]"));
}

TEST_CASE("an error in an overridden value is reported at the override") {
  CHECK(errors_of(kValid, {"train.epochs=abc"}) == "<override 'train.epochs=abc'>: train.epochs: expected int, got 'abc'");
  CHECK(errors_of(kValid, {"train.epoch=3"}) ==
        "<override 'train.epoch=3'>: train.epoch: unknown key 'epoch' in train; did you mean 'epochs'?");
  CHECK(errors_of(kValid, {"interventions.3.sites=[]"}) ==
        "<override 'interventions.3.sites=[]'>: interventions.3: index 3 is out of range (the list has 1 elements)");
  CHECK(errors_of(kValid, {"train.epochs.x=1"}) ==
        "<override 'train.epochs.x=1'>: train.epochs.x: 'train.epochs' holds a single value, not a map or list");
  CHECK(errors_of(kValid, {"train.lr=[1"}).rfind("<override 'train.lr=[1'>: train.lr: YAML syntax error in the value: ", 0) == 0);
  // A map the override created is located at the override too.
  CHECK(errors_of(kValid, {"estimators=[{type: fixture.prior, momentum: 3}]"}) ==
        "<override 'estimators=[{type: fixture.prior, momentum: 3}]'>: estimators.0.momentum: value 3 is out of range [0, 1]");
}

TEST_CASE("the resolved manifest fills every default and records provenance and hook order") {
  auto m = core::load_manifest(manifest_test::manifests_dir() / "valid.yaml");
  core::ValidatedPipeline v = core::validate_and_build(m, host().registry());
  const core::ResolvedManifest& r = v.resolved;
  // Host sections: every key present, given values kept.
  CHECK(r.config["train"]["epochs"].as<int>() == 2);
  CHECK(r.config["train"]["batch_size"].as<int>() == 64);
  CHECK(r.config["train"]["lr"].as<std::string>() == "0.001");
  CHECK(r.config["train"]["scheduler"].as<std::string>() == "none");
  CHECK(r.config["eval"]["split"].as<std::string>() == "test");
  CHECK(r.config["run"]["seed"].as<int>() == 7);
  CHECK(r.config["run"]["prefetch"].as<int>() == 4);
  CHECK(r.sections.at("train").number("momentum") == doctest::Approx(0.9));
  // Components: options with defaults, reserved keys kept.
  CHECK(r.config["data"]["type"].as<std::string>() == "fixture.toy");
  CHECK(r.config["data"]["size"].as<int>() == 16);
  CHECK(r.config["model"]["encoders"]["a"]["activation"].as<std::string>() == "relu");
  CHECK(r.config["model"]["encoders"]["a"]["lr"].as<double>() == doctest::Approx(0.01));
  CHECK(r.config["model"]["encoders"]["b"]["dim"].as<int>() == 3);
  CHECK(r.config["interventions"][0]["name"].as<std::string>() == "needy");
  CHECK(r.config["interventions"][2]["name"].as<std::string>() == "owner");
  CHECK(r.config["eval"]["scorers"][0]["type"].as<std::string>() == "fixture.maxlogit");
  // Provenance: the plugins used.
  REQUIRE(r.plugins.size() == 2);
  CHECK(r.plugins[0].name == "fixture");
  CHECK(r.plugins[1].name == "std");
  CHECK(r.plugins[1].sha256.size() == 64);
  CHECK(r.plugins[1].abi == "1.4");
  CHECK(!r.plugins[1].fingerprint.empty());
  // Hook order: manifest order within each hook.
  auto slot = [&](const std::string& hook) {
    for (const auto& h : r.hooks) if (h.hook == hook) return h.instances;
    return std::vector<std::string>{"<missing>"};
  };
  CHECK(slot("loss") == std::vector<std::string>{"interventions.needy", "interventions.grouped", "interventions.owner"});
  CHECK(slot("on_fused") == std::vector<std::string>{"interventions.owner"});
  CHECK(slot("observe") == std::vector<std::string>{"estimators.prior"});
  CHECK(slot("on_batch").empty());
  // The built pipeline is there for the engine.
  const core::BuiltPipeline& p = v.pipeline;
  CHECK(p.dataset_info.modalities.size() == 2);
  CHECK(p.encoders.size() == 2);
  CHECK(p.encoders[0].lr == doctest::Approx(0.01));
  CHECK(p.model.features.at("a").dim == 4);
  CHECK(p.model.fused_dim == 7);
  CHECK(p.interventions.size() == 3);
  CHECK(p.scorers.size() == 1);
  // The emitted YAML reads back and validates to the same config.
  std::string text = core::emit_yaml(r);
  CHECK(text.find("provenance:") != std::string::npos);
  CHECK(text.find("sha256: " + r.plugins[1].sha256) != std::string::npos);
  auto again = core::load_manifest_text(text, "resolved.yaml");  // provenance is ignored when read
  core::ResolvedManifest r2 = core::validate_manifest(again, host().registry());
  CHECK(YAML::Dump(r2.config) == YAML::Dump(r.config));
}

TEST_CASE("before plugins load, paths are read leniently and pins strictly") {
  auto m = core::load_manifest_text("plugins:\n  paths: [rel/dir, /abs/dir, 3, [x]]\n", "m.yaml");
  auto paths = core::manifest_plugin_paths(m);
  REQUIRE(paths.size() == 3);
  CHECK(paths[0] == fs::current_path() / "rel/dir");
  CHECK(paths[1] == fs::path("/abs/dir"));
  auto file = core::load_manifest(manifest_test::manifests_dir() / "several_errors.yaml");
  REQUIRE(core::manifest_plugin_paths(file).empty());  // paths is not a list there
  auto broken = core::load_manifest_text("plugins: 3\n", "m.yaml");
  CHECK(core::manifest_plugin_paths(broken).empty());
  CHECK(core::manifest_sha256_pins(broken).empty());

  const std::string upper(64, 'A');
  auto pinned = core::load_manifest_text("plugins:\n  sha256: {std: " + upper + "}\n", "m.yaml");
  CHECK(core::manifest_sha256_pins(pinned) == std::map<std::string, std::string>{{"std", std::string(64, 'a')}});
  // A pin skipped here would let its file load unchecked: every malformed one is refused, located.
  auto bad = core::load_manifest_text("plugins:\n  sha256: {std: abc, other: [1], mmdebias-x.so: " + upper + "}\n", "m.yaml");
  try {
    core::manifest_sha256_pins(bad);
    FAIL("malformed pins were accepted");
  } catch (const core::InputErrors& e) {
    REQUIRE(e.messages().size() == 3);
    CHECK(e.messages()[0].rfind("m.yaml:2:17: plugins.sha256.std: expected a SHA-256 digest (64 hex digits), got 'abc'", 0) == 0);
    CHECK(e.messages()[2].find("key 'mmdebias-x.so' is not the <name> of a file mmdebias-<name>.so") != std::string::npos);
  }
  CHECK_THROWS_AS(core::manifest_sha256_pins(core::load_manifest_text("plugins: {sha256: [x]}\n", "m.yaml")), core::InputErrors);
}

TEST_CASE("the resolved manifest writes plugins.paths absolute and pins lowercase") {
  const std::string upper(64, 'A');
  auto m = core::load_manifest_text(std::string(kValid) + "plugins:\n  paths: [rel/dir]\n  sha256: {std: " + upper + "}\n", "m.yaml");
  core::ResolvedManifest r = core::validate_manifest(m, host().registry());
  CHECK(r.config["plugins"]["paths"][0].as<std::string>() == (fs::current_path() / "rel/dir").string());
  CHECK(r.config["plugins"]["sha256"]["std"].as<std::string>() == std::string(64, 'a'));
}

TEST_CASE("construction failures are reported at the component, without a cascade") {
  std::string text = std::string(kValid) + "  steps: 0\n";
  std::string err = errors_of(text, {"data.modalities=[]"});
  INFO(err);
  CHECK(err.find("test.yaml:2:7: data: cannot construct fixture.toy: ") == 0);
  CHECK(err.find("at least one modality") != std::string::npos);
  CHECK(err.find('\n') == std::string::npos);  // no encoder/fusion noise after the dataset failed
}

TEST_CASE("option values read strictly from YAML") {
  std::string problem;
  auto v = core::option_from_yaml(YAML::Load("1e-3"), sdk::OptionType::Float, problem);
  REQUIRE(v);
  CHECK(std::get<double>(*v) == doctest::Approx(1e-3));
  CHECK(!core::option_from_yaml(YAML::Load("1.5"), sdk::OptionType::Int, problem));
  CHECK(problem == "expected int, got '1.5'");
  CHECK(!core::option_from_yaml(YAML::Load("{a: 1}"), sdk::OptionType::Bool, problem));
  CHECK(problem == "expected bool, got a map");
  CHECK(!core::option_from_yaml(YAML::Load("[1, x]"), sdk::OptionType::IntList, problem));
  CHECK(problem == "expected list of int, but element 1 is 'x'");
  CHECK(core::format_double(0.1) == "0.1");
  CHECK(core::format_double(1e-8) == "1e-08");
}

TEST_CASE("model-dependent checks: eval split, instance names, reserved keys, sites") {
  CHECK(errors_of(kValid, {"eval.split=val"}) ==
        "<override 'eval.split=val'>: eval.split: the dataset has no split 'val'; its splits: train, test");
  CHECK(errors_of(kValid, {"interventions.0.name=a.b"}) ==
        "<override 'interventions.0.name=a.b'>: interventions.0.name: instance names use letters, digits, '_' and '-', got 'a.b'");
  CHECK(errors_of(kValid, {"data.lr=0.1"}) ==
        "<override 'data.lr=0.1'>: data.lr: unknown key 'lr' in fixture.toy options");
  CHECK(errors_of(kValid, {"model.fusion.name=f"}) ==
        "<override 'model.fusion.name=f'>: model.fusion.name: unknown key 'name' in fixture.mean options");
  CHECK(errors_of(kValid, {"model.encoders.a.lr=-1"}) ==
        "<override 'model.encoders.a.lr=-1'>: model.encoders.a.lr: value -1 is out of range >= 0");
  // A claimed site must exist; with sites on the fusion it is accepted and listed at hook 3.
  CHECK(errors_of(kValid, {"interventions.0.sites=[fusion.x]"}) ==
        "test.yaml:9:5: interventions.0: fixture.claimer claims attention site 'fusion.x', which the model does not "
        "have; the model has no attention sites");
  auto m = core::load_manifest_text(kValid, "m.yaml",
                                    core::parse_overrides({"model.fusion.sites=[fusion.x]", "interventions.0.sites=[fusion.x]"}));
  auto r = core::validate_manifest(m, host().registry());
  // In call order: 1 on_batch, then 3 at_attention (before the encoders), then 2 on_features.
  REQUIRE(r.hooks.size() > 2);
  CHECK(r.hooks[1].step == "3");
  CHECK(r.hooks[1].hook == "at_attention");
  CHECK(r.hooks[1].instances == std::vector<std::string>{"interventions.claimer"});
  CHECK(r.hooks[2].hook == "on_features");
}

TEST_CASE("a manifest that is not a map, or empty, is one clear error") {
  CHECK(errors_of("") == "test.yaml:1:1: the manifest is empty; it needs at least mmdebias, data and model");
  CHECK(errors_of("- 1\n") == "test.yaml:1:1: expected a map of sections (mmdebias, data, model, ...), got a list");
}
