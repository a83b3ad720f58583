#include "pipeline/context.hpp"

#include <ATen/CPUGeneratorImpl.h>

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
