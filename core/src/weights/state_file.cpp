#include "weights/state_file.hpp"

#include <fnmatch.h>

#include <map>
#include <set>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"
#include "weights/safetensors.hpp"
#include "weights/torch_save.hpp"

namespace mmdebias::core {
namespace {

bool glob(const std::string& pattern, const std::string& name) { return fnmatch(pattern.c_str(), name.c_str(), 0) == 0; }

std::string shape_text(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string quoted(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const auto& n : names) q.push_back("\"" + n + "\"");
  return join(q);
}

// The file's names as this component sees them: prefix stripped, renamed, ignored ones left out.
std::map<std::string, at::Tensor> renamed(const NamedTensors& tensors, const InitSpec& spec, size_t& skipped) {
  std::map<std::string, at::Tensor> out;
  skipped = 0;
  for (const auto& [original, tensor] : tensors) {
    std::string name = original;
    if (!spec.prefix.empty()) {
      if (name.rfind(spec.prefix, 0) != 0) { ++skipped; continue; }
      name = name.substr(spec.prefix.size());
    }
    for (const auto& [from, to] : spec.rename)
      if (name.rfind(from, 0) == 0) { name = to + name.substr(from.size()); break; }
    bool ignored = false;
    for (const auto& p : spec.ignore) ignored = ignored || glob(p, name);
    if (ignored) { ++skipped; continue; }
    out[name] = tensor;
  }
  return out;
}

}  // namespace

NamedTensors read_state_file(const InitSpec& spec) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(spec.file, ec))
    throw InputError(spec.file.string() + ": no such weight file");
  if (looks_like_torch_save(spec.file)) return read_torch_save(spec.file, spec.key);
  if (!spec.key.empty()) throw InputError(spec.file.string() + ": init.key applies to torch.save files; this is not one");
  if (looks_like_safetensors(spec.file)) return read_safetensors(spec.file);
  throw InputError(spec.file.string() +
                   ": neither safetensors nor a torch.save zip archive (files saved before PyTorch 1.6, such as "
                   "torchvision's downloaded .pth, use a legacy format: load and re-save them with torch.save, or use "
                   "safetensors)");
}

std::string load_initial_weights(torch::nn::Module& module, const InitSpec& spec) {
  size_t skipped = 0;
  const std::map<std::string, at::Tensor> file = renamed(read_state_file(spec), spec, skipped);
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& p : module.named_parameters()) targets.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) targets.emplace_back(b.key(), b.value());

  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> known;
  for (const auto& [name, target] : targets) {
    known.insert(name);
    auto it = file.find(name);
    if (it == file.end()) { missing.push_back(name); continue; }
    if (it->second.sizes() != target.sizes())
      mismatched.push_back("size mismatch for " + name + ": copying a param with shape " + shape_text(it->second.sizes()) +
                           " from checkpoint, the shape in current model is " + shape_text(target.sizes()));
  }
  for (const auto& [name, tensor] : file)
    if (!known.count(name)) unexpected.push_back(name);

  std::string faults;
  if (spec.strict && !missing.empty()) faults += "\n  Missing key(s) in state_dict: " + quoted(missing) + ".";
  if (spec.strict && !unexpected.empty()) faults += "\n  Unexpected key(s) in state_dict: " + quoted(unexpected) + ".";
  for (const auto& m : mismatched) faults += "\n  " + m + ".";
  if (!faults.empty()) {
    std::string hint = spec.strict && (!missing.empty() || !unexpected.empty())
                           ? "\n  (strict: true; init.prefix, init.rename and init.ignore map the file's names, strict: false loads what matches)"
                           : "";
    throw InputError("error(s) in loading state_dict from " + spec.file.string() + ":" + faults + hint);
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    auto it = file.find(name);
    if (it != file.end()) target.copy_(it->second.to(target.dtype()));
  }
  std::string line = "loaded " + std::to_string(targets.size() - missing.size()) + " of " + std::to_string(targets.size()) +
                     " tensors from " + spec.file.filename().string() + " (sha256 " + spec.sha256.substr(0, 12) + ")";
  if (skipped) line += "; " + std::to_string(skipped) + " of the file's left out by prefix or ignore";
  if (!missing.empty()) line += "; missing (kept as built): " + join(missing);
  if (!unexpected.empty()) line += "; unexpected (not loaded): " + join(unexpected);
  return line;
}

void freeze_parameters(torch::nn::Module& module, const WeightSettings& settings) {
  auto params = module.named_parameters();
  if (!settings.trainable) {
    for (auto& p : params) p.value().set_requires_grad(false);
    return;
  }
  for (const auto& pattern : settings.freeze) {
    bool any = false;
    for (auto& p : params)
      if (glob(pattern, p.key())) { p.value().set_requires_grad(false); any = true; }
    if (!any) {
      std::vector<std::string> names;
      for (const auto& p : params) names.push_back(p.key());
      throw InputError("freeze: the pattern '" + pattern + "' matches no parameter; the parameters: " +
                       excerpt(join(names), 300));
    }
  }
}

}  // namespace mmdebias::core
