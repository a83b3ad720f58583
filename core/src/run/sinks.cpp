#include "run/sinks.hpp"

#include <chrono>
#include <cmath>
#include <exception>

#include "plugin/guard.hpp"

namespace mmdebias::core {
namespace {

void flatten(const nlohmann::json& node, const std::string& tag, std::vector<sdk::SinkScalar>& out) {
  if (node.is_object()) {
    for (const auto& item : node.items()) flatten(item.value(), tag + "/" + item.key(), out);
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) flatten(node[i], tag + "/" + std::to_string(i), out);
  } else if (node.is_number()) {  // not booleans: nlohmann keeps them apart
    const double value = node.get<double>();
    if (std::isfinite(value)) out.push_back({tag, value});
  }
}

}  // namespace

sdk::SinkRecord sink_record(const nlohmann::json& line, std::string text, double wall_time) {
  sdk::SinkRecord record;
  record.type = line.contains("type") && line["type"].is_string() ? line["type"].get<std::string>() : "metrics";
  record.step = line.contains("step") && line["step"].is_number_integer() ? line["step"].get<int64_t>() : 0;
  record.wall_time = wall_time;
  record.json = std::move(text);
  for (const auto& item : line.items())
    if (item.key() != "type" && item.key() != "step") flatten(item.value(), record.type + "/" + item.key(), record.scalars);
  return record;
}

RunSinks::RunSinks(std::vector<Instance<sdk::MetricSink>> sinks, std::shared_ptr<Logger> logger) : logger_(std::move(logger)) {
  for (auto& s : sinks) sinks_.push_back({std::move(s), true});
}

RunSinks::~RunSinks() { close(); }

template <class Call>
void RunSinks::each(const char* hook, Call&& call) {
  for (Slot& slot : sinks_) {
    if (!slot.working) continue;
    try {
      call(*slot.sink.object);
    } catch (...) {
      // Once: a sink that failed is not called again, so its warning cannot flood the log.
      slot.working = false;
      const std::string plugin = slot.sink.type.substr(0, slot.sink.type.find('.'));
      if (logger_)
        logger_->warn("warning: sink " + slot.sink.name + " (" + slot.sink.type + ", plugin '" + plugin + "') failed in " + hook +
                      ": " + exception_message(std::current_exception()) + "; it gets no more records, the run goes on");
    }
  }
}

void RunSinks::open(const sdk::SinkStart& start) {
  each("open", [&](sdk::MetricSink& s) { s.open(start); });
}

void RunSinks::write(const nlohmann::json& line, const std::string& text) {
  if (sinks_.empty()) return;
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const sdk::SinkRecord record = sink_record(line, text, now);
  each("write", [&](sdk::MetricSink& s) { s.write(record); });
}

void RunSinks::flush() {
  each("flush", [](sdk::MetricSink& s) { s.flush(); });
}

void RunSinks::close() {
  if (closed_) return;
  closed_ = true;
  each("close", [](sdk::MetricSink& s) { s.close(); });
}

sdk::SinkStart sink_start(const Session& session, const RunDirectory& run_dir) {
  sdk::SinkStart start;
  start.run_dir = std::filesystem::absolute(run_dir.dir()).string();
  start.run_name = session.section("run").string("name");
  start.start_step = session.state.step;
  start.manifest = session.resolved_text;
  return start;
}

void append_metrics_line(RunDirectory& run_dir, RunSinks& sinks, const nlohmann::json& line) {
  const std::string text = run_dir.append_metrics(line);
  sinks.write(line, text);
}

}  // namespace mmdebias::core
