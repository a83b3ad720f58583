// sdk::OptionBinder (sdk/bind.hpp): the schema it declares equals the hand-written one, and bind() fills the
// struct with the values, the defaults, checked integer casts, enum spellings and lists.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mmdebias/sdk/bind.hpp"

#include <doctest/doctest.h>

namespace sdk = mmdebias::sdk;

namespace {

enum class Pool { Mean, Cls, None };

const sdk::ChoiceTable<Pool> kPools = {{"mean", Pool::Mean}, {"cls", Pool::Cls}, {"none", Pool::None}};

struct Shape {
  int64_t dim = 0;
  double dropout = 0;
};

/// One field of every kind the binder maps, plus a field of a base and one reached through an accessor.
struct Config : Shape {
  struct Sweep {
    std::vector<double> gammas;
  };
  int layers = 0;
  bool causal = false;
  std::string mode;
  std::string path;
  Pool pool = Pool::Mean;
  std::vector<int64_t> hidden;
  std::vector<double> noise;
  std::vector<std::string> voices;
  std::vector<std::string> edits;
  std::vector<Pool> pools;
  uint32_t seed = 0;
  Sweep sweep;
  int64_t derived = -1;  // not an option: computed after bind()

  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("dim", &Config::dim, 64, "Model width").at_least(1);
    b.option("layers", &Config::layers, 2, "Number of layers").range(1, 64);
    b.option("dropout", &Config::dropout, 0.0, "Dropout probability").range(0.0, 1.0);
    b.option("causal", &Config::causal, false, "Causal attention");
    b.choice("mode", &Config::mode, "mean", {"mean", "cls"}, "Pooling");
    b.required("path", &Config::path, "Where the data lives");
    b.choice("pool", &Config::pool, Pool::Cls, kPools, "Pooling as an enum");
    b.option("hidden", &Config::hidden, {128}, "Hidden widths").at_least(1);
    b.option("noise", &Config::noise, {1.0, 2.0}, "Noise per modality").at_least(0.0);
    b.option("voices", &Config::voices, {"en", "en-us"}, "Voices");
    b.choice("edits", &Config::edits, {}, {"random", "uniform"}, "Edits of the sweep");
    b.choice("pools", &Config::pools, {Pool::Mean, Pool::None}, kPools, "Pools as enums");
    b.option("seed", &Config::seed, 7, "Seed");
    b.option("gammas", [](Config& c) -> auto& { return c.sweep.gammas; }, {}, "Gammas").at_least(0.0);
  }
};

/// The same options written with the Schema builder.
sdk::Schema hand_written() {
  sdk::Schema s;
  s.add_int("dim", 64, "Model width").at_least(1);
  s.add_int("layers", 2, "Number of layers").range(1, 64);
  s.add_float("dropout", 0.0, "Dropout probability").range(0.0, 1.0);
  s.add_bool("causal", false, "Causal attention");
  s.add_enum("mode", "mean", {"mean", "cls"}, "Pooling");
  s.add_string("path", "", "Where the data lives").required();
  s.add_enum("pool", "cls", {"mean", "cls", "none"}, "Pooling as an enum");
  s.add_int_list("hidden", {128}, "Hidden widths").at_least(1);
  s.add_float_list("noise", {1.0, 2.0}, "Noise per modality").at_least(0.0);
  s.add_string_list("voices", {"en", "en-us"}, "Voices");
  s.add_enum_list("edits", {}, {"random", "uniform"}, "Edits of the sweep");
  s.add_enum_list("pools", {"mean", "none"}, {"mean", "cls", "none"}, "Pools as enums");
  s.add_int("seed", 7, "Seed");
  s.add_float_list("gammas", {}, "Gammas").at_least(0.0);
  return s;
}

sdk::Options options(std::map<std::string, sdk::OptionValue> v) { return sdk::Options(std::move(v)); }

}  // namespace

TEST_CASE("binder: the declared schema equals the hand-written one") {
  const sdk::Schema bound = sdk::schema_of<Config>();
  const sdk::Schema hand = hand_written();
  REQUIRE(bound.specs().size() == hand.specs().size());
  for (size_t i = 0; i < hand.specs().size(); ++i) {
    const auto& a = bound.specs()[i];
    const auto& b = hand.specs()[i];
    CAPTURE(b.name);
    CHECK(a.name == b.name);
    CHECK(a.type == b.type);
    CHECK(a.value == b.value);
    CHECK(a.min == b.min);
    CHECK(a.max == b.max);
    CHECK(a.choices == b.choices);
    CHECK(a.doc == b.doc);
  }
}

