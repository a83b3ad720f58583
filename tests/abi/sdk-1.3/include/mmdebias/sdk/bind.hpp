// Options declared once: each option's name, field, default, doc and bounds in one line, bound to a typed struct.
//
//   struct Config {
//     int64_t dim = 0;
//     std::string pool;
//     static void declare(sdk::OptionBinder<Config>& b) {
//       b.option("dim", &Config::dim, 8, "Feature width").at_least(1);
//       b.choice("pool", &Config::pool, "mean", {"mean", "cls"}, "Pooling");
//     }
//   };
//   decl.schema = sdk::schema_of<Config>();              // what the host validates and `describe` shows
//   Config c = sdk::bind<Config>(args.options);         // in the factory: the filled struct
//
// The option's type follows the field's C++ type at compile time: bool -> bool, any integer -> int (an
// int or unsigned field is filled through a checked cast), float/double -> float, std::string -> string
// (enum with choice()), a C++ enum -> enum with choice() and a table of spellings, std::vector of those ->
// the list types. Header-only: it builds an ordinary Schema and reads ordinary Options.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mmdebias/sdk/options.hpp"

namespace mmdebias::sdk {

/// The spelling of each value of a C++ enum option, in the order `describe` lists them: {{"mean", Pool::Mean}, ...}.
template <class E>
using ChoiceTable = std::vector<std::pair<std::string, E>>;

/// How the binder maps C++ types to options; not part of the SDK's promise.
namespace bind_detail {

/// std::vector, and its element type.
template <class T> struct is_vector : std::false_type {};
template <class T, class A> struct is_vector<std::vector<T, A>> : std::true_type { using element = T; };

/// The element type of a vector, else T.
template <class T, class = void> struct element { using type = T; };
template <class T> struct element<T, std::enable_if_t<is_vector<T>::value>> { using type = typename is_vector<T>::element; };
template <class T> using element_t = typename element<T>::type;

/// The field type F (a member pointer of Config or a base, or an accessor) names; void when neither.
template <class F, class Config, class = void> struct field { using type = void; };
template <class M, class C, class Config>
struct field<M C::*, Config, std::enable_if_t<std::is_base_of_v<C, Config> && !std::is_function_v<M>>> {
  using type = M;
};
template <class F, class Config>
struct field<F, Config, std::enable_if_t<!std::is_member_pointer_v<F> &&
                                         std::is_lvalue_reference_v<std::invoke_result_t<F, Config&>>>> {
  using type = std::remove_reference_t<std::invoke_result_t<F, Config&>>;
};
template <class F, class Config> using field_t = typename field<F, Config>::type;

/// The field a member pointer or accessor names inside c.
template <class Config, class F>
auto& access(Config& c, const F& f) {
  if constexpr (std::is_member_object_pointer_v<F>) return c.*f;
  else return f(c);
}

/// Integers other than bool (option type int).
template <class T> constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;
/// The element types option() and required() accept.
template <class T> constexpr bool is_plain_v =
    std::is_same_v<T, bool> || is_int_v<T> || std::is_floating_point_v<T> || std::is_same_v<T, std::string>;

/// The option type of a field of type M (a list type when M is a vector).
template <class M>
OptionType type_of(bool is_enum) {
  using E = element_t<M>;
  const bool list = is_vector<M>::value;
  if (is_enum) return list ? OptionType::EnumList : OptionType::Enum;
  if constexpr (std::is_same_v<E, bool>) return list ? OptionType::BoolList : OptionType::Bool;
  else if constexpr (is_int_v<E>) return list ? OptionType::IntList : OptionType::Int;
  else if constexpr (std::is_floating_point_v<E>) return list ? OptionType::FloatList : OptionType::Float;
  else return list ? OptionType::StringList : OptionType::String;
}

/// int64_t -> I, throwing when the value does not fit.
template <class I>
I narrow(int64_t v, const std::string& name) {
  if constexpr (std::is_same_v<I, int64_t>) {
    return v;
  } else {
    const bool fits = std::is_signed_v<I>
                          ? (v >= static_cast<int64_t>(std::numeric_limits<I>::min()) &&
                             v <= static_cast<int64_t>(std::numeric_limits<I>::max()))
                          : (v >= 0 && static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<I>::max()));
    if (!fits)
      throw std::invalid_argument("option '" + name + "': " + std::to_string(v) + " does not fit the component's " +
                                  (std::is_signed_v<I> ? "signed " : "unsigned ") + std::to_string(8 * sizeof(I)) +
                                  "-bit integer");
    return static_cast<I>(v);
  }
}

/// A default as the schema stores it.
template <class E>
auto stored(const E& v, const std::string& name) {
  if constexpr (is_int_v<E>) {
    if constexpr (std::is_unsigned_v<E> && sizeof(E) >= sizeof(int64_t))
      if (v > static_cast<E>(std::numeric_limits<int64_t>::max()))
        throw std::logic_error("option '" + name + "': default does not fit a 64-bit signed integer");
    return static_cast<int64_t>(v);
  } else if constexpr (std::is_floating_point_v<E>) {
    return static_cast<double>(v);
  } else {
    return v;
  }
}

/// The type stored() gives for E.
template <class E>
using stored_t = decltype(stored(std::declval<const E&>(), std::declval<const std::string&>()));

/// A field value (a default) as an OptionValue.
template <class M>
OptionValue to_value(const M& v, const std::string& name) {
  if constexpr (is_vector<M>::value) {
    std::vector<stored_t<element_t<M>>> out;
    for (const auto& e : v) out.push_back(stored(static_cast<element_t<M>>(e), name));
    return out;
  } else {
    return stored(v, name);
  }
}

/// An OptionValue as a field of type M; throws when it holds another type or does not fit.
template <class M>
M from_value(const OptionValue& value, const std::string& name) {
  using S = std::conditional_t<is_vector<M>::value, std::vector<stored_t<element_t<M>>>, stored_t<M>>;
  const S* v = std::get_if<S>(&value);
  if (!v) throw std::invalid_argument("option '" + name + "' does not hold the type its field was declared with");
  if constexpr (is_vector<M>::value) {
    M out;
    for (const auto& e : *v) {
      if constexpr (is_int_v<element_t<M>>) out.push_back(narrow<element_t<M>>(e, name));
      else out.push_back(static_cast<element_t<M>>(e));
    }
    return out;
  } else if constexpr (is_int_v<M>) {
    return narrow<M>(*v, name);
  } else {
    return static_cast<M>(*v);
  }
}

/// "a, b or c".
inline std::string spelled(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return s;
}

}  // namespace bind_detail

