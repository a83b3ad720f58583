#include "manifest/yaml_options.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/text.hpp"

namespace mmdebias::core {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::optional<bool> read_bool(const std::string& s) {
  std::string l = lower(s);
  if (l == "true" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "no" || l == "off") return false;
  return std::nullopt;
}

std::optional<int64_t> read_int(const std::string& s) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || b == e) return std::nullopt;
  return v;
}

// YAML's spellings of infinity and NaN (and a decimal past a double's range, e.g. 1e400): every option is a
// finite number, so these are refused with their own reason rather than read as infinities.
bool is_non_finite_spelling(const std::string& s) {
  const std::string l = lower(s);
  if (l == ".inf" || l == "+.inf" || l == "-.inf" || l == ".nan") return true;
  if (s.empty() || s.find_first_not_of("0123456789+-.eE") != std::string::npos) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && !std::isfinite(v);
}

std::optional<double> read_float(const std::string& s) {
  if (s.empty() || is_non_finite_spelling(s)) return std::nullopt;
  // Decimal numbers only: no hex floats, no "nan"/"inf" words.
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E'))
      return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

sdk::OptionType element_type(sdk::OptionType t) {
  switch (t) {
    case sdk::OptionType::BoolList: return sdk::OptionType::Bool;
    case sdk::OptionType::IntList: return sdk::OptionType::Int;
    case sdk::OptionType::FloatList: return sdk::OptionType::Float;
    case sdk::OptionType::StringList: return sdk::OptionType::String;
    case sdk::OptionType::EnumList: return sdk::OptionType::Enum;
    default: return t;
  }
}

// One scalar of a non-list type; nullopt when it does not read as that type.
std::optional<sdk::OptionValue> read_scalar(const YAML::Node& node, sdk::OptionType type) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& s = node.Scalar();
  switch (type) {
    case sdk::OptionType::Bool:
      if (auto v = read_bool(s)) return sdk::OptionValue(*v);
      return std::nullopt;
    case sdk::OptionType::Int:
      if (auto v = read_int(s)) return sdk::OptionValue(*v);
      return std::nullopt;
    case sdk::OptionType::Float:
      if (auto v = read_float(s)) return sdk::OptionValue(*v);
      return std::nullopt;
    default:
      return sdk::OptionValue(s);
  }
}

}  // namespace

std::string describe_yaml(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing (null)";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  return "'" + excerpt(node.Scalar()) + "'";
}

std::optional<sdk::OptionValue> option_from_yaml(const YAML::Node& node, sdk::OptionType type, std::string& problem) {
  const std::string expected = std::string("expected ") + sdk::option_type_name(type);
  const auto non_finite = [](const YAML::Node& n) { return n.IsScalar() && is_non_finite_spelling(n.Scalar()); };
  if (!sdk::is_list(type)) {
    if (auto v = read_scalar(node, type)) return v;
    problem = expected + ", got " + describe_yaml(node) + (non_finite(node) ? " (not a finite number)" : "");
    return std::nullopt;
  }
  if (!node.IsSequence()) {
    problem = expected + ", got " + describe_yaml(node);
    return std::nullopt;
  }
  const sdk::OptionType et = element_type(type);
  std::vector<sdk::OptionValue> items;
  for (size_t i = 0; i < node.size(); ++i) {
    auto v = read_scalar(node[i], et);
    if (!v) {
      problem = expected + ", but element " + std::to_string(i) + " is " + describe_yaml(node[i]) +
                (non_finite(node[i]) ? " (not a finite number)" : "");
      return std::nullopt;
    }
    items.push_back(*v);
  }
  auto collect = [&](auto proto) -> sdk::OptionValue {
    using T = decltype(proto);
    std::vector<T> out;
    for (const auto& it : items) out.push_back(std::get<T>(it));
    return out;
  };
  switch (et) {
    case sdk::OptionType::Bool: return collect(bool{});
    case sdk::OptionType::Int: return collect(int64_t{});
    case sdk::OptionType::Float: return collect(double{});
    default: return collect(std::string{});
  }
}

std::string format_double(double v) {
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  if (std::isnan(v)) return ".nan";
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

YAML::Node option_to_yaml(const sdk::OptionValue& value) {
  return std::visit(
      [](const auto& v) -> YAML::Node {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return YAML::Node(v ? "true" : "false");
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return YAML::Node(std::to_string(v));
        } else if constexpr (std::is_same_v<T, double>) {
          return YAML::Node(format_double(v));
        } else if constexpr (std::is_same_v<T, std::string>) {
          return YAML::Node(v);
        } else {
          YAML::Node seq(YAML::NodeType::Sequence);
          for (size_t i = 0; i < v.size(); ++i) {
            using E = typename T::value_type;
            seq.push_back(option_to_yaml(sdk::OptionValue(static_cast<E>(v[i]))));
          }
          seq.SetStyle(YAML::EmitterStyle::Flow);
          return seq;
        }
      },
      value);
}

}  // namespace mmdebias::core
