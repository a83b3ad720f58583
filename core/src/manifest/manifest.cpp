#include "mmdebias/core/manifest.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "manifest/text_checks.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : path) {
    if (c == '.') { parts.push_back(cur); cur.clear(); }
    else cur += c;
  }
  parts.push_back(cur);
  return parts;
}

// True when prefix equals path or is an ancestor of it ("a.b" of "a.b.c", not of "a.bc").
bool is_prefix_path(const std::string& prefix, const std::string& path) {
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '.';
}

std::string override_label(const Override& o) { return "<override '" + o.text + "'>"; }

YAML::Node parse_override_value(const Override& o) {
  if (o.value.empty()) return YAML::Node(std::string());
  check_manifest_size(o.value.size(), override_label(o));
  try {
    YAML::Node value = YAML::Load(o.value);
    check_quotes_closed(o.value, value, override_label(o));
    return value;
  } catch (const YAML::Exception& e) {
    throw InputError(override_label(o) + ": " + o.path + ": YAML syntax error in the value: " + e.msg);
  }
}

void apply_override(YAML::Node& root, const Override& o) {
  YAML::Node value = parse_override_value(o);
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  std::vector<std::string> parts = split_path(o.path);
  YAML::Node cur;
  cur.reset(root);
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& seg = parts[i];
    const bool last = i + 1 == parts.size();
    std::string here = walked.empty() ? seg : walked + "." + seg;
    if (cur.IsSequence()) {
      size_t idx = 0;
      auto [p, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
      if (ec != std::errc() || p != seg.data() + seg.size())
        throw InputError(override_label(o) + ": " + here + ": '" + walked + "' is a list; use an element index");
      if (idx >= cur.size())
        throw InputError(override_label(o) + ": " + here + ": index " + seg + " is out of range (the list has " +
                         std::to_string(cur.size()) + " elements)");
      if (last) {
        cur[idx] = value;
      } else {
        YAML::Node next = cur[idx];
        if (next.IsNull()) { cur[idx] = YAML::Node(YAML::NodeType::Map); next.reset(cur[idx]); }
        cur.reset(next);
      }
    } else if (cur.IsMap() || cur.IsNull()) {
      if (last) {
        cur[seg] = value;
      } else {
        std::optional<YAML::Node> child = yaml_child(cur, seg);
        if (!child || child->IsNull()) cur[seg] = YAML::Node(YAML::NodeType::Map);
        YAML::Node next = cur[seg];
        cur.reset(next);
      }
    } else {
      throw InputError(override_label(o) + ": " + here + ": '" + walked + "' holds a single value, not a map or list");
    }
    walked = here;
  }
}

// The manifest file's text, or an InputError that says why not: missing, a directory, unreadable, too large.
std::string read_manifest_text(const std::filesystem::path& file) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (status.type() == std::filesystem::file_type::not_found)
    throw InputError(file.string() + ": no such manifest file");
  if (status.type() == std::filesystem::file_type::directory)
    throw InputError(file.string() + ": is a directory; give the manifest file (a .yaml file) instead");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string() + ": cannot read the manifest: " + std::strerror(errno));
  std::string text(kMaxManifestBytes + 1, '\0');  // read at most one byte past the limit, whatever the file claims
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw InputError(file.string() + ": cannot read the manifest: " + std::strerror(errno));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxManifestBytes) {
    const auto bytes = std::filesystem::file_size(file, ec);
    check_manifest_size(ec ? text.size() : static_cast<size_t>(bytes), file.string());
  }
  return text;
}

Manifest make_manifest(const std::string& text, const std::string& display_name, const std::filesystem::path& path,
                       const std::vector<Override>& overrides) {
  check_manifest_size(text.size(), display_name);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    int col = e.mark.is_null() ? 1 : e.mark.column + 1;
    throw InputError(display_name + ":" + std::to_string(line) + ":" + std::to_string(col) +
                     ": YAML syntax error: " + e.msg);
  }
  check_quotes_closed(text, root, display_name);
  for (const Override& o : overrides) apply_override(root, o);
  return Manifest(display_name, path, root, overrides);
}

}  // namespace

std::vector<Override> parse_overrides(const std::vector<std::string>& args) {
  std::vector<Override> out;
  for (const std::string& arg : args) {
    auto eq = arg.find('=');
    if (eq == std::string::npos)
      throw InputError("override '" + arg + "': expected key.path=value (e.g. train.epochs=10)");
    Override o{arg.substr(0, eq), arg.substr(eq + 1), arg};
    if (o.path.empty()) throw InputError("override '" + arg + "': the key before '=' is empty");
    for (const std::string& seg : split_path(o.path))
      if (seg.empty()) throw InputError("override '" + arg + "': the key '" + o.path + "' has an empty part");
    out.push_back(std::move(o));
  }
  return out;
}

Manifest::Manifest(std::string display_name, std::filesystem::path path, YAML::Node root, std::vector<Override> overrides)
    : display_name_(std::move(display_name)), path_(std::move(path)), root_(root), overrides_(std::move(overrides)) {}

std::filesystem::path Manifest::base_directory() const {
  if (path_.empty()) return std::filesystem::current_path();
  std::filesystem::path dir = std::filesystem::absolute(path_).parent_path();
  return dir;
}

const Override* Manifest::override_for(const std::string& key_path, const YAML::Node& node) const {
  // The last override wins, as it does when the overrides are applied.
  for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it)
    if (is_prefix_path(it->path, key_path)) return &*it;
  if (!node.IsDefined() || node.Mark().is_null()) {
    // A map the override created on its way to its key.
    for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it)
      if (key_path.empty() || is_prefix_path(key_path, it->path)) return &*it;
  }
  return nullptr;
}

Location Manifest::locate(const std::string& key_path, const YAML::Node& node) const {
  if (const Override* o = override_for(key_path, node)) {
    return {override_label(*o), -1, static_cast<int>(o - overrides_.data())};
  }
  int line = 1, col = 1;
  if (node.IsDefined() && !node.Mark().is_null()) {
    line = node.Mark().line + 1;
    col = node.Mark().column + 1;
  }
  return {display_name_ + ":" + std::to_string(line) + ":" + std::to_string(col), line, col};
}

Manifest load_manifest(const std::filesystem::path& file, const std::vector<Override>& overrides) {
  return make_manifest(read_manifest_text(file), file.string(), file, overrides);
}

Manifest load_manifest_text(const std::string& text, const std::string& display_name,
                            const std::vector<Override>& overrides) {
  return make_manifest(text, display_name, {}, overrides);
}

std::optional<YAML::Node> yaml_child(const YAML::Node& map, const std::string& key) {
  if (!map.IsDefined() || !map.IsMap()) return std::nullopt;
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  return std::nullopt;
}

std::optional<YAML::Node> yaml_key_node(const YAML::Node& map, const std::string& key) {
  if (!map.IsDefined() || !map.IsMap()) return std::nullopt;
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
  return std::nullopt;
}

}  // namespace mmdebias::core
