#include "eval/scorer_state.hpp"

#include <sstream>
#include <variant>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "common/atomic_file.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace fs = std::filesystem;
namespace {

std::string value_text(const sdk::OptionValue& value) {
  return std::visit(
      [](const auto& v) {
        std::ostringstream out;
        using T = std::decay_t<decltype(v)>;
        out.precision(17);
        if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T>) {
          out << v;
        } else {  // a list
          out << '[';
          for (const auto& x : v) out << x << ',';
          out << ']';
        }
        return out.str();
      },
      value);
}

// Everything a scorer's statistics depend on, as one string: type, options, parameters, data.
std::string key_of(const Instance<sdk::Scorer>& scorer, const ScorerBasis& basis) {
  std::string key = scorer.type;
  for (const auto& [name, value] : scorer.options.values()) key += ";" + name + "=" + value_text(value);
  return key + ";params=" + basis.params_sha256 + ";data=" + basis.data_fingerprint;
}

fs::path file_of(const fs::path& dir, const std::string& instance) { return dir / (instance + ".pt"); }

}  // namespace

void save_scorer_state(PipelineModel& model, const fs::path& dir, const ScorerBasis& basis) {
  for (const auto& s : model.scorers()) {
    if (!s.instance->object->needs_fit()) continue;
    torch::serialize::OutputArchive archive, state;
    archive.write("key", c10::IValue(key_of(*s.instance, basis)));
    s.instance->object->save(state);
    archive.write("state", state);
    std::ostringstream bytes;
    archive.save_to(bytes);
    fs::create_directories(dir);
    write_file_atomically(file_of(dir, s.instance->name), bytes.str());
  }
}

std::set<std::string> load_scorer_state(PipelineModel& model, const fs::path& dir, const ScorerBasis& basis) {
  std::set<std::string> restored;
  for (const auto& s : model.scorers()) {
    const fs::path file = file_of(dir, s.instance->name);
    if (!s.instance->object->needs_fit() || !fs::exists(file)) continue;
    try {
      torch::serialize::InputArchive archive, state;
      archive.load_from(file.string());
      c10::IValue key;
      // Another model, other data or other options: fit afresh rather than score with stale statistics.
      if (!archive.try_read("key", key) || !key.isString() || key.toStringRef() != key_of(*s.instance, basis)) continue;
      archive.read("state", state);
      s.instance->object->load(state);
      restored.insert(s.instance->name);
    } catch (const c10::Error& e) {
      throw InputError("fitted statistics " + file.string() + " cannot be read (" + e.what_without_backtrace() +
                       "); delete the file to fit them again");
    }
  }
  return restored;
}

}  // namespace mmdebias::core
