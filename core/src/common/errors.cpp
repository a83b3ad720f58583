#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {
// A manifest with a million unknown keys must not print a million lines: the first ones, then a count.
constexpr size_t kShownErrors = 50;

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size() && i < kShownErrors; ++i) out += (out.empty() ? "" : "\n") + lines[i];
  if (lines.size() > kShownErrors)
    out += "\n... and " + std::to_string(lines.size() - kShownErrors) + " more errors (" + std::to_string(lines.size()) +
           " in all; the first " + std::to_string(kShownErrors) + " are shown)";
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
