#include "run/rng_state.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "run/checkpoint.hpp"

namespace mmdebias::core {

namespace {
// Rank-shared streams are saved beside the per-rank ones under this prefix (no instance path starts with it).
const std::string kSharedPrefix = "shared:";
// LibTorch's generator of the rank's GPU (dropout and every random op on it), beside the CPU's "default".
const std::string kDeviceGenerator = "device";
}  // namespace

std::map<std::string, at::Tensor> rng_states(const RunState& state) {
  std::map<std::string, at::Tensor> states = state.rngs.states();
  for (const auto& [name, s] : state.shared_rngs.states()) states[kSharedPrefix + name] = s;
  states["default"] = at::detail::getDefaultCPUGenerator().get_state();
  if (!state.device.is_cpu()) states[kDeviceGenerator] = at::globalContext().defaultGenerator(state.device).get_state();
  return states;
}

std::vector<std::string> gather_rng(RunState& state) { return all_gather_strings(*state.collective, pack_rng(rng_states(state))); }

void restore_rng(RunState& state, std::map<std::string, at::Tensor> states) {
  if (auto it = states.find("default"); it != states.end()) {
    at::Generator global = at::detail::getDefaultCPUGenerator();  // a handle to the same generator
    global.set_state(it->second);
    states.erase(it);
  }
  if (auto it = states.find(kDeviceGenerator); it != states.end()) {
    // Saved on a GPU; the run's device cannot have changed since (a resume refuses another run.device).
    if (!state.device.is_cpu()) {
      at::Generator generator = at::globalContext().defaultGenerator(state.device);  // a handle to the same generator
      generator.set_state(it->second);
    }
    states.erase(it);
  }
  std::map<std::string, at::Tensor> shared;
  for (auto it = states.begin(); it != states.end();) {
    if (it->first.rfind(kSharedPrefix, 0) != 0) { ++it; continue; }
    shared[it->first.substr(kSharedPrefix.size())] = it->second;
    it = states.erase(it);
  }
  state.rngs.restore(states);
  state.shared_rngs.restore(shared);
}

}  // namespace mmdebias::core
