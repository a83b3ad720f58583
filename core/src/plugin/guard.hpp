// Calls into plugin code through one gate that turns any exception into a ComponentError, except a fault in the
// user's data (sdk::DataError), which is bad input: an InputError.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include <c10/util/Exception.h>

#include "mmdebias/core/errors.hpp"
#include "mmdebias/sdk/data.hpp"

namespace mmdebias::core {

/// Identifies a component instance in error messages.
struct ComponentLabel {
  std::string plugin;     ///< Plugin name ("std").
  std::string component;  ///< Instance path or full type name ("encoders.image (std.conv2d)").
};

/// The text of the exception error holds: a c10::Error's without its backtrace, a std::exception's what(), or a
/// fixed sentence for anything else.
inline std::string exception_message(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception (not derived from std::exception)";
  }
}

/// Runs fn(); any exception it throws becomes a ComponentError naming label and hook, or, for an sdk::DataError, an
/// InputError naming them.
template <class Fn>
decltype(auto) guarded(const ComponentLabel& label, const char* hook, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const ComponentError&) {
    throw;  // already labelled by an inner gate
  } catch (const sdk::DataError& e) {
    throw InputError(label.component + ", " + hook + ": " + e.what());
  } catch (const c10::Error& e) {
    throw ComponentError(label.plugin, label.component, hook, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw ComponentError(label.plugin, label.component, hook, e.what());
  } catch (...) {
    throw ComponentError(label.plugin, label.component, hook, "unknown exception (not derived from std::exception)");
  }
}

}  // namespace mmdebias::core
