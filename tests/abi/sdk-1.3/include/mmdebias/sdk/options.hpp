// Option schemas (what a component accepts) and validated option values (what it receives).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace mmdebias::sdk {

/// The type of one option.
enum class OptionType { Bool, Int, Float, String, Enum, BoolList, IntList, FloatList, StringList, EnumList };

/// Name of an option type as written in docs and errors ("float", "list of int").
inline const char* option_type_name(OptionType t) {
  switch (t) {
    case OptionType::Bool: return "bool";
    case OptionType::Int: return "int";
    case OptionType::Float: return "float";
    case OptionType::String: return "string";
    case OptionType::Enum: return "enum";
    case OptionType::BoolList: return "list of bool";
    case OptionType::IntList: return "list of int";
    case OptionType::FloatList: return "list of float";
    case OptionType::StringList: return "list of string";
    case OptionType::EnumList: return "list of enum";
  }
  return "?";
}

/// True for the list types.
inline bool is_list(OptionType t) { return t >= OptionType::BoolList; }

/// One option value; enums are held as strings, lists as vectors.
using OptionValue = std::variant<bool, int64_t, double, std::string, std::vector<bool>, std::vector<int64_t>,
                                 std::vector<double>, std::vector<std::string>>;

/// Declaration of one option: name, type, default, bounds or choices, and a one-line doc.
struct OptionSpec {
  std::string name;                  ///< Key in the manifest.
  OptionType type = OptionType::Float;  ///< Value type.
  std::optional<OptionValue> value;  ///< Default; empty means the option is required.
  std::optional<double> min;         ///< Inclusive lower bound (numbers, and every list element).
  std::optional<double> max;         ///< Inclusive upper bound (numbers, and every list element).
  std::vector<std::string> choices;  ///< Allowed values of an enum (or enum list).
  std::string doc;                   ///< One line shown by `mmdebias describe`.
};

/// An ordered list of option declarations with a fluent builder.
class Schema {
 public:
  /// Builder returned by add_*: sets bounds or choices on the option just added.
  class Ref {
   public:
    /// Inclusive range for a number (or each number of a list).
    Ref& range(double lo, double hi) { spec_->min = lo; spec_->max = hi; return *this; }
    /// Inclusive lower bound only.
    Ref& at_least(double lo) { spec_->min = lo; return *this; }
    /// Makes the option required (no default).
    Ref& required() { spec_->value.reset(); return *this; }
    explicit Ref(OptionSpec* s) : spec_(s) {}
   private:
    OptionSpec* spec_;
  };

  /// Adds a bool option.
  Ref add_bool(std::string name, bool def, std::string doc) { return add({std::move(name), OptionType::Bool, def, {}, {}, {}, std::move(doc)}); }
  /// Adds an integer option.
  Ref add_int(std::string name, int64_t def, std::string doc) { return add({std::move(name), OptionType::Int, def, {}, {}, {}, std::move(doc)}); }
  /// Adds a floating-point option.
  Ref add_float(std::string name, double def, std::string doc) { return add({std::move(name), OptionType::Float, def, {}, {}, {}, std::move(doc)}); }
  /// Adds a string option.
  Ref add_string(std::string name, std::string def, std::string doc) { return add({std::move(name), OptionType::String, std::move(def), {}, {}, {}, std::move(doc)}); }
  /// Adds an enum option; def must be one of choices.
  Ref add_enum(std::string name, std::string def, std::vector<std::string> choices, std::string doc) {
    return add({std::move(name), OptionType::Enum, std::move(def), {}, {}, std::move(choices), std::move(doc)});
  }
  /// Adds a list-of-int option.
  Ref add_int_list(std::string name, std::vector<int64_t> def, std::string doc) { return add({std::move(name), OptionType::IntList, std::move(def), {}, {}, {}, std::move(doc)}); }
  /// Adds a list-of-float option.
  Ref add_float_list(std::string name, std::vector<double> def, std::string doc) { return add({std::move(name), OptionType::FloatList, std::move(def), {}, {}, {}, std::move(doc)}); }
  /// Adds a list-of-string option.
  Ref add_string_list(std::string name, std::vector<std::string> def, std::string doc) { return add({std::move(name), OptionType::StringList, std::move(def), {}, {}, {}, std::move(doc)}); }
  /// Adds a list-of-enum option.
  Ref add_enum_list(std::string name, std::vector<std::string> def, std::vector<std::string> choices, std::string doc) {
    return add({std::move(name), OptionType::EnumList, std::move(def), {}, {}, std::move(choices), std::move(doc)});
  }
  /// Adds a fully specified option.
  Ref add(OptionSpec spec) { specs_.push_back(std::move(spec)); return Ref(&specs_.back()); }

  /// All declared options, in declaration order.
  const std::vector<OptionSpec>& specs() const { return specs_; }
  /// The option called name, or nullptr.
  const OptionSpec* find(const std::string& name) const {
    for (const auto& s : specs_) if (s.name == name) return &s;
    return nullptr;
  }

 private:
  // A deque would keep Ref pointers stable too; a vector is fine because Ref is used immediately.
  std::vector<OptionSpec> specs_;
};

/// Validated option values handed to a component factory: every declared option is present.
class Options {
 public:
  Options() = default;
  /// Wraps already validated values.
  explicit Options(std::map<std::string, OptionValue> values) : values_(std::move(values)) {}

  /// The value of option name as T (bool, int64_t, double, std::string or a vector of those).
  template <class T>
  const T& get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) throw std::out_of_range("option '" + name + "' is not declared by this component");
    if (const T* v = std::get_if<T>(&it->second)) return *v;
    throw std::invalid_argument("option '" + name + "' is not of the requested type");
  }
  /// Shorthand for get<bool>.
  bool boolean(const std::string& name) const { return get<bool>(name); }
  /// Shorthand for get<int64_t>.
  int64_t integer(const std::string& name) const { return get<int64_t>(name); }
  /// Shorthand for get<double>.
  double number(const std::string& name) const { return get<double>(name); }
  /// Shorthand for get<std::string> (strings and enums).
  const std::string& string(const std::string& name) const { return get<std::string>(name); }
  /// Shorthand for get<std::vector<int64_t>>.
  const std::vector<int64_t>& integers(const std::string& name) const { return get<std::vector<int64_t>>(name); }
  /// Shorthand for get<std::vector<double>>.
  const std::vector<double>& numbers(const std::string& name) const { return get<std::vector<double>>(name); }
  /// Shorthand for get<std::vector<std::string>>.
  const std::vector<std::string>& strings(const std::string& name) const { return get<std::vector<std::string>>(name); }
  /// True when name holds a value.
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  /// All values by name.
  const std::map<std::string, OptionValue>& values() const { return values_; }

 private:
  std::map<std::string, OptionValue> values_;
};

}  // namespace mmdebias::sdk
