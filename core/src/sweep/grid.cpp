// The grid of a sweep: words split into fixed overrides and axes, seed lists, configurations and their names.
#include <cctype>
#include <set>

#include "common/sha256.hpp"
#include "mmdebias/core/errors.hpp"
#include "mmdebias/core/sweep.hpp"

namespace mmdebias::core {
namespace {

// "a,b,[1,2],'x,y'" -> a | b | [1,2] | 'x,y': Hydra's convention, so a YAML flow list is one value.
std::vector<std::string> split_top_level(const std::string& text, const std::string& word) {
  std::vector<std::string> parts(1);
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == ',' && depth == 0) {
      parts.emplace_back();
      continue;
    }
    parts.back() += c;
  }
  if (quote || depth) throw InputError("sweep: '" + word + "': an unclosed " + (quote ? "quote" : "bracket"));
  for (const std::string& p : parts)
    if (p.empty()) throw InputError("sweep: '" + word + "': an empty value between commas");
  return parts;
}

int64_t parse_seed(const std::string& text, const std::string& all) {
  size_t used = 0;
  int64_t value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < 0)
    throw InputError("--seeds '" + all + "': '" + text + "' is not a seed (a whole number >= 0); write e.g. 0-4 or 0,1,7");
  return value;
}

std::vector<int64_t> parse_seeds(const std::string& text) {
  std::vector<int64_t> seeds;
  for (const std::string& part : split_top_level(text, "--seeds " + text)) {
    const size_t dash = part.find('-', 1);
    if (dash == std::string::npos) {
      seeds.push_back(parse_seed(part, text));
      continue;
    }
    const int64_t first = parse_seed(part.substr(0, dash), text), last = parse_seed(part.substr(dash + 1), text);
    if (last < first) throw InputError("--seeds '" + text + "': the range " + part + " is empty");
    if (last - first >= 10000) throw InputError("--seeds '" + text + "': the range " + part + " holds more than 10000 seeds");
    for (int64_t s = first; s <= last; ++s) seeds.push_back(s);
  }
  std::set<int64_t> seen;
  for (int64_t s : seeds)
    if (!seen.insert(s).second) throw InputError("--seeds '" + text + "': seed " + std::to_string(s) + " is listed twice");
  return seeds;
}

// A name that is one safe path component: other characters become '_', and a long one keeps a digest.
std::string directory_name(const std::string& name) {
  std::string safe;
  for (char c : name) safe += (std::isalnum(static_cast<unsigned char>(c)) || std::string("._=,+-").find(c) != std::string::npos) ? c : '_';
  if (safe.front() == '.') safe.front() = '_';  // never hidden, never "." or ".."
  constexpr size_t kLongest = 120;
  if (safe.size() > kLongest) safe = safe.substr(0, kLongest - 13) + "-" + sha256_bytes(name.data(), name.size()).substr(0, 12);
  return safe;
}

}  // namespace

SweepGrid parse_sweep_words(const std::filesystem::path& manifest, const std::vector<std::string>& words, const std::string& seeds,
                            const std::filesystem::path& arms_file) {
  SweepGrid grid;
  grid.manifest = manifest;
  std::set<std::string> keys, armed;
  if (!arms_file.empty()) {
    grid.arms_file = arms_file;
    grid.axes.push_back(parse_arms_file(arms_file));
    for (const auto& set : grid.axes.back().sets)
      for (const Override& o : set) armed.insert(o.path);
  }
  for (const Override& o : parse_overrides(words)) {
    if (o.path == "run.seed") throw InputError("sweep: '" + o.text + "': seeds are given with --seeds (e.g. --seeds 0-4), not run.seed");
    if (o.path == "run.out" || o.path == "run.name")
      throw InputError("sweep: '" + o.text + "': each run's directory is <--out>/<configuration>/seed-<seed>; " + o.path + " is not used");
    if (!keys.insert(o.path).second) throw InputError("sweep: the key " + o.path + " is given twice; give its values as one " + o.path + "=v1,v2");
    if (armed.count(o.path)) throw InputError("sweep: '" + o.text + "': " + o.path + " is set by an arm of " + arms_file.string() + "; set it in the arms or here, not both");
    std::vector<std::string> values = split_top_level(o.value, o.text);
    if (values.size() == 1) {
      grid.fixed.push_back(o);
      continue;
    }
    std::set<std::string> seen;
    for (const std::string& v : values)
      if (!seen.insert(v).second) throw InputError("sweep: '" + o.text + "': the value " + v + " is listed twice");
    SweepAxis axis{o.path, values, {}};
    for (const std::string& v : values) axis.sets.push_back({{o.path, v, o.path + "=" + v}});
    grid.axes.push_back(std::move(axis));
  }
  grid.seeds = parse_seeds(seeds);
  grid.seeds_text = seeds;
  return grid;
}

std::vector<SweepConfig> expand_grid(const SweepGrid& grid) {
  std::vector<SweepConfig> configs(1);
  for (const SweepAxis& axis : grid.axes) {
    std::vector<SweepConfig> next;
    for (const SweepConfig& c : configs)
      for (size_t i = 0; i < axis.values.size(); ++i) {
        SweepConfig more = c;
        more.name += (more.name.empty() ? "" : ",") + axis.key + "=" + axis.values[i];
        more.choices.emplace_back(axis.key, axis.values[i]);
        more.overrides.insert(more.overrides.end(), axis.sets[i].begin(), axis.sets[i].end());
        next.push_back(std::move(more));
      }
    configs = std::move(next);
  }
  std::set<std::string> dirs;
  for (SweepConfig& c : configs) {
    if (c.name.empty()) c.name = "base";
    c.dir = directory_name(c.name);
    // Two names made safe alike ("a/b", "a_b") get distinct directories.
    for (int n = 2; !dirs.insert(c.dir).second; ++n) c.dir = directory_name(c.name) + "-" + std::to_string(n);
  }
  return configs;
}

size_t find_baseline(const std::vector<SweepConfig>& configs, const std::vector<SweepAxis>& axes, const std::string& baseline) {
  std::vector<size_t> matches;
  for (size_t c = 0; c < configs.size(); ++c)
    if (configs[c].name == baseline) return c;
  std::vector<std::pair<std::string, std::string>> wanted;
  for (const std::string& pair : split_top_level(baseline, "--baseline " + baseline)) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos) throw InputError("--baseline '" + baseline + "': expected key=value naming a swept value (e.g. --baseline " + (axes.empty() ? std::string("key=value") : axes[0].key + "=" + axes[0].values[0]) + ")");
    const std::string key = pair.substr(0, eq);
    bool swept = false;
    for (const SweepAxis& a : axes) swept = swept || a.key == key;
    if (!swept) throw InputError("--baseline '" + baseline + "': " + key + " is not swept (the swept keys are the words with several values)");
    wanted.emplace_back(key, pair.substr(eq + 1));
  }
  for (size_t c = 0; c < configs.size(); ++c) {
    bool all = true;
    for (const auto& choice : wanted) {
      bool found = false;
      for (const auto& mine : configs[c].choices) found = found || mine == choice;
      all = all && found;
    }
    if (all) matches.push_back(c);
  }
  if (matches.size() == 1) return matches[0];
  std::vector<std::string> names;
  for (const SweepConfig& c : configs) names.push_back(c.name);
  std::string listed;
  for (const std::string& n : names) listed += "\n  " + n;
  throw InputError("--baseline '" + baseline + "' names " + (matches.empty() ? "no configuration" : std::to_string(matches.size()) + " configurations") +
                   " of the grid; name one of them by enough key=value pairs:" + listed);
}

}  // namespace mmdebias::core
