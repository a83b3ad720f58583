// run/sinks: how a metrics.jsonl line becomes a sink's record, and a failing sink costs one warning, not the run.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "run/sinks.hpp"

namespace core = mmdebias::core;
namespace sdk = mmdebias::sdk;

namespace {

struct Warnings : core::Logger {
  std::vector<std::string> lines;
  void log(Level level, const std::string& message) override {
    if (level == Level::Warn) lines.push_back(message);
  }
};

// Records every call; throws from the named one.
struct Probe : sdk::MetricSink {
  std::vector<std::string> calls;
  std::string throw_in;
  void call(const std::string& what) {
    calls.push_back(what);
    if (what == throw_in) throw std::runtime_error("disk full");
  }
  void open(const sdk::SinkStart& s) override { call("open " + std::to_string(s.start_step)); }
  void write(const sdk::SinkRecord& r) override { call("write " + std::to_string(r.step)); }
  void flush() override { call("flush"); }
  void close() override { call("close"); }
};

core::Instance<sdk::MetricSink> instance(std::shared_ptr<Probe> probe, const std::string& name) {
  core::Instance<sdk::MetricSink> i;
  i.name = "sinks." + name;
  i.type = "probe." + name;
  i.object = std::move(probe);
  return i;
}

}  // namespace

TEST_CASE("a metrics line becomes '<type>/<keys>' scalars: numbers only, arrays by index, step and type apart") {
  nlohmann::json line = {{"type", "eval"}, {"step", 40}, {"split", "test"}, {"count", 256},
                         {"classification", {{"accuracy", 0.5}, {"per_class", {{{"f1", 0.25}}, {{"f1", 0.75}}}},
                                             {"worst_group_accuracy", nullptr}}},
                         {"ok", true}, {"nan", std::numeric_limits<double>::quiet_NaN()}};
  const sdk::SinkRecord r = core::sink_record(line, "{...}", 12.5);
  CHECK(r.type == "eval");
  CHECK(r.step == 40);
  CHECK(r.wall_time == 12.5);
  CHECK(r.json == "{...}");
  std::map<std::string, double> got;
  for (const auto& s : r.scalars) got[s.tag] = s.value;
  const std::map<std::string, double> want = {{"eval/count", 256},
                                              {"eval/classification/accuracy", 0.5},
                                              {"eval/classification/per_class/0/f1", 0.25},
                                              {"eval/classification/per_class/1/f1", 0.75}};
  CHECK(got == want);
}

TEST_CASE("a sink that throws is warned of once and dropped; the others get every call; close happens once") {
  auto good = std::make_shared<Probe>(), bad = std::make_shared<Probe>();
  bad->throw_in = "write 5";
  auto warnings = std::make_shared<Warnings>();
  {
    core::RunSinks sinks({instance(bad, "bad"), instance(good, "good")}, warnings);
    CHECK_FALSE(sinks.empty());
    sinks.open(sdk::SinkStart{"/tmp/r", "r", 3, "mmdebias: 1\n"});
    for (int step : {5, 10}) sinks.write({{"type", "train"}, {"step", step}, {"loss", 1.0}}, "{}");
    sinks.flush();
    sinks.close();
    sinks.close();
  }  // the destructor closes nothing twice
  CHECK(good->calls == std::vector<std::string>{"open 3", "write 5", "write 10", "flush", "close"});
  CHECK(bad->calls == std::vector<std::string>{"open 3", "write 5"});
  REQUIRE(warnings->lines.size() == 1);
  CHECK(warnings->lines[0].find("sinks.bad (probe.bad, plugin 'probe') failed in write: disk full") != std::string::npos);
}

TEST_CASE("the destructor closes sinks a failure left open") {
  auto probe = std::make_shared<Probe>();
  { core::RunSinks sinks({instance(probe, "p")}, nullptr); sinks.open({}); }
  CHECK(probe->calls == std::vector<std::string>{"open 0", "close"});
}
