// --arms FILE: named sets of overrides, one value each of the axis "arm" (Hydra's config groups, in one file):
//   without:  {interventions: []}
//   as_is:    {}
//   smaller:  {interventions.0.weight: 0.1}
#include <yaml-cpp/yaml.h>

#include <set>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/sweep.hpp"

namespace mmdebias::core {

SweepAxis parse_arms_file(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw InputError("--arms " + file.string() + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    throw InputError("--arms " + file.string() + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
  }
  auto where = [&](const YAML::Node& n) { return file.string() + ":" + std::to_string(n.Mark().line + 1) + ": "; };
  if (!root.IsMap() || root.size() == 0)
    throw InputError("--arms " + file.string() + ": expected a mapping of arm names to {key.path: value} (e.g. joint: {interventions: []})");
  SweepAxis axis{"arm", {}, {}};
  for (const auto& arm : root) {
    const std::string name = arm.first.Scalar();
    if (name.empty() || name.find_first_of(",=/ ") != std::string::npos)
      throw InputError(where(arm.first) + "arm '" + name + "': an arm's name is one word without ',', '=', '/' or spaces");
    if (!arm.second.IsMap() && !arm.second.IsNull())
      throw InputError(where(arm.second) + "arm " + name + ": expected {key.path: value, ...} ({} for the manifest as it is)");
    std::vector<Override> set;
    for (const auto& kv : arm.second) {
      const std::string key = kv.first.Scalar();
      if (key == "run.seed" || key == "run.out" || key == "run.name")
        throw InputError(where(kv.first) + "arm " + name + ": " + key + " is set by the sweep (--seeds, --out)");
      std::string value = kv.second.IsScalar() ? kv.second.Scalar() : "";
      if (!kv.second.IsScalar()) {
        YAML::Emitter flow;
        flow.SetMapFormat(YAML::Flow);
        flow.SetSeqFormat(YAML::Flow);
        flow << kv.second;
        value = flow.c_str();
      }
      set.push_back({key, value, key + "=" + value});
    }
    axis.values.push_back(name);
    axis.sets.push_back(std::move(set));
  }
  return axis;
}

}  // namespace mmdebias::core
