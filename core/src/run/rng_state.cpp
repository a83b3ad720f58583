#include "run/rng_state.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "run/checkpoint.hpp"

namespace mmdebias::core {

std::map<std::string, at::Tensor> rng_states(const RunState& state) {
  std::map<std::string, at::Tensor> states = state.rngs.states();
  states["default"] = at::detail::getDefaultCPUGenerator().get_state();
  return states;
}

std::vector<std::string> gather_rng(RunState& state) { return all_gather_strings(*state.collective, pack_rng(rng_states(state))); }

void restore_rng(RunState& state, std::map<std::string, at::Tensor> states) {
  if (auto it = states.find("default"); it != states.end()) {
    at::Generator global = at::detail::getDefaultCPUGenerator();  // a handle to the same generator
    global.set_state(it->second);
    states.erase(it);
  }
  state.rngs.restore(states);
}

}  // namespace mmdebias::core
