// tensorboard.events: the run's metrics as TensorBoard event files, RUN_DIR/<dir>/events.out.tfevents.<time>.<host>.<pid>,
// one file per start (a resume adds one whose first events tell TensorBoard to drop the replayed steps).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>

#include "event.pb.h"
#include "mmdebias/sdk/bind.hpp"
#include "mmdebias/sdk/registrar.hpp"
#include "mmdebias/sdk/sink.hpp"
#include "record_file.hpp"
#include "register.hpp"

namespace mmdebias::tensorboard {
namespace {
namespace fs = std::filesystem;

constexpr int kStringDtype = 7;  // TensorFlow's DT_STRING

struct Config {
  std::string dir;
  bool manifest = true;
  static void declare(sdk::OptionBinder<Config>& b) {
    b.option("dir", &Config::dir, std::string("tensorboard"),
             "Directory of the event files, relative to the run directory (`tensorboard --logdir RUN_DIR/<dir>`)");
    b.option("manifest", &Config::manifest, true, "Write the resolved manifest as a text summary (tag `manifest`) at the start");
  }
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr const char* kPrefix = "events.out.tfevents.";

// TensorBoard's own naming, events.out.tfevents.<seconds>.<host>.<pid>. TensorBoard reads a directory's files in name
// order, and a resume's START must come after what it supersedes: a resume within the second of an earlier file
// (a start killed at once) takes that second plus one.
std::string event_file_name(const fs::path& dir) {
  long long seconds = static_cast<long long>(std::time(nullptr));
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::string rest = name.substr(std::strlen(kPrefix));
    const size_t digits = rest.find_first_not_of("0123456789");
    if (digits == 0 || digits > 18) continue;
    seconds = std::max(seconds, std::stoll(rest.substr(0, digits)) + 1);
  }
  char host[256] = "localhost";
  if (::gethostname(host, sizeof host) != 0) std::snprintf(host, sizeof host, "localhost");
  host[sizeof host - 1] = '\0';
  return kPrefix + std::to_string(seconds) + "." + host + "." + std::to_string(::getpid());
}

class EventsSink : public sdk::MetricSink {
 public:
  explicit EventsSink(Config config) : config_(std::move(config)) {
    const fs::path dir(config_.dir);
    if (dir.empty() || dir.is_absolute() || std::any_of(dir.begin(), dir.end(), [](const fs::path& p) { return p == ".."; }))
      throw std::invalid_argument("dir: '" + config_.dir + "' must be a relative path inside the run directory (no '..')");
  }

  void open(const sdk::SinkStart& start) override {
    const fs::path dir = fs::path(start.run_dir) / config_.dir;
    fs::create_directories(dir);
    file_.emplace((dir / event_file_name(dir)).string());
    Event version;
    version.set_wall_time(now_seconds());
    version.set_step(start.start_step);
    version.set_file_version("brain.Event:2");
    append(version);
    // TensorBoard keeps, of what it read before a START, only the steps below the START's: a resume's replayed
    // steps (after the checkpoint's) replace what the killed start logged of them. A new start replaces everything
    // but step 0 (a directory an earlier, killed start left).
    Event restart;
    restart.set_wall_time(now_seconds());
    restart.set_step(start.start_step + 1);
    restart.mutable_session_log()->set_status(SessionLog::START);
    restart.mutable_session_log()->set_msg("mmdebias run " + start.run_name + " from step " + std::to_string(start.start_step));
    append(restart);
    if (config_.manifest) append(manifest_event(start));
  }

  void write(const sdk::SinkRecord& record) override {
    Event event;
    event.set_wall_time(record.wall_time);
    event.set_step(record.step);
    Summary* summary = event.mutable_summary();
    for (const sdk::SinkScalar& s : record.scalars) {
      Summary::Value* value = summary->add_value();
      value->set_tag(s.tag);
      value->set_simple_value(static_cast<float>(s.value));
    }
    append(event);
  }

  void flush() override {
    if (file_) file_->sync();
  }

  void close() override {
    if (file_) file_->close();
  }

 private:
  // The manifest as a text summary: a fenced block, so that TensorBoard's markdown keeps its indentation.
  static Event manifest_event(const sdk::SinkStart& start) {
    Event event;
    event.set_wall_time(now_seconds());
    event.set_step(start.start_step);
    Summary::Value* value = event.mutable_summary()->add_value();
    value->set_tag("manifest");
    value->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
    TensorProto* tensor = value->mutable_tensor();
    tensor->set_dtype(kStringDtype);
    tensor->mutable_tensor_shape();  // a scalar: no dimensions
    tensor->add_string_val("```yaml\n" + start.manifest + "```\n");
    return event;
  }

  void append(const Event& event) {
    if (!file_) throw std::logic_error("the event file is not open");
    std::string data;
    if (!event.SerializeToString(&data)) throw std::runtime_error("cannot serialise an event for " + file_->path());
    file_->write(data);
  }

  Config config_;
  std::optional<RecordFile> file_;
};

}  // namespace

void register_events_sink(sdk::Registrar& r) {
  sdk::ComponentDecl decl;
  decl.name = "events";
  decl.doc = "TensorBoard event files of every metrics.jsonl scalar (train/..., eval/...) and the resolved manifest";
  decl.schema = sdk::schema_of<Config>();
  r.add_sink(std::move(decl), [](const sdk::BuildArgs& a) { return std::make_shared<EventsSink>(sdk::bind<Config>(a.options)); });
}

}  // namespace mmdebias::tensorboard
