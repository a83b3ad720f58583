#include "manifest/option_values.hpp"

#include <sstream>

#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

void check_number(const sdk::OptionSpec& spec, double v, std::vector<std::string>& problems) {
  if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
    std::string range = spec.min && spec.max ? "[" + format_number(*spec.min) + ", " + format_number(*spec.max) + "]"
                        : spec.min         ? ">= " + format_number(*spec.min)
                                           : "<= " + format_number(*spec.max);
    problems.push_back("value " + format_number(v) + " is out of range " + range);
  }
}

void check_choice(const sdk::OptionSpec& spec, const std::string& v, std::vector<std::string>& problems) {
  for (const auto& c : spec.choices) if (c == v) return;
  problems.push_back("'" + v + "' is not one of: " + join(spec.choices) + did_you_mean(v, spec.choices));
}

// Which variant alternative each option type holds.
size_t expected_index(sdk::OptionType t) {
  switch (t) {
    case sdk::OptionType::Bool: return 0;
    case sdk::OptionType::Int: return 1;
    case sdk::OptionType::Float: return 2;
    case sdk::OptionType::String:
    case sdk::OptionType::Enum: return 3;
    case sdk::OptionType::BoolList: return 4;
    case sdk::OptionType::IntList: return 5;
    case sdk::OptionType::FloatList: return 6;
    case sdk::OptionType::StringList:
    case sdk::OptionType::EnumList: return 7;
  }
  return 99;
}

}  // namespace

std::vector<std::string> check_option_value(const sdk::OptionSpec& spec, const sdk::OptionValue& value) {
  std::vector<std::string> problems;
  if (value.index() != expected_index(spec.type)) {
    problems.push_back(std::string("expected ") + sdk::option_type_name(spec.type));
    return problems;
  }
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
          check_number(spec, static_cast<double>(v), problems);
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (spec.type == sdk::OptionType::Enum) check_choice(spec, v, problems);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>>) {
          for (auto x : v) check_number(spec, static_cast<double>(x), problems);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          if (spec.type == sdk::OptionType::EnumList) for (const auto& x : v) check_choice(spec, x, problems);
        }
      },
      value);
  return problems;
}

sdk::Options complete_options(const sdk::Schema& schema, std::map<std::string, sdk::OptionValue> given) {
  std::vector<std::string> names, problems;
  for (const auto& s : schema.specs()) names.push_back(s.name);
  for (const auto& kv : given) {
    const sdk::OptionSpec* spec = schema.find(kv.first);
    if (!spec) {
      problems.push_back("unknown option '" + kv.first + "'" + did_you_mean(kv.first, names));
      continue;
    }
    for (const auto& p : check_option_value(*spec, kv.second)) problems.push_back("option '" + kv.first + "': " + p);
  }
  for (const auto& s : schema.specs()) {
    if (given.count(s.name)) continue;
    if (!s.value) problems.push_back("option '" + s.name + "' is required");
    else given.emplace(s.name, *s.value);
  }
  if (!problems.empty()) throw InputErrors(problems);
  return sdk::Options(std::move(given));
}

std::string format_option_value(const sdk::OptionValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return format_number(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else {
          std::string out = "[";
          for (size_t i = 0; i < v.size(); ++i) {
            if (i) out += ", ";
            if constexpr (std::is_same_v<T, std::vector<bool>>) out += v[i] ? "true" : "false";
            else if constexpr (std::is_same_v<T, std::vector<std::string>>) out += v[i];
            else if constexpr (std::is_same_v<T, std::vector<double>>) out += format_number(v[i]);
            else out += std::to_string(v[i]);
          }
          return out + "]";
        }
      },
      value);
}

}  // namespace mmdebias::core