/// Collects the options of Config: the Schema the host reads, and how to fill each field from Options.
template <class Config>
class OptionBinder {
 public:
  /// Builder for the option just declared: .range(lo, hi), .at_least(lo), .required().
  using Ref = Schema::Ref;
  /// The type of the field a member pointer (of Config or a base of it) or an accessor `M& (Config&)` names.
  template <class Field>
  using field_type = bind_detail::field_t<Field, Config>;

  /// Declares option name stored in field, with default def and a one-line doc; its type follows the field's.
  template <class Field, class M = field_type<Field>>
  Ref option(std::string name, Field field, const field_type<Field>& def, std::string doc) {
    check_plain<M>();
    OptionValue value = bind_detail::to_value<M>(def, name);
    return add<M>(std::move(name), field, std::move(value), {}, std::move(doc), nullptr);
  }

  /// Declares option name stored in field with no default: the manifest must give it.
  template <class Field, class M = field_type<Field>>
  Ref required(std::string name, Field field, std::string doc) {
    check_plain<M>();
    return add<M>(std::move(name), field, std::nullopt, {}, std::move(doc), nullptr);
  }

  /// Declares an enum option (an enum list when the field is a vector) stored as strings; def is among choices.
  template <class Field, class M = field_type<Field>,
            std::enable_if_t<std::is_same_v<bind_detail::element_t<M>, std::string>, int> = 0>
  Ref choice(std::string name, Field field, const field_type<Field>& def, std::vector<std::string> choices,
             std::string doc) {
    if constexpr (bind_detail::is_vector<M>::value) {
      for (const auto& d : def) check_choice(name, d, choices);
    } else {
      check_choice(name, def, choices);
    }
    return add<M>(std::move(name), field, OptionValue(def), std::move(choices), std::move(doc), nullptr);
  }

