#include "pipeline/context.hpp"

#include <stdexcept>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace mmdebias::core {

uint64_t stable_hash(const std::string& text, uint64_t seed) {
  uint64_t h = 14695981039346656037ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

at::Generator& RngStreams::get(const std::string& name) {
  auto it = streams_.find(name);
  if (it != streams_.end()) return it->second;
  // Mersenne Twister seeds are 64-bit; keep them positive for printing and Python parity.
  uint64_t seed = stable_hash(name, seed_) & 0x7FFFFFFFFFFFFFFFull;
  return streams_.emplace(name, at::make_generator<at::CPUGeneratorImpl>(seed)).first->second;
}

std::map<std::string, at::Tensor> RngStreams::states() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& kv : streams_) out[kv.first] = kv.second.get_state();
  return out;
}

void RngStreams::restore(const std::map<std::string, at::Tensor>& states) {
  for (const auto& kv : states) get(kv.first).set_state(kv.second);
}

void MetricStore::record(const std::string& name, double value) {
  tensors_.erase(name);
  values_[name] = value;
}

void MetricStore::record(const std::string& name, const at::Tensor& value) {
  if (!value.defined() || value.numel() != 1 || value.is_complex())
    throw std::invalid_argument("metric " + name + ": a tensor metric must be a real 0-dim or 1-element tensor, got " +
                                (value.defined() ? "shape " + c10::str(value.sizes()) + " of " + std::string(c10::toString(value.scalar_type()))
                                                 : std::string("an undefined tensor")));
  values_.erase(name);
  // Float64 holds every real dtype's value exactly, as item<double>() would read it; copy=true so the kept value is
  // the one at record time even when value is a buffer the component updates in place later.
  tensors_[name] = value.detach().reshape({}).to(at::kDouble, /*non_blocking=*/false, /*copy=*/true);
}

std::map<std::string, double> MetricStore::take() {
  std::map<std::string, double> out = std::move(values_);
  values_.clear();
  if (!tensors_.empty()) {
    torch::NoGradGuard no_grad;
    // One stack and one copy to the host per device (the model's device; CPU tensors need no transfer).
    std::map<std::string, std::vector<std::pair<std::string, at::Tensor>>> by_device;
    for (auto& kv : tensors_) by_device[kv.second.device().str()].emplace_back(kv.first, kv.second);
    for (auto& group : by_device) {
      std::vector<at::Tensor> values;
      values.reserve(group.second.size());
      for (const auto& nt : group.second) values.push_back(nt.second);
      const bool on_cpu = group.second.front().second.device().is_cpu();
      const at::Tensor host = at::stack(values).cpu().contiguous();
      if (!on_cpu) ++transfers_;
      const double* read = host.data_ptr<double>();
      for (size_t i = 0; i < group.second.size(); ++i) out[group.second[i].first] = read[i];
    }
    tensors_.clear();
  }
  return out;
}

void MetricStore::clear() {
  values_.clear();
  tensors_.clear();
}

std::string instance_name(const std::string& path) {
  const size_t dot = path.find('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

ComponentContext::ComponentContext(RunState& state, std::string name, sdk::Model* model)
    : state_(state), name_(std::move(name)), model_(model) {}

void ComponentContext::log(sdk::LogLevel level, const std::string& message) {
  if (!state_.logger) return;
  Logger::Level lv = level == sdk::LogLevel::Debug  ? Logger::Level::Debug
                     : level == sdk::LogLevel::Info ? Logger::Level::Info
                     : level == sdk::LogLevel::Warn ? Logger::Level::Warn
                                                    : Logger::Level::Error;
  state_.logger->log(lv, "[" + name_ + "] " + message);
}

}  // namespace mmdebias::core