TEST_CASE("binder: bind fills every declared field from the options and leaves the others") {
  const Config c = sdk::bind<Config>(options({
      {"dim", int64_t{32}},
      {"layers", int64_t{3}},
      {"dropout", 0.25},
      {"causal", true},
      {"mode", std::string("cls")},
      {"path", std::string("/data")},
      {"pool", std::string("none")},
      {"hidden", std::vector<int64_t>{8, 4}},
      {"noise", std::vector<double>{0.5}},
      {"voices", std::vector<std::string>{"en+f3"}},
      {"edits", std::vector<std::string>{"uniform", "random"}},
      {"pools", std::vector<std::string>{"cls"}},
      {"seed", int64_t{123}},
      {"gammas", std::vector<double>{0.0, 1.5}},
  }));
  CHECK(c.dim == 32);
  CHECK(c.layers == 3);
  CHECK(c.dropout == 0.25);
  CHECK(c.causal);
  CHECK(c.mode == "cls");
  CHECK(c.path == "/data");
  CHECK(c.pool == Pool::None);
  CHECK(c.hidden == std::vector<int64_t>{8, 4});
  CHECK(c.noise == std::vector<double>{0.5});
  CHECK(c.voices == std::vector<std::string>{"en+f3"});
  CHECK(c.edits == std::vector<std::string>{"uniform", "random"});
  CHECK((c.pools == std::vector<Pool>{Pool::Cls}));  // parenthesised: a vector of enums does not print
  CHECK(c.seed == 123u);
  CHECK(c.sweep.gammas == std::vector<double>{0.0, 1.5});
  CHECK(c.derived == -1);
}

TEST_CASE("binder: an option the options lack takes its default and a required one is an error") {
  const Config c = sdk::bind<Config>(options({{"path", std::string("p")}}));
  CHECK(c.dim == 64);
  CHECK(c.layers == 2);
  CHECK(c.mode == "mean");
  CHECK(c.pool == Pool::Cls);
  CHECK(c.hidden == std::vector<int64_t>{128});
  CHECK(c.noise == std::vector<double>{1.0, 2.0});
  CHECK((c.pools == std::vector<Pool>{Pool::Mean, Pool::None}));
  CHECK(c.seed == 7u);
  CHECK(c.sweep.gammas.empty());
  CHECK_THROWS_WITH_AS(sdk::bind<Config>(options({})), "option 'path' is required and was not given",
                       std::invalid_argument);
}

TEST_CASE("binder: an int member gets a checked cast") {
  CHECK_THROWS_WITH_AS(sdk::bind<Config>(options({{"path", std::string("p")}, {"layers", int64_t{1} << 40}})),
                       "option 'layers': 1099511627776 does not fit the component's signed 32-bit integer",
                       std::invalid_argument);
  CHECK_THROWS_AS(sdk::bind<Config>(options({{"path", std::string("p")}, {"seed", int64_t{-1}}})),
                  std::invalid_argument);
}

TEST_CASE("binder: an enum spelling outside the table and a value of another type are errors") {
  CHECK_THROWS_WITH_AS(sdk::bind<Config>(options({{"path", std::string("p")}, {"pool", std::string("max")}})),
                       "option 'pool': unknown value 'max' (choose mean, cls or none)", std::invalid_argument);
  CHECK_THROWS_AS(sdk::bind<Config>(options({{"path", std::string("p")}, {"dim", 1.5}})), std::invalid_argument);
}

namespace {

struct Twice {
  int64_t a = 0;
  std::string m;
  static void declare_twice(sdk::OptionBinder<Twice>& b) {
    b.option("a", &Twice::a, 1, "a");
    b.option("a", &Twice::a, 2, "a again");
  }
  static void declare_bad_default(sdk::OptionBinder<Twice>& b) { b.choice("m", &Twice::m, "x", {"y", "z"}, "m"); }
  static void declare_other(sdk::OptionBinder<Twice>& b) { b.option("a", &Twice::a, 5, "five"); }
};

}  // namespace

TEST_CASE("binder: declaration mistakes are caught at registration") {
  CHECK_THROWS_WITH_AS(sdk::schema_of<Twice>(&Twice::declare_twice), "option 'a' is declared twice", std::logic_error);
  CHECK_THROWS_WITH_AS(sdk::schema_of<Twice>(&Twice::declare_bad_default),
                       "option 'm': default 'x' is not among its choices", std::logic_error);
  // A declaration other than Config::declare can be named (two components sharing one struct).
  CHECK(sdk::bind<Twice>(options({}), &Twice::declare_other).a == 5);
}