  /// Declares an enum option (or enum list) stored as a C++ enum; table gives each value's spelling.
  template <class Field, class M = field_type<Field>, class E = bind_detail::element_t<M>,
            std::enable_if_t<std::is_enum_v<E>, int> = 0>
  Ref choice(std::string name, Field field, const field_type<Field>& def, ChoiceTable<E> table, std::string doc) {
    std::vector<std::string> choices;
    for (const auto& [spelling, value] : table) choices.push_back(spelling);
    OptionValue value;
    if constexpr (bind_detail::is_vector<M>::value) {
      std::vector<std::string> names;
      for (E d : def) names.push_back(spelling_of(name, d, table));
      value = std::move(names);
    } else {
      value = spelling_of(name, def, table);
    }
    auto parse = [table, name](const std::string& s) {
      for (const auto& [spelling, v] : table)
        if (spelling == s) return v;
      std::vector<std::string> names;
      for (const auto& entry : table) names.push_back(entry.first);
      throw std::invalid_argument("option '" + name + "': unknown value '" + s + "' (choose " +
                                  bind_detail::spelled(names) + ")");
    };
    return add<M>(std::move(name), field, std::move(value), std::move(choices), std::move(doc), std::move(parse));
  }

  /// The declared options, in declaration order.
  const Schema& schema() const { return schema_; }

  /// Sets every declared field of c from options; an option absent from options takes its default.
  void fill(const Options& options, Config& c) const {
    for (const auto& f : fills_) f(options, c);
  }

 private:
  template <class M>
  static void check_plain() {
    static_assert(bind_detail::is_plain_v<bind_detail::element_t<M>>,
                  "an option field is bool, an integer, float/double, std::string or a std::vector of those "
                  "(a C++ enum or a string enum: use choice())");
  }

  static void check_choice(const std::string& name, const std::string& v, const std::vector<std::string>& choices) {
    for (const auto& c : choices)
      if (c == v) return;
    throw std::logic_error("option '" + name + "': default '" + v + "' is not among its choices");
  }

  template <class E>
  static std::string spelling_of(const std::string& name, E v, const ChoiceTable<E>& table) {
    for (const auto& [spelling, value] : table)
      if (value == v) return spelling;
    throw std::logic_error("option '" + name + "': its default has no spelling in the choice table");
  }

  template <class M, class Field, class Parse>
  Ref add(std::string name, Field field, std::optional<OptionValue> def, std::vector<std::string> choices,
          std::string doc, Parse parse) {
    static_assert(!std::is_void_v<M>,
                  "the field must be a data member pointer of Config (or of a base of Config), or a callable "
                  "taking Config& and returning a reference to the field");
    static_assert(!std::is_const_v<M>, "an option field must not be const");
    if (schema_.find(name)) throw std::logic_error("option '" + name + "' is declared twice");
    const bool is_enum = !choices.empty() || std::is_enum_v<bind_detail::element_t<M>>;
    OptionSpec spec;
    spec.name = name;
    spec.type = bind_detail::type_of<M>(is_enum);
    spec.value = std::move(def);
    spec.choices = std::move(choices);
    spec.doc = std::move(doc);
    fills_.push_back([name, field, parse, fallback = spec.value](const Options& options, Config& c) {
      (void)parse;  // used by enum fields only
      const auto& values = options.values();
      auto it = values.find(name);
      const OptionValue* v = it != values.end() ? &it->second : fallback ? &*fallback : nullptr;
      if (!v) throw std::invalid_argument("option '" + name + "' is required and was not given");
      auto& target = bind_detail::access(c, field);
      if constexpr (std::is_enum_v<bind_detail::element_t<M>>) {
        if constexpr (bind_detail::is_vector<M>::value) {
          M out;
          for (const auto& s : bind_detail::from_value<std::vector<std::string>>(*v, name)) out.push_back(parse(s));
          target = std::move(out);
        } else {
          target = parse(bind_detail::from_value<std::string>(*v, name));
        }
      } else {
        target = bind_detail::from_value<M>(*v, name);
      }
    });
    return schema_.add(std::move(spec));
  }

  Schema schema_;
  std::vector<std::function<void(const Options&, Config&)>> fills_;
};

/// The binder of Config as declare (by default Config::declare) fills it.
template <class Config>
OptionBinder<Config> binder_of(void (*declare)(OptionBinder<Config>&) = &Config::declare) {
  OptionBinder<Config> b;
  declare(b);
  return b;
}

/// The Schema of Config's options (by default as Config::declare declares them), for ComponentDecl::schema.
template <class Config>
Schema schema_of(void (*declare)(OptionBinder<Config>&) = &Config::declare) {
  return binder_of<Config>(declare).schema();
}

/// A Config whose declared fields hold the options' values (defaults where options lacks one); the other
/// fields keep their initializers, for the factory to compute after binding.
template <class Config>
Config bind(const Options& options, void (*declare)(OptionBinder<Config>&) = &Config::declare) {
  Config c{};
  binder_of<Config>(declare).fill(options, c);
  return c;
}

}  // namespace mmdebias::sdk
