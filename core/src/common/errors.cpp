#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {
std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}
}  // namespace

InputErrors::InputErrors(std::vector<std::string> messages)
    : InputError(join_lines(messages)), messages_(std::move(messages)) {}

ComponentError::ComponentError(std::string plugin, std::string component, std::string hook, const std::string& message)
    : RunError("plugin '" + plugin + "', component " + component + ", hook " + hook + ": " + message),
      plugin_(std::move(plugin)),
      component_(std::move(component)),
      hook_(std::move(hook)) {}

}  // namespace mmdebias::core
