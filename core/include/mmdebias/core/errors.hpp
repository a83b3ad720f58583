// The host's error types; each maps to one exit code of the command-line host.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace mmdebias::core {

/// Bad input from the user: manifest, arguments, data (a dataset's sdk::DataError), refused plugin. The host exits 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Several input errors found in one pass (e.g. manifest validation), reported together. Exit 2.
class InputErrors : public InputError {
 public:
  /// Joins the messages one per line (what() shows the first 50 and how many more there are).
  explicit InputErrors(std::vector<std::string> messages);
  /// The individual messages.
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::vector<std::string> messages_;
};

/// A failure while running (a component threw, a file could not be written). The host exits 1.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An exception raised inside a component's hook, rewrapped to name the plugin, component and hook.
class ComponentError : public RunError {
 public:
  /// message is the original exception's text.
  ComponentError(std::string plugin, std::string component, std::string hook, const std::string& message);
  /// Plugin that owns the component.
  const std::string& plugin() const { return plugin_; }
  /// Component instance or type name.
  const std::string& component() const { return component_; }
  /// Hook that was running.
  const std::string& hook() const { return hook_; }

 private:
  std::string plugin_, component_, hook_;
};

}  // namespace mmdebias::core
